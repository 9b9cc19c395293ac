"""Several hub instances: one consumer per mailbox/bot/PBX, failover within 10 s, pushes across instances."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from bootstrap import build_hub
from bus.events import Push
from bus.leader import Leadership
from tests.conftest import missing_part
from tests.web.conftest import seed_agency, settings_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def dsn(pg_url):
    if pg_url is None:
        missing_part("PostgreSQL unreachable")
    return make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)


def test_a_second_hub_on_the_same_sqlite_file_is_refused_with_a_clear_message(tmp_path, unused_tcp_port):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update({"HUB_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}",
                "HUB_STORAGE__VAR_DIR": str(tmp_path / "var"), "HUB_WEB__PORT": str(unused_tcp_port)})
    first = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "run"], env=env, cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert first.stdout.readline().startswith("Hub running")
        env["HUB_WEB__PORT"] = "0"
        second = subprocess.run([sys.executable, str(ROOT / "main.py"), "run"], env=env, cwd=tmp_path,
                                capture_output=True, text=True, timeout=30)
        assert second.returncode == 1 and "another hub is already running" in second.stderr
    finally:
        first.terminate()
        first.wait(10)


class Recorder:
    def __init__(self):
        self.events = []

    def hooks(self, who):
        async def elected():
            self.events.append((who, "elected", time.monotonic()))

        async def deposed():
            self.events.append((who, "deposed", time.monotonic()))

        return elected, deposed


async def wait_for(predicate, limit_s):
    async with asyncio.timeout(limit_s):
        while not predicate():  # noqa: ASYNC110 - polling the leaders' state
            await asyncio.sleep(0.05)


async def test_when_the_leaders_database_session_dies_another_instance_leads_within_10s(dsn):
    rec = Recorder()
    a = Leadership(dsn, "test:mailbox", *rec.hooks("a"), heartbeat_s=0.3, lease_s=2, instance="a")
    b = Leadership(dsn, "test:mailbox", *rec.hooks("b"), heartbeat_s=0.3, lease_s=2, instance="b")
    await a.start()
    await wait_for(lambda: a.leading, 5)
    await b.start()
    await asyncio.sleep(1)
    assert not b.leading  # never two consumers
    conn = await asyncpg.connect(dsn)
    try:
        killed_at = time.monotonic()
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
        await wait_for(lambda: b.leading, 10)
        assert time.monotonic() - killed_at < 10
        await wait_for(lambda: not a.leading, 5)
        assert ("a", "deposed") in [(w, e) for w, e, _ in rec.events]
        assert sum(1 for x in (a, b) if x.leading) == 1
    finally:
        await conn.close()
        await a.stop()
        await b.stop()


async def test_a_paused_leader_loses_its_lease_and_steps_down_when_it_wakes(dsn):
    proc = await asyncio.to_thread(  # a separate process: SIGSTOP must freeze it, not the test
        subprocess.Popen, [sys.executable, str(Path(__file__).with_name("leader_proc.py")), dsn, "test:bot"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True)
    rec = Recorder()
    b = Leadership(dsn, "test:bot", *rec.hooks("b"), heartbeat_s=0.3, lease_s=2, instance="b")
    try:
        assert (await asyncio.to_thread(proc.stdout.readline)).strip() == "LEADER"
        await b.start()
        await asyncio.sleep(1)
        assert not b.leading
        proc.send_signal(signal.SIGSTOP)  # the leader freezes (a stuck VM, a long GC pause)
        paused_at = time.monotonic()
        await wait_for(lambda: b.leading, 10)
        assert time.monotonic() - paused_at < 10
        proc.send_signal(signal.SIGCONT)
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 10)
        assert line.strip() == "DEPOSED"  # it noticed before anything else, and b still leads
        await asyncio.sleep(1.5)
        assert b.leading
    finally:
        proc.kill()
        proc.wait(5)
        await b.stop()


@pytest.mark.parametrize("broker", ["postgres", "redis", "nats"])
async def test_a_push_from_one_instance_reaches_a_browser_on_another(pg_url, tmp_path, broker):
    if pg_url is None:
        missing_part("PostgreSQL unreachable")
    from aiohttp import ClientSession, CookieJar
    from aiohttp.test_utils import TestServer

    from tests.conftest import _truncate_all
    from tests.web.conftest import Browser
    from web.app import create_app

    hubs = [build_hub(settings_for(pg_url, tmp_path / f"i{n}", {"cluster": {"broker": broker}})) for n in range(2)]
    await _truncate_all(hubs[0].database.engine)  # before the hubs start: nothing else holds the tables
    agency = await seed_agency(hubs[0])
    servers = []
    for hub in hubs:
        server = TestServer(create_app(hub), host="127.0.0.1")
        await server.start_server()
        await hub.started.wait()
        servers.append(server)
    try:
        base_b = str(servers[1].make_url("")).rstrip("/")
        async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
            browser = Browser(base_b, http)
            resp, _ = await browser.login("anna")
            assert resp.status == 303
            ws = await http.ws_connect(base_b.replace("http", "ws") + "/ws", headers={"Origin": base_b})
            assert (await ws.receive_json())["type"] == "hello"
            await hubs[0].bus.publish(Push((agency.users["anna"],), "popup", {"name": "Иван Петров"}))
            got = await asyncio.wait_for(ws.receive_json(), 5)
            assert got == {"type": "popup", "name": "Иван Петров"}
            assert hubs[0].fanout.broker == broker and hubs[1].fanout.received >= 1
            await ws.close()
    finally:
        for server in servers:
            await server.close()
