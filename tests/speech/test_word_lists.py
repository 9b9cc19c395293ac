"""«Списки слов»: the administrator edits speech analytics' lists row by row (per-field Russian messages), the
running transcription service matches the new phrases at once, the settings journal keeps before and after, and
the lists go out and come back as TOML."""

from __future__ import annotations

from multidict import MultiDict
from sqlalchemy import select

from crm_core.models.settings_audit import SettingChange
from crm_core.models.speech_words import SpeechWordList
from tests.web.conftest import hub_sections, running  # noqa: F401 - the running hub over each database


async def _post(b, path: str, pairs: list[tuple[str, str]]):  # noqa: ANN001, ANN202
    resp = await b.http.post(b.base + path, data=MultiDict([*pairs, ("_csrf", b.csrf)]), allow_redirects=False)
    return resp, await resp.text()


async def test_the_admin_edits_word_lists_and_the_matcher_uses_them_at_once(running):  # noqa: F811
    root = await running.browser("root")
    resp, page = await root.get("/speech/words")
    assert resp.status == 200 and "Списки слов речевой аналитики" in page and "Конкуренты" in page
    resp, page = await _post(root, "/speech/words", [("phrase-rudeness", "дурак"), ("op", "more")])
    assert resp.status == 200 and page.count('name="phrase-rudeness"') == 1 + 3 + 5  # unsaved, more blank rows
    bad = [("phrase-rudeness", "дурак"), ("phrase-rudeness", "Дурак"), ("phrase-competitors", "!!!"),
           ("op", "save")]
    resp, page = await _post(root, "/speech/words", bad)
    assert resp.status == 422 and "исправьте отмеченные поля" in page
    assert 'data-field="phrase-rudeness-1">Эта фраза уже есть в списке' in page
    assert 'data-field="phrase-competitors-0">Во фразе нет ни одного слова' in page
    good = [("phrase-rudeness", "дурак"), ("phrase-rudeness", ""), ("phrase-competitors", "Инком  Недвижимость"),
            ("phrase-required", "агентство недвижимости"), ("op", "save")]
    resp, _ = await _post(root, "/speech/words", good)
    assert resp.status == 303
    matcher = running.hub.connectors["speech"].matcher
    assert {(c, p) for c, p, _ in matcher.phrases} == {("rudeness", "дурак"), ("competitors", "Инком Недвижимость")}
    found = matcher.find([{"word": w, "speaker": "agent", "start": 1.0} for w in ("это", "инкома", "недвижимость")])
    assert [m.category for m in found if m.category == "competitors"] == ["competitors"]
    resp, page = await root.get("/speech/words?saved=1")
    assert "Списки сохранены" in page and 'value="Инком Недвижимость"' in page and "[speech.phrases]" in page
    # TOML: a bad text is refused with the reason, a good one replaces the lists it names
    resp, page = await _post(root, "/speech/words/import", [("toml", "rudeness = [")])
    assert resp.status == 422 and "Текст не разобран как TOML" in page
    resp, _ = await _post(root, "/speech/words/import", [("toml", '[speech.phrases]\nforbidden = ["бесплатно"]\n')])
    assert resp.status == 303
    async with running.hub.database.sessions() as s:
        stored = {r.category: r.phrases for r in (await s.execute(select(SpeechWordList))).scalars()}
        journal = (await s.execute(select(SettingChange).where(SettingChange.kind == "word_list")
                                   .order_by(SettingChange.id))).scalars().all()
    assert stored["forbidden"] == ["бесплатно"] and stored["rudeness"] == ["дурак"]
    assert [(r.key, r.before, r.after) for r in journal] == [
        ("word_list:rudeness", [], ["дурак"]), ("word_list:competitors", [], ["Инком Недвижимость"]),
        ("word_list:required", [], ["агентство недвижимости"]), ("word_list:forbidden", [], ["бесплатно"])]
    anna = await running.browser("anna")
    resp, _ = await anna.get("/speech/words")
    assert resp.status == 403
