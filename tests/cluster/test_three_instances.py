"""Three real hub processes on one PostgreSQL, the fake PBX and the fake Bot API on loopback: what a user
notices when the instance leading the PBX session dies or freezes, and that pushes and SLA steps cross
instances exactly once."""

from __future__ import annotations

import asyncio
import secrets
import signal
import time

import aiohttp
import pytest
from sqlalchemy import func, select

from bootstrap import build_hub
from connectors.asterisk.fake_pbx import FakePbx
from crm_core.models import Call, Channel, Message
from tests.cluster.harness import Cluster, botapi_env, elapsed_until, fresh_database, pbx_env
from tests.conftest import PG_ERROR, missing_part
from tests.connectors.fake_botapi import FakeBotApi
from tests.web.conftest import Browser, seed_agency, settings_for

TOKEN = "123456:cluster-test-token"
CHAT = 555777


def update(update_id: int) -> dict:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": 1795390910, "chat": {"id": CHAT, "type": "private"},
        "from": {"id": CHAT, "is_bot": False, "first_name": "Ольга"}, "text": f"Сообщение {update_id}"}}


@pytest.fixture
async def agency_db(tmp_path):
    """A fresh database with the test agency (anna is extension 101, the agent of the traces)."""
    try:
        async with fresh_database() as url:
            hub = build_hub(settings_for(url, tmp_path / "seed"))
            agency = await seed_agency(hub)
            yield url, agency, hub.database.sessions
            await hub.database.engine.dispose()
    except OSError as exc:
        PG_ERROR.append(repr(exc))
        missing_part(f"PostgreSQL unreachable: {exc}")


async def ws_of(http: aiohttp.ClientSession, base: str, login: str) -> aiohttp.ClientWebSocketResponse:
    """A browser logged in on one instance, with its live socket open."""
    browser = Browser(base, http)
    resp, _ = await browser.login(login)
    assert resp.status == 303
    ws = await http.ws_connect(base.replace("http", "ws") + "/ws", headers={"Origin": base})
    assert (await ws.receive_json(timeout=5))["type"] == "hello"
    return ws


async def frames_until(ws: aiohttp.ClientWebSocketResponse, predicate, limit_s: float) -> list[dict]:  # noqa: ANN001
    got = []
    async with asyncio.timeout(limit_s):
        while True:
            frame = await ws.receive_json()
            got.append(frame)
            if predicate(frame):
                return got


async def count(sessions, stmt) -> int:  # noqa: ANN001
    async with sessions() as s:
        return (await s.execute(stmt)).scalar_one()


async def test_sigkill_of_the_pbx_leader_mid_call(agency_db, tmp_path):
    """A call rings anna (browser on instance B) while A holds the PBX session; A is SIGKILLed while the call
    is up: another instance leads within 10 s, anna's pop-up closes, the call is stored once and ended, and
    the Telegram messages sent around the kill are each stored once."""
    url, agency, sessions = agency_db
    secret = secrets.token_urlsafe(8)
    pbx = FakePbx("answered.txt", secret=secret, speed=0.4, autoplay=False)
    bot = FakeBotApi(TOKEN)
    await pbx.start()
    await bot.start()
    extra = pbx_env(pbx.port, secret) | botapi_env(bot.base_url, bot.base_file_url, TOKEN)
    try:
        async with Cluster(url, tmp_path, 3, extra=extra) as cluster, aiohttp.ClientSession(
                cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            leader = await cluster.wait_leader("asterisk")
            assert await cluster.wait_leader("telegram")
            b = next(i for i in cluster.instances if i is not leader)
            ws = await ws_of(http, b.base, "anna")
            for n in range(1, 4):
                bot.push(update(n))
            pbx.play()
            answered = await frames_until(ws, lambda f: f["type"] == "popup" and f.get("title") == "Разговор", 10)
            call_id = answered[-1]["call_id"]
            assert not pbx.replay_done.is_set()  # mid-call: the hang-up is still to come

            leader.signal(signal.SIGKILL)
            killed_at = time.monotonic()
            for n in range(4, 7):
                bot.push(update(n))
            survivors = [i for i in cluster.instances if i is not leader]
            new = await cluster.wait_leader("asterisk", among=survivors, limit_s=10)
            assert time.monotonic() - killed_at < 10
            ended = await frames_until(ws, lambda f: f["type"] == "popup" and f.get("call_id") == call_id
                                       and f.get("ended"), 15)
            assert ended[-1]["call_id"] == call_id
            await elapsed_until(lambda: count(sessions, select(func.count()).select_from(Call)
                                              .where(Call.linkedid == call_id)), 10)
            async with sessions() as s:
                calls = (await s.execute(select(Call).where(Call.linkedid == call_id))).scalars().all()
            assert len(calls) == 1, [(c.uniqueid, c.outcome) for c in calls]
            assert calls[0].ended_at is not None and calls[0].agent_id == agency.users["anna"]

            async def all_six() -> bool:
                return await count(sessions, select(func.count()).select_from(Message)
                                   .where(Message.channel == Channel.TELEGRAM)) >= 6
            await elapsed_until(all_six, 15)
            await asyncio.sleep(1)  # a double would come now
            async with sessions() as s:
                texts = (await s.execute(select(Message.body).where(Message.channel == Channel.TELEGRAM))).scalars()
                assert sorted(texts) == [f"Сообщение {n}" for n in range(1, 7)]
            assert new.alive and new is not leader
            await ws.close()
    finally:
        await pbx.stop()
        await bot.close()
