"""The last good backup on /healthz and the administrator's page, with a warning after two days without one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ops.status import STATE_FILE, last_backup, record_backup


def test_the_warning_comes_after_two_days(tmp_path):
    assert last_backup(tmp_path, None, 48)["warning"] is True  # never backed up
    record_backup(tmp_path, tmp_path / "b" / "hub-backup-x", 10, 1.0)
    now = datetime.now(UTC)
    assert last_backup(tmp_path, None, 48, now=now + timedelta(hours=47))["warning"] is False
    late = last_backup(tmp_path, None, 48, now=now + timedelta(hours=49))
    assert late["warning"] is True and late["age_hours"] >= 49
    folder = tmp_path / "shared" / "hub-backup-20990101T000000000000Z"  # a newer one in [backup] dir counts
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text("{}", encoding="utf-8")
    assert last_backup(tmp_path, tmp_path / "shared", 48)["last_good"].startswith("2099-01-01")


@pytest.fixture
async def running(tmp_path, monkeypatch):
    """A hub on a fresh SQLite file with an administrator and an agent (cheap password hashes)."""
    from aiohttp import ClientSession, CookieJar
    from aiohttp.test_utils import TestServer
    from argon2 import PasswordHasher

    from bootstrap import build_hub
    from crm_core.models import Role
    from crm_core.users import create_user
    from tests.web.conftest import PASSWORD, Browser, settings_for
    from web.app import create_app

    monkeypatch.setattr("crm_core.users._hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    hub = build_hub(settings_for(f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}", tmp_path))
    server = TestServer(create_app(hub), host="127.0.0.1")
    await server.start_server()
    await hub.started.wait()
    async with hub.database.sessions() as s, s.begin():
        await create_user(s, login="root", password=PASSWORD, full_name="Root", role=Role.ADMIN)
        await create_user(s, login="anna", password=PASSWORD, full_name="Anna", role=Role.AGENT)
    sessions: list[ClientSession] = []

    class Running:
        async def browser(self, login: str) -> Browser:
            http = ClientSession(cookie_jar=CookieJar(unsafe=True))
            sessions.append(http)
            b = Browser(str(server.make_url("")).rstrip("/"), http)
            resp, _ = await b.login(login)
            assert resp.status == 303
            return b

    Running.hub = hub
    try:
        yield Running()
    finally:
        for http in sessions:
            await http.close()
        await server.close()  # the app's cleanup stops the hub


async def test_healthz_and_the_admin_page_show_the_last_good_backup(running):
    admin = await running.browser("root")
    resp, _ = await admin.get("/healthz")
    body = json.loads(_)
    assert body["backup"] == {"last_good": None, "age_hours": None, "warning": True, "path": None}
    _, page = await admin.get("/admin/backups")
    assert "Резервных копий ещё не было" in page

    old = datetime.now(UTC) - timedelta(days=3)
    var = running.hub.var_dir
    var.mkdir(parents=True, exist_ok=True)
    (var / STATE_FILE).write_text(json.dumps({"last_good": old.isoformat(), "path": "/x"}), encoding="utf-8")
    _, page = await admin.get("/admin/backups")
    assert "больше 48 ч" in page and old.astimezone(ZoneInfo("Europe/Moscow")).strftime("%d.%m.%Y") in page
    body = json.loads((await admin.get("/healthz"))[1])
    assert body["backup"]["warning"] is True and body["backup"]["age_hours"] >= 72

    record_backup(var, var / "hub-backup-now", 1, 0.1)
    body = json.loads((await admin.get("/healthz"))[1])
    assert body["backup"]["warning"] is False and body["backup"]["age_hours"] < 1
    _, page = await admin.get("/admin/backups")
    assert 'id="backup-warning"' not in page

    agent = await running.browser("anna")
    resp, _ = await agent.get("/admin/backups")
    assert resp.status in (302, 303, 403)  # an administrator's page only
