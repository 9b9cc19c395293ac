"""A running hub (real aiohttp server on 127.0.0.1) over each database, with a small agency in it."""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestServer

from bootstrap import Hub, build_hub
from config.settings import Settings
from crm_core.models import Department, Division, Role, User
from crm_core.users import hash_password
from web.app import create_app

PASSWORD = "correct-horse-42"


@functools.cache
def _password_hash() -> str:
    """One argon2 hash of PASSWORD for every seeded user (hashing is deliberately slow)."""
    return hash_password(PASSWORD)


CSRF_RE = re.compile(r'name="_csrf" value="([^"]+)"')


@dataclass
class Agency:
    division: int = 0
    sales: int = 0
    rent: int = 0
    other_division_dept: int = 0
    users: dict[str, int] = field(default_factory=dict)


async def seed_agency(hub: Hub) -> Agency:
    a = Agency()
    async with hub.database.sessions() as s, s.begin():
        moscow, spb = Division(name="Москва"), Division(name="Петербург")
        s.add_all([moscow, spb])
        await s.flush()
        sales = Department(name="Продажи", division_id=moscow.id)
        rent = Department(name="Аренда", division_id=moscow.id)
        north = Department(name="Север", division_id=spb.id)
        s.add_all([sales, rent, north])
        await s.flush()
        a.division, a.sales, a.rent, a.other_division_dept = moscow.id, sales.id, rent.id, north.id
        people = [
            ("root", Role.ADMIN, None, None), ("anna", Role.AGENT, sales.id, "101"),
            ("oleg", Role.AGENT, sales.id, "102"), ("maria", Role.AGENT, rent.id, "103"),
            ("boss", Role.DEPT_HEAD, sales.id, None), ("mgr", Role.DEPT_MANAGER, rent.id, None),
            ("director", Role.DIRECTOR, sales.id, None), ("spbagent", Role.AGENT, north.id, "201"),
        ]
        for login, role, dept, ext in people:
            u = User(login=login, password_hash=_password_hash(), full_name=login.title(), role=role,
                     department_id=dept, extension=ext)
            s.add(u)
            await s.flush()
            a.users[login] = u.id
    return a


@dataclass
class Browser:
    """A logged-in (or not) HTTP client with its own cookies, like one person's browser."""

    base: str
    http: ClientSession
    csrf: str = ""

    async def get(self, path: str, **kw):  # noqa: ANN201
        resp = await self.http.get(self.base + path, allow_redirects=False, **kw)
        text = await resp.text()
        m = CSRF_RE.search(text)
        if m:
            self.csrf = m.group(1)
        return resp, text

    async def post(self, path: str, data: dict | None = None, csrf: bool = True, **kw):  # noqa: ANN201
        data = dict(data or {})
        if csrf:
            data["_csrf"] = self.csrf
        resp = await self.http.post(self.base + path, data=data, allow_redirects=False, **kw)
        return resp, await resp.text()

    async def login(self, login: str, password: str = PASSWORD):  # noqa: ANN201
        await self.get("/login")
        resp, text = await self.post("/login", {"login": login, "password": password})
        if resp.status == 303:
            await self.get("/inbox")
        return resp, text


@dataclass
class RunningHub:
    hub: Hub
    server: TestServer
    agency: Agency
    _sessions: list[ClientSession] = field(default_factory=list)

    @property
    def base(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    async def browser(self, login: str | None = None) -> Browser:
        http = ClientSession(cookie_jar=CookieJar(unsafe=True))
        self._sessions.append(http)
        b = Browser(self.base, http)
        if login:
            resp, _ = await b.login(login)
            assert resp.status == 303, f"login {login} failed: {resp.status}"
        return b


def settings_for(url: str, tmp_path, sections: dict | None = None, **web) -> Settings:  # noqa: ANN001
    return Settings.model_validate({
        "database": {"url": url, "connect_retries": 0},
        "web": {"port": 0, **web},
        "storage": {"var_dir": str(tmp_path / "var")},
        **(sections or {}),
    })


@pytest.fixture
def hub_sections() -> dict:
    """Extra settings sections for the running hub; a test module overrides this fixture."""
    return {}


@pytest.fixture
async def running(db, tmp_path, hub_sections) -> AsyncIterator[RunningHub]:  # noqa: ANN001
    hub = build_hub(settings_for(db.url, tmp_path, hub_sections))
    server = TestServer(create_app(hub), host="127.0.0.1")
    await server.start_server()
    started, failed = asyncio.ensure_future(hub.started.wait()), asyncio.ensure_future(hub.failed.wait())
    await asyncio.wait({started, failed}, timeout=300, return_when=asyncio.FIRST_COMPLETED)
    for waiting in (started, failed):
        waiting.cancel()
    if not hub.started.is_set():  # a start that failed or hung is this test's failure, not a suite that never ends
        await server.close()
        raise RuntimeError(f"the hub did not start: {hub.failure or 'not started within 300 s'}")
    agency = await seed_agency(hub)
    rh = RunningHub(hub, server, agency)
    try:
        yield rh
    finally:
        for http in rh._sessions:
            await http.close()
        await server.close()
