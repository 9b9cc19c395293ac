"""Three real hub processes on one PostgreSQL, the fake PBX and the fake Bot API on loopback: what a user
notices when the instance leading the PBX session dies or freezes, and that pushes and SLA steps cross
instances exactly once."""

from __future__ import annotations

import asyncio
import secrets
import signal
import time
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy import func, select

from bootstrap import build_hub
from connectors.asterisk.fake_pbx import FakePbx
from crm_core.models import Call, Channel, Client, Inquiry, InquiryEvent, InquiryStatus, Message, Pool, utcnow
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
            answered = await frames_until(ws, lambda f: f["type"] == "popup" and f.get("title") == "Разговор", 20)
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
                                       and f.get("ended"), 25)
            assert ended[-1]["call_id"] == call_id
            await elapsed_until(lambda: count(sessions, select(func.count()).select_from(Call)
                                              .where(Call.linkedid == call_id)), 20)
            async with sessions() as s:
                calls = (await s.execute(select(Call).where(Call.linkedid == call_id))).scalars().all()
            assert len(calls) == 1, [(c.uniqueid, c.outcome) for c in calls]
            assert calls[0].ended_at is not None and calls[0].agent_id == agency.users["anna"]

            async def all_six() -> bool:
                return await count(sessions, select(func.count()).select_from(Message)
                                   .where(Message.channel == Channel.TELEGRAM)) >= 6
            await elapsed_until(all_six, 25)
            await asyncio.sleep(1)  # a double would come now
            async with sessions() as s:
                texts = (await s.execute(select(Message.body).where(Message.channel == Channel.TELEGRAM))).scalars()
                assert sorted(texts) == [f"Сообщение {n}" for n in range(1, 7)]
            assert new.alive and new is not leader
            await ws.close()
    finally:
        await pbx.stop()
        await bot.close()


async def test_a_leader_paused_past_its_lease_does_not_act_when_it_wakes(agency_db, tmp_path):
    """SIGSTOP the instance holding the PBX session and the bot: another takes both over; a call and
    Telegram messages come in meanwhile; when the frozen one resumes it steps down — anna sees each pop-up
    once, the call and each message are stored once."""
    url, agency, sessions = agency_db
    secret = secrets.token_urlsafe(8)
    pbx = FakePbx("answered.txt", secret=secret, autoplay=False)
    bot = FakeBotApi(TOKEN)
    await pbx.start()
    await bot.start()
    extra = pbx_env(pbx.port, secret) | botapi_env(bot.base_url, bot.base_file_url, TOKEN)
    try:
        async with Cluster(url, tmp_path, 3, extra=extra, broker="nats") as cluster, aiohttp.ClientSession(
                cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            frozen = await cluster.wait_leader("asterisk")
            others = [i for i in cluster.instances if i is not frozen]
            ws = await ws_of(http, others[0].base, "anna")
            bot.push(update(1))
            await elapsed_until(lambda: count(sessions, select(func.count()).select_from(Message)), 10)

            frozen.signal(signal.SIGSTOP)
            paused_at = time.monotonic()
            new = await cluster.wait_leader("asterisk", among=others, limit_s=12)
            assert time.monotonic() - paused_at < 10
            assert await cluster.wait_leader("telegram", among=others, limit_s=5)
            pbx.play()
            for n in range(2, 5):
                bot.push(update(n))
            before = await frames_until(ws, lambda f: f["type"] == "popup" and f.get("ended")
                                        and f.get("title") == "Звонок завершён", 25)
            call_id = before[-1]["call_id"]
            popups = [(f["call_id"], f["title"]) for f in before if f["type"] == "popup"]
            assert len(popups) == len(set(popups))
            await elapsed_until(lambda: count(sessions, select(func.count()).select_from(Call)), 10)
            await elapsed_until(lambda: count(sessions, select(func.count()).select_from(Message)
                                              .where(Message.body == "Сообщение 4")), 10)

            frozen.signal(signal.SIGCONT)  # it wakes with the PBX's frames and a bot reply in its sockets
            await asyncio.sleep(2)
            body = await frozen.health(cluster.http)
            assert body is not None and not body["leads"]["asterisk"] and not body["leads"]["telegram"]
            assert (await cluster.wait_leader("asterisk")) is new
            with pytest.raises(TimeoutError):  # no second pop-up from the instance that woke up
                await frames_until(ws, lambda f: f["type"] == "popup" and f.get("call_id") == call_id, 1)
            async with sessions() as s:
                assert (await s.execute(select(func.count()).select_from(Call)
                                        .where(Call.linkedid == call_id))).scalar_one() == 1
                texts = sorted((await s.execute(select(Message.body).where(Message.channel == Channel.TELEGRAM)))
                               .scalars())
            assert texts == [f"Сообщение {n}" for n in range(1, 5)]
            assert "no longer leads hub:asterisk" in frozen.log_text()
            await ws.close()
    finally:
        await pbx.stop()
        await bot.close()


async def test_an_sla_step_happens_once_across_instances_and_a_new_leader_does_not_repeat_it(agency_db, tmp_path):
    """An inquiry idle for 8 days (limit 7) goes to its department's pool once: three instances, anna (the
    owner) told once on the instance her browser uses (pushes through Redis); the SLA leader killed after
    the step, the next leader recomputes everything and leaves it."""
    url, agency, sessions = agency_db
    steps = select(func.count()).select_from(InquiryEvent).where(InquiryEvent.kind == "sla")
    async with Cluster(url, tmp_path, 3, broker="redis", extra={"HUB_ROUTING__SLA_POLL_S": "0.5"}) as cluster, \
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        leader = await cluster.wait_leader("sla")
        other = next(i for i in cluster.instances if i is not leader)
        ws = await ws_of(http, other.base, "anna")
        old = utcnow() - timedelta(days=8)
        async with sessions() as s, s.begin():
            client = Client(name="Ольга Соколова")
            s.add(client)
            await s.flush()
            inquiry = Inquiry(client_id=client.id, channel=Channel.CALL, external_id="sla-once", created_at=old,
                              accepted_at=old, status=InquiryStatus.IN_WORK, owner_id=agency.users["anna"],
                              department_id=agency.sales)
            s.add(inquiry)
            await s.flush()
            inquiry_id = inquiry.id
        told = await frames_until(ws, lambda f: f["type"] == "routing.sla", 20)
        assert told[-1]["inquiry_id"] == inquiry_id and told[-1]["reason"] == "idle_limit"

        leader.signal(signal.SIGKILL)
        survivors = [i for i in cluster.instances if i is not leader]
        await cluster.wait_leader("sla", among=survivors, limit_s=10)
        with pytest.raises(TimeoutError):  # the new leader's passes (every 0.5 s) do not step again
            await frames_until(ws, lambda f: f["type"] == "routing.sla", 2)
        async with sessions() as s:
            assert (await s.execute(steps)).scalar_one() == 1
            row = await s.get(Inquiry, inquiry_id)
            assert (row.pool, row.owner_id, row.status) == (Pool.DEPARTMENT, None, InquiryStatus.NEW)
        await ws.close()
