"""The quality checklist in rows: items with weights, add, move and remove without JavaScript, per-field Russian
messages, the text import kept, every save in the settings journal."""

from __future__ import annotations

import pytest
from multidict import MultiDict
from sqlalchemy import select

from crm_core.models.settings_audit import SettingChange
from crm_core.models.workflow import QcChecklist
from workflow.checklist_form import apply_op, validate


async def _post(b, pairs: list[tuple[str, str]]):  # noqa: ANN001, ANN202
    resp = await b.http.post(b.base + "/quality/checklists", data=MultiDict([*pairs, ("_csrf", b.csrf)]),
                             allow_redirects=False)
    return resp, await resp.text()


def test_checklist_rows_move_and_each_bad_field_has_its_message():
    rows = [{"text": "Поздоровался", "weight": "2"}, {"text": "", "weight": "0"}, {"text": "", "weight": ""}]
    assert [r["text"] for r in apply_op(rows, "up:1")][:2] == ["", "Поздоровался"]
    items, errors = validate(rows)
    assert errors == {"item_text-1": "qc.err.text", "item_weight-1": "qc.err.weight"}
    items, errors = validate([{"text": "Бюджет", "weight": "1,5"}])
    assert errors == {} and items == [{"key": "1", "text": "Бюджет", "weight": 1.5}]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_the_admin_builds_a_checklist_in_rows(running):
    root = await running.browser("root")
    resp, page = await root.get("/quality/checklists")
    assert resp.status == 200 and "Что проверить" in page and "Импорт и экспорт текстом" in page
    rows = [("item_text", "Поздоровался"), ("item_weight", "2"), ("item_text", "Уточнил бюджет"),
            ("item_weight", "1")]
    resp, page = await _post(root, [("id", ""), ("name", "Входящие"), *rows, ("op", "add")])
    assert resp.status == 200 and page.count('name="item_text"') == 3
    resp, page = await _post(root, [("id", ""), ("name", ""), *rows, ("item_text", "Следующий шаг"),
                                    ("item_weight", "сто"), ("op", "save")])
    assert resp.status == 422 and "Укажите название чек-листа" in page
    assert 'data-field="item_weight-2">Вес — число больше 0 и не больше 100' in page
    resp, page = await _post(root, [("id", ""), ("name", "Входящие"), *rows, ("op", "down:0")])
    assert page.index('value="Уточнил бюджет"') < page.index('value="Поздоровался"')
    resp, _ = await _post(root, [("id", ""), ("name", "Входящие"), *rows, ("item_text", "Следующий шаг"),
                                 ("item_weight", "3"), ("op", "save")])
    assert resp.status == 303
    async with running.hub.database.sessions() as s:
        checklist = (await s.execute(select(QcChecklist))).scalar_one()
        journal = (await s.execute(select(SettingChange))).scalars().all()
    assert [(i["text"], i["weight"]) for i in checklist.items] == [("Поздоровался", 2), ("Уточнил бюджет", 1),
                                                                    ("Следующий шаг", 3)]
    assert [(j.kind, j.key, j.before) for j in journal] == [("checklist", f"checklist:{checklist.id}", None)]
    resp, page = await root.get(f"/quality/checklists?edit={checklist.id}")
    assert 'value="Следующий шаг"' in page and "3 | Следующий шаг" in page
