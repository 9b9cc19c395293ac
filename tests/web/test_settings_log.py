"""«Журнал настроек»: every change of the setup (checklists, users, sources…) with who, when, before and after;
the routing rules' versions listed beside them; filters by kind, person and period, page by page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from crm_core.models import Role, User
from crm_core.models.routing_versions import RuleVersion
from crm_core.models.settings_audit import SettingChange
from crm_core.settings_audit import page, record_setting_change
from tests.web.conftest import _password_hash


async def test_the_journal_keeps_changes_and_reads_them_filtered_and_paged(db):
    t0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    async with db.sessions() as s, s.begin():
        admin = User(login="adm", password_hash=_password_hash(), full_name="Админ Админов", role=Role.ADMIN)
        s.add(admin)
        await s.flush()
        for n in range(7):
            await record_setting_change(s, admin.id, "script", f"script:{n}", None if n == 0 else {"v": n - 1},
                                        {"v": n, "слово": "привет"}, at=t0 + timedelta(hours=n))
        assert await record_setting_change(s, admin.id, "checklist", "checklist:1", {"a": 1}, {"a": 1}) is None
        await record_setting_change(s, None, "source", "did:74950000000", {"source": "Авито"}, None,
                                    at=t0 + timedelta(days=2))
        s.add(RuleVersion(state="published", kind="save", data={"rules": []}, created_by=admin.id,
                          created_at=t0 + timedelta(days=1)))
        s.add(RuleVersion(state="draft", kind="draft", data={"rules": []}, created_at=t0 + timedelta(days=1)))
    async with db.sessions() as s:
        everything = await page(s, per_page=4)
        assert everything.total == 9 and everything.pages == 3  # 7 scripts, 1 source, 1 published version
        assert [e.kind for e in everything.entries] == ["source", "routing", "script", "script"]
        assert everything.entries[0].actor is None and everything.entries[0].after is None
        assert everything.entries[1].link == "/admin/routing/versions"
        assert everything.entries[1].actor == "Админ Админов"
        last = await page(s, per_page=4, page_no=3)
        assert [e.key for e in last.entries] == ["script:0"] and last.entries[0].before is None
        scripts = await page(s, kind="script", start=t0 + timedelta(hours=2), end=t0 + timedelta(hours=4))
        assert [e.key for e in scripts.entries] == ["script:3", "script:2"]
        assert scripts.entries[0].after == {"v": 3, "слово": "привет"}
        mine = await page(s, actor_id=admin.id)
        assert mine.total == 8 and all(e.actor == "Админ Админов" for e in mine.entries)
        assert [e.kind for e in (await page(s, kind="routing")).entries] == ["routing"]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_the_admin_reads_who_changed_what_in_the_page(running):
    root = await running.browser("root")
    await root.get("/quality/checklists")
    resp, _ = await root.post("/quality/checklists", {"name": "Входящие", "items": "2 | Поздоровался\n1 | Бюджет"})
    assert resp.status == 303
    resp, _ = await root.post("/admin/users", {"login": "nina", "full_name": "Нина Петрова", "password": "x" * 12,
                                               "role": "agent", "department_id": str(running.agency.sales)})
    assert resp.status == 200
    async with running.hub.database.sessions() as s:
        user = (await s.execute(select(SettingChange).where(SettingChange.kind == "user"))).scalar_one()
    assert user.before is None and user.after["login"] == "nina" and "password" not in user.after
    resp, page_html = await root.get("/admin/settings-log")
    assert resp.status == 200 and "Журнал настроек" in page_html
    assert "Чек-листы контроля качества" in page_html and "Пользователи" in page_html
    assert "Поздоровался" in page_html and "Root" in page_html
    resp, page_html = await root.get(f"/admin/settings-log?kind=user&who={running.agency.users['root']}")
    assert "nina" in page_html and "Поздоровался" not in page_html
    resp, page_html = await root.get("/admin/settings-log?from=01.03.2026")
    assert resp.status == 422 and "Дата в формате ГГГГ-ММ-ДД" in page_html
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d")
    resp, page_html = await root.get(f"/admin/settings-log?from={tomorrow}")
    assert "Изменений за этот период нет" in page_html
    anna = await running.browser("anna")
    resp, _ = await anna.get("/admin/settings-log")
    assert resp.status == 403
