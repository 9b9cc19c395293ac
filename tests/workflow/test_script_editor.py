"""The call-script editor in the page, row by row: add, move and remove steps without JavaScript, per-field
Russian messages, the agent's preview, the text import kept for power users, and every save in the settings
journal (with who, before and after)."""

from __future__ import annotations

import re

import pytest
from multidict import MultiDict
from sqlalchemy import select

from crm_core.models.settings_audit import SettingChange
from crm_core.models.workflow import CallScript
from workflow.script_form import apply_op, validate


async def _post(b, pairs: list[tuple[str, str]]):  # noqa: ANN001, ANN202
    """A form with repeated names (one per step and answer), as the browser posts it, with the CSRF token."""
    resp = await b.http.post(b.base + "/scripts", data=MultiDict([*pairs, ("_csrf", b.csrf)]), allow_redirects=False)
    return resp, await resp.text()


def _step(i: int, sid: str, question: str, fields: str, answers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    out = [("step_id", sid), ("question", question), ("step_fields", fields)]
    for text, nxt in answers:
        out += [(f"answer_text-{i}", text), (f"answer_next-{i}", nxt)]
    return out


def test_rows_move_and_validate_with_a_message_per_field():
    rows = [{"id": "a", "question": "Первый?", "fields": [], "answers": [{"text": "Да", "next": "b"}]},
            {"id": "b", "question": "", "fields": [], "answers": [{"text": "Нет", "next": "nowhere"}]}]
    assert [r["id"] for r in apply_op(rows, "down:0")] == ["b", "a"]
    assert [r["id"] for r in apply_op(rows, "up:0")] == ["a", "b"]  # the first cannot go higher
    assert [r["id"] for r in apply_op(rows, "remove:0")] == ["b"]
    assert len(apply_op(rows, "add_step")) == 3
    _, errors = validate(rows)
    assert errors == {"question-1": "scripts.err.question", "answer-1-0": "scripts.err.next"}
    steps, errors = validate([{"id": "", "question": "Вопрос?", "fields": ["Имя"], "answers": []}])
    assert errors == {} and steps[0]["id"] == "шаг1"


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # scripts are stored on both in test_scripts.py
async def test_the_admin_builds_a_script_in_rows_and_the_journal_keeps_each_save(running):
    root = await running.browser("root")
    resp, page = await root.get("/scripts")
    assert resp.status == 200 and "Вопрос агенту" in page and "Импорт и экспорт текстом" in page
    base = [("id", ""), ("name", "Входящий звонок"), ("queues", "sales"), ("channel", "call")]
    first = _step(0, "start", "Вы звоните по объявлению?", "Имя, Бюджет", [("Да", "district"), ("Нет", "")])
    # "Добавить шаг" shows the form again with one more step, nothing saved yet
    resp, page = await _post(root, [*base, *first, ("op", "add_step")])
    assert resp.status == 200 and page.count('name="question"') == 2 and "Шаг 2" in page
    # the answer leads to a step not written yet; a blank name; a step with an answer but no question
    second = _step(1, "district", "", "", [("Центр", "")])
    resp, page = await _post(root, [("id", ""), ("name", ""), *first, *second, ("op", "save")])
    assert resp.status == 422
    assert "исправьте отмеченные поля" in page and "Укажите название скрипта" in page
    assert re.search(r'data-field="question-1">Напишите вопрос этого шага', page)
    async with running.hub.database.sessions() as s:
        assert (await s.execute(select(CallScript))).first() is None
    second = _step(1, "district", "Какой район интересует?", "", [("Центр", ""), ("Другой", "start")])
    resp, _ = await _post(root, [*base, *first, *second, ("op", "save")])
    assert resp.status == 303
    async with running.hub.database.sessions() as s:
        script = (await s.execute(select(CallScript))).scalar_one()
        assert [st["id"] for st in script.steps] == ["start", "district"]
        assert script.steps[0]["fields"] == ["Имя", "Бюджет"]
        assert script.steps[0]["answers"] == [{"text": "Да", "next": "district"}, {"text": "Нет", "next": None}]
    # the preview as the agent sees it: the question, the fields, the answers as buttons
    resp, page = await root.get(f"/scripts?edit={script.id}")
    preview = page[page.index('id="script-preview"'):]
    assert "Вы звоните по объявлению?" in preview and 'class="answer" disabled' in preview and "Бюджет" in preview
    # move the second step up and save: a second journal row with the order before and after
    resp, page = await _post(root, [*base[1:], ("id", str(script.id)), *first, *second, ("op", "up:1")])
    assert page.index("Какой район интересует?") < page.index("Вы звоните по объявлению?")
    moved = [*_step(0, "district", "Какой район интересует?", "", [("Центр", "")]),
             *_step(1, "start", "Вы звоните по объявлению?", "", [("Да", "district")])]
    resp, _ = await _post(root, [*base[1:], ("id", str(script.id)), *moved, ("op", "save")])
    assert resp.status == 303
    # the text import still works for power users
    resp, _ = await root.post("/scripts", {"id": str(script.id), "name": "Входящий звонок", "queues": "sales",
                                           "channel": "call", "steps": "# a: Здравствуйте?\n- Да"})
    assert resp.status == 303
    async with running.hub.database.sessions() as s:
        rows = (await s.execute(select(SettingChange).order_by(SettingChange.id))).scalars().all()
    assert [(r.kind, r.key, r.actor_id) for r in rows] == [("script", f"script:{script.id}",
                                                            running.agency.users["root"])] * 3
    assert rows[0].before is None and rows[0].after["name"] == "Входящий звонок"
    assert [st["id"] for st in rows[1].before["steps"]] == ["start", "district"]
    assert [st["id"] for st in rows[1].after["steps"]] == ["district", "start"]
    assert rows[2].after["steps"][0]["question"] == "Здравствуйте?"
    # an agent may not open the editor
    anna = await running.browser("anna")
    resp, _ = await anna.get("/scripts")
    assert resp.status == 403
