"""The speech pages through a running hub: search, a call's dialogue with its recording, flagged calls, roles."""

from __future__ import annotations

import html
from datetime import UTC, datetime

import pytest

from crm_core.models import Call, Recording, Transcript
from crm_core.models.speech import SpeechFlag, SpeechWord
from speech import search
from tests.speech.conftest import ANSWERED
from tests.web.conftest import hub_sections, running  # noqa: F401 - fixtures

WORDS = [("agent", "Добрый", 0.2), ("agent", "день", 0.5), ("client", "договор", 1.1), ("client", "готов?", 1.4)]


async def seed_call(hub, agent_id: int, *, caller_name: str = "Иван") -> int:  # noqa: ANN001
    search.install(hub.database.engine)
    async with hub.database.sessions() as s, s.begin():
        call = Call(uniqueid=f"u-{agent_id}-{caller_name}", direction="inbound", caller="+79161234567",
                    caller_name=caller_name, agent_id=agent_id, started_at=datetime(2026, 11, 3, 9, tzinfo=UTC))
        s.add(call)
        await s.flush()
        rec = Recording(call_id=call.id, path=str(ANSWERED), channels=2)
        s.add(rec)
        await s.flush()
        body = "Добрый день\nдоговор готов?"
        tr = Transcript(recording_id=rec.id, status="done", text=body)
        s.add(tr)
        await s.flush()
        for i, (speaker, word, at) in enumerate(WORDS):
            s.add(SpeechWord(transcript_id=tr.id, position=i, speaker=speaker, word=word, start_s=at,
                             end_s=at + 0.25, conf=0.9))
        s.add(SpeechFlag(transcript_id=tr.id, call_id=call.id, category="competitors", phrase="договор",
                         heard="договор", at_s=1.1, speaker="client"))
        await search.index_document(s, tr.id, call.id, body)
    return call.id


async def test_an_agent_reads_their_call_as_a_dialogue_and_clicks_words_to_play(running):  # noqa: F811
    users = running.agency.users
    mine = await seed_call(running.hub, users["anna"], caller_name="<b>Пётр</b>")
    theirs = await seed_call(running.hub, users["maria"])
    anna = await running.browser("anna")
    resp, page = await anna.get(f"/calls/{mine}/transcript")
    assert resp.status == 200
    assert 'data-t="1.10"' in page and ">договор</span>" in page and "<audio" in page
    assert page.count('class="turn speaker-agent"') == 1 and page.count('class="turn speaker-client"') == 1
    assert "Агент" in page and "Клиент" in page and "/static/speech/speech.js" in page
    assert "<b>Пётр</b>" not in page and html.escape("<b>Пётр</b>") in page
    assert "модель распознавания речи не настроена" in page  # no model configured in this hub
    async with anna.http.get(f"{anna.base}/calls/{mine}/recordings/{mine}") as audio:
        assert audio.status == 200 and audio.headers["Content-Type"] == "audio/wav"
        assert await audio.read() == ANSWERED.read_bytes()
    resp, _ = await anna.get(f"/calls/{theirs}/transcript")
    assert resp.status == 404
    resp, _ = await anna.get(f"/calls/{theirs}/recordings/{theirs}")
    assert resp.status == 404


async def test_search_page_finds_word_forms_within_each_persons_reach(running):  # noqa: F811
    users = running.agency.users
    anna_call = await seed_call(running.hub, users["anna"])
    oleg_call = await seed_call(running.hub, users["oleg"], caller_name="Олег")
    await seed_call(running.hub, users["maria"], caller_name="Мария")
    anna = await running.browser("anna")
    _, page = await anna.get("/transcripts?q=договора")
    assert f'data-call="{anna_call}"' in page and f'data-call="{oleg_call}"' not in page
    assert "<mark>договор</mark>" in page
    boss = await running.browser("boss")  # the sales department's head: anna and oleg, not maria
    _, page = await boss.get("/transcripts?q=договором")
    assert page.count('class="hit"') == 2
    _, page = await boss.get(f"/transcripts?q=договор&agent={users['oleg']}")
    assert page.count('class="hit"') == 1 and f'data-call="{oleg_call}"' in page
    resp, page = await boss.get("/transcripts?q=договор&date_from=вчера")
    assert resp.status == 422 and "ГГГГ-ММ-ДД" in page
    _, page = await boss.get("/transcripts?q=договор&date_from=2026-11-04")
    assert "Ничего не найдено" in page


@pytest.mark.parametrize(("login", "sees"), [("anna", None), ("boss", 2), ("mgr", 1), ("root", 3)])
async def test_flagged_calls_are_listed_for_supervisors_only(running, login, sees):  # noqa: F811
    users = running.agency.users
    for who in ("anna", "oleg", "maria"):
        await seed_call(running.hub, users[who], caller_name=who)
    browser = await running.browser(login)
    resp, page = await browser.get("/speech/flags")
    if sees is None:
        assert resp.status == 403
        return
    assert resp.status == 200 and page.count("<tr data-call=") == sees and "Конкуренты" in page
