"""Phrase lists catch Russian word forms in stored transcript text (no Russian model is installable here)."""

from __future__ import annotations

from sqlalchemy import select

from crm_core.models import Transcript
from crm_core.models.speech import SpeechFlag
from speech.analytics import PhraseMatcher, words_from_text
from speech.service import SpeechService
from speech.settings import PhraseLists, SpeechSettings
from tests.speech.conftest import ANSWERED, add_call

LISTS = PhraseLists(
    rudeness=["идиот", "заткнись"],
    forbidden=["гарантированная доходность", "без договора"],
    competitors=["Инком", "Миэль"],
    required=["добрый день", "спасибо за звонок"],
)


def timed(speaker: str, text: str, start: float = 0.0) -> list[dict]:
    return [{"word": w, "speaker": speaker, "start": round(start + i * 0.4, 2)} for i, w in enumerate(text.split())]


def test_forms_of_words_and_phrases_are_caught_with_their_time_and_speaker():
    words = timed("agent", "Добрый день. Мы работаем без договоров, гарантированной доходностью", 0.0) + \
        timed("client", "А в Инкоме сказали, что вы идиоты", 10.0)
    found = PhraseMatcher(LISTS).find(words)
    got = {(m.category, m.phrase, m.heard, m.at_s, m.speaker) for m in found}
    assert ("forbidden", "без договора", "без договоров", 1.6, "agent") in got
    assert ("forbidden", "гарантированная доходность", "гарантированной доходностью", 2.4, "agent") in got
    assert ("competitors", "Инком", "инкоме", 10.8, "client") in got
    assert ("rudeness", "идиот", "идиоты", 12.4, "client") in got
    assert ("missing_script", "спасибо за звонок", None, None, "agent") in got
    assert not any(m.phrase == "добрый день" for m in found)  # it was said


def test_ordinary_talk_flags_nothing_and_a_phrase_split_between_speakers_does_not_count():
    words = timed("agent", "Договор пришлю сегодня, спасибо за звонок, добрый день") + \
        timed("client", "гарантированная", 5.0) + timed("agent", "доходность", 6.0)
    assert PhraseMatcher(LISTS).find(words) == []


def test_required_phrases_count_only_for_the_agent_on_a_two_channel_recording():
    words = timed("client", "Добрый день, спасибо за звонок") + timed("agent", "Слушаю", 3.0)
    missing = {m.phrase for m in PhraseMatcher(LISTS).find(words) if m.category == "missing_script"}
    assert missing == {"добрый день", "спасибо за звонок"}


def test_yo_and_case_do_not_matter():
    lists = PhraseLists(rudeness=["ещё раз повторяю"])
    assert [m.heard for m in PhraseMatcher(lists).find(words_from_text("ЕЩЕ РАЗ ПОВТОРЯЮ вам"))] == [
        "еще раз повторяю"]


async def test_a_stored_transcript_without_word_times_is_flagged(db):
    async with db.sessions() as s, s.begin():
        call_id, rec_id = await add_call(s, ANSWERED)
        tr = Transcript(recording_id=rec_id, status="done", text="Клиент: в Миэле дешевле\nАгент: заткнитесь")
        s.add(tr)
        await s.flush()
        tr_id = tr.id
    service = SpeechService(SpeechSettings(phrases=LISTS), db.engine, db.sessions)
    assert await service.reanalyse(tr_id) == 4
    async with db.sessions() as s:
        flags = (await s.execute(select(SpeechFlag.category, SpeechFlag.heard, SpeechFlag.at_s)
                                 .order_by(SpeechFlag.category))).all()
    assert sorted(flags) == sorted([("competitors", "миэле", None), ("missing_script", None, None),
                                    ("missing_script", None, None), ("rudeness", "заткнитесь", None)])
    assert await service.reanalyse(tr_id) == 4  # again: replaced, not doubled
    async with db.sessions() as s:
        assert len((await s.execute(select(SpeechFlag.id))).all()) == 4
