"""Where a real PBX behaves differently from a well-behaved fake: the hub's telephony service against the fake
PBX replaying real Asterisk 22 traces, on both databases. Each fault: every call the PBX made (every Linkedid
it sent) becomes exactly one stored call, and nothing is invented — no inbound call of an agent's own
channel, no callback to an agent, no second record after a reconnect."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select

from connectors.asterisk.fake_pbx import FakePbx, parse_frame
from crm_core.models import Call, Inquiry, Task, User
from tests.telephony.test_ami_client import until
from tests.telephony.test_service import Hub, seed
from tests.web.conftest import running  # noqa: F401 - the running hub fixture

LOCAL = {"agent_channel": "Local/{extension}@agents"}  # the traces' PBX: agents are Local/1XX@agents
IVAN = "+79161234567"


def linkedids(pbx: FakePbx) -> set[str]:
    """Every call the fake PBX made: the Linkedids of the events it sent."""
    return {f["Linkedid"] for f in (parse_frame(data) for _, data in pbx.sent_log) if f.get("Linkedid")}


async def stored(db) -> list[Call]:  # noqa: ANN001
    async with db.sessions() as s:
        return list((await s.execute(select(Call).order_by(Call.id))).scalars())


async def callbacks(db) -> list[Task]:  # noqa: ANN001
    async with db.sessions() as s:
        return list((await s.execute(select(Task).where(Task.kind == "callback"))).scalars())


async def quiet(hub: Hub, records: int) -> None:
    """Wait until the service has stored ``records`` calls, has none open and nothing left to store."""
    await until(lambda: hub.service.stored >= records and not hub.service.calls.calls
                and not hub.service.calls.originates, 15)
    await asyncio.wait_for(hub.service.idle.wait(), 10)


def fake(trace: str | None = None, **kw: object) -> FakePbx:
    pbx = FakePbx(trace, secret="hubsecret", **kw)
    pbx.keep_sent_log = True
    return pbx


async def connected(hub: Hub) -> None:
    await until(lambda: hub.service.state == "connected" and hub.service.client.up.is_set(), 10)


async def an_inquiry(db, client_id: int) -> int:  # noqa: ANN001
    async with db.sessions() as s, s.begin():
        inquiry = Inquiry(client_id=client_id, channel="call", external_id="earlier", subject="Входящий звонок")
        s.add(inquiry)
        await s.flush()
        return inquiry.id


@pytest.mark.parametrize(("trace", "extension", "outcome"), [
    ("click_to_call_unanswered.txt", "102", "no_answer"),  # the agent's phone rang 30 s, nobody picked up
    ("click_to_call_no_extension.txt", "104", "failed"),  # the PBX has no such extension
])
async def test_a_click_to_call_the_agent_does_not_pick_up_is_one_outbound_record_with_agent_and_client(
        db, trace: str, extension: str, outcome: str):
    ids = await seed(db)
    async with db.sessions() as s, s.begin():
        s.add(User(login="new", password_hash="x", full_name="New", role="agent", extension="104"))
    async with fake(originate_traces={extension: trace}, speed=20.0) as pbx, Hub(db, pbx, **LOCAL) as hub:
        await connected(hub)
        sent = await hub.service.originate(extension, "8 916 123-45-67", client_id=ids["ivan"])
        assert sent.ok
        await quiet(hub, 1)
        calls = await stored(db)
    async with db.sessions() as s:
        agent_id = (await s.execute(select(User.id).where(User.extension == extension))).scalar()
    [call] = calls
    assert (call.direction, call.outcome, call.agent_id, call.client_id, call.callee) == (
        "outbound", outcome, agent_id, ids["ivan"], IVAN)
    assert {c.linkedid for c in calls} == linkedids(pbx), "the agent's Local pair is this one call"
    assert await callbacks(db) == [], "no callback to the agent's own extension"
    assert [p for p in hub.pushes if p.kind == "popup"] == [], "no 'incoming call' pop-up for the agent's own leg"


async def test_an_answered_click_to_call_is_one_answered_outbound_on_the_inquiry_it_was_made_from(db):
    ids = await seed(db)
    inquiry_id = await an_inquiry(db, ids["ivan"])
    async with fake(originate_traces={"101": "click_to_call_answered.txt"}, speed=5.0) as pbx, \
            Hub(db, pbx, **LOCAL) as hub:
        await connected(hub)
        assert (await hub.service.originate("101", IVAN, inquiry_id=inquiry_id)).ok
        await quiet(hub, 1)
        calls = await stored(db)
    [call] = calls
    assert (call.direction, call.outcome, call.agent_id, call.client_id, call.inquiry_id) == (
        "outbound", "answered", ids["anna"], ids["ivan"], inquiry_id)
    assert call.talk_s > 0 and call.cut_by is None
    assert {c.linkedid for c in calls} == linkedids(pbx)
    originate = next(a for a in pbx.received if a.get("Action") == "Originate")
    assert f"CRM_INQUIRY_ID={inquiry_id}" in originate["Variable"]


async def test_a_callback_attempt_nobody_picks_up_counts_on_its_task_and_opens_no_new_one(db):
    ids = await seed(db)
    async with db.sessions() as s, s.begin():
        task = Task(kind="callback", status="open", client_id=ids["ivan"], phone=IVAN, note="Пропущенный звонок")
        s.add(task)
    async with fake(originate_traces={"102": "click_to_call_unanswered.txt"}, speed=20.0) as pbx, \
            Hub(db, pbx, **LOCAL) as hub:
        await connected(hub)
        assert (await hub.service.originate("102", IVAN, task_id=task.id, client_id=ids["ivan"])).ok
        await quiet(hub, 1)
    [call] = await stored(db)
    [again] = await callbacks(db)
    assert (call.task_id, call.outcome, call.client_id) == (task.id, "no_answer", ids["ivan"])
    assert (again.id, again.attempts, again.status) == (task.id, 1, "open")


async def test_an_originate_in_flight_when_the_link_drops_is_one_record_of_unknown_outcome_never_two(db):
    ids = await seed(db)
    async with fake(answer_delay_s={"originate": 0.5}, originate_traces={"*": "click_to_call_answered.txt"}) as pbx, \
            Hub(db, pbx, **LOCAL) as hub:
        await connected(hub)
        sending = asyncio.create_task(hub.service.originate("101", IVAN, client_id=ids["ivan"]))
        await until(lambda: pbx.actions["Originate"] == 1, 5)
        pbx.drop()
        result = await sending
        await until(lambda: hub.service.client.connects == 2, 10)
        await quiet(hub, 1)
        await asyncio.sleep(0.3)  # nothing more comes of it
        calls = await stored(db)
        originates = pbx.actions["Originate"]
    assert not result.ok and originates == 1, "never sent again: it could dial twice"
    [call] = calls
    assert (call.direction, call.outcome, call.cut_by, call.agent_id, call.client_id) == (
        "outbound", "lost_track", "link_lost", ids["anna"], ids["ivan"])


async def test_the_link_dropped_mid_call_stores_the_call_once_answered_and_cut_by_the_link(db):
    ids = await seed(db)
    async with fake("answered.txt", speed=20.0, hold_while_nobody_listens=False) as pbx, \
            Hub(db, pbx, backoff_initial_s=2.0, backoff_max_s=2.0) as hub:
        await until(lambda: any(c.answered_by for c in hub.service.calls.calls.values()), 10)
        pbx.drop()  # the hang-up happens while the hub is away
        await until(lambda: hub.service.client.connects == 2, 10)
        await quiet(hub, 1)
        calls = await stored(db)
    [call] = calls
    assert (call.outcome, call.cut_by, call.agent_id, call.client_id) == ("answered", "link_lost", ids["anna"],
                                                                          ids["ivan"])
    assert {c.linkedid for c in calls} == linkedids(pbx)
    assert await callbacks(db) == []


async def test_a_half_open_link_is_found_by_the_heartbeat_and_the_call_is_stored_once(db):
    ids = await seed(db)
    async with fake("answered.txt", speed=5.0) as pbx, \
            Hub(db, pbx, ping_interval_s=0.2, ping_timeout_s=0.5) as hub:
        await until(lambda: any(c.answered_by for c in hub.service.calls.calls.values()), 10)
        pbx.go_half_open()  # TCP stays open, the PBX says nothing more
        await until(lambda: hub.service.state != "connected", 5)
        pbx.recover()
        await until(lambda: hub.service.client.connects == 2, 10)
        await asyncio.wait_for(pbx.replay_done.wait(), 20)
        await quiet(hub, 1)
        calls = await stored(db)
    [call] = calls
    assert (call.outcome, call.agent_id, call.client_id) == ("answered", ids["anna"], ids["ivan"])
    assert {c.linkedid for c in calls} == linkedids(pbx)


@pytest.mark.parametrize(("trace", "cut"), [
    ("pbx_restart_mid_call.txt", "pbx_restart"),  # `core restart now`: hang-ups, Shutdown, the session closes
    ("pbx_killed_mid_call.txt", "pbx_down"),  # kill -9: the session just ends; back up, it lists no calls
])
async def test_a_pbx_restart_or_kill_mid_call_stores_the_call_in_talk_once_answered_and_cut_by_the_pbx(
        db, trace: str, cut: str):
    ids = await seed(db)
    async with fake(trace, speed=5.0) as pbx, Hub(db, pbx) as hub:
        await asyncio.wait_for(pbx.replay_done.wait(), 20)
        await until(lambda: pbx.restarts == 1 and hub.service.client.connects == 2, 10)
        await until(lambda: hub.service.client.up.is_set(), 10)
        await quiet(hub, 1)
        calls = await stored(db)
        listed_after = dict(pbx.live_channels)
    assert listed_after == {}, "back up, the PBX lists no channel of the call"
    [call] = calls
    assert (call.direction, call.outcome, call.cut_by, call.agent_id, call.client_id) == (
        "inbound", "answered", cut, ids["anna"], ids["ivan"])
    assert call.talk_s > 0 and call.answered_at is not None and call.ended_at >= call.answered_at
    assert {c.linkedid for c in calls} == linkedids(pbx)
    assert await callbacks(db) == [], "an answered call cut by the PBX is not a missed call"


@pytest.fixture
async def hub_pbx(request: pytest.FixtureRequest):  # noqa: ANN201
    """The PBX the running hub talks to: one refusing the hub's secret, or one answering click-to-call."""
    if "refused_ami_login" in request.node.name:
        pbx = FakePbx(None, secret="the-real-secret")
    else:
        pbx = fake(originate_traces={"101": "click_to_call_answered.txt"}, speed=5.0)
    async with pbx:
        yield pbx


@pytest.fixture
def hub_sections(hub_pbx: FakePbx) -> dict:
    return {"asterisk": {"enabled": True, "port": hub_pbx.port, "secret": "hubsecret", **LOCAL,
                         "backoff_initial_s": 0.05, "backoff_max_s": 0.2}}


async def test_click_to_call_from_the_clients_card_stores_one_answered_call_of_that_client(running, hub_pbx):  # noqa: F811
    from crm_core.models import Client, Contact, ContactKind

    async with running.hub.database.sessions() as s, s.begin():
        client = Client(name="Иван Петров", owner_id=running.agency.users["anna"])
        s.add(client)
        await s.flush()
        s.add(Contact(client_id=client.id, kind=ContactKind.PHONE, value=IVAN))
    await until(lambda: running.hub.telephony.state == "connected" and running.hub.telephony.client.up.is_set(), 10)
    anna = await running.browser("anna")
    await anna.get(f"/clients/{client.id}")
    resp, body = await anna.post("/calls/originate", {"client_id": str(client.id), "phone": "8 916 123-45-67"},
                                 headers={"Accept": "application/json"})
    assert resp.status == 200 and json.loads(body)["ok"] is True, body
    service = running.hub.telephony
    await until(lambda: service.stored == 1 and not service.calls.calls, 15)
    await asyncio.wait_for(service.idle.wait(), 10)
    async with running.hub.database.sessions() as s:
        calls = list((await s.execute(select(Call))).scalars())
    [call] = calls
    assert (call.direction, call.outcome, call.agent_id, call.client_id) == (
        "outbound", "answered", running.agency.users["anna"], client.id)
    assert {c.linkedid for c in calls} == linkedids(hub_pbx)
    _, page = await anna.get("/calls")
    assert "исходящий" in page and "Иван Петров" in page


async def test_a_refused_ami_login_shows_on_healthz_is_retried_with_back_off_and_the_hub_keeps_serving(
        running, hub_pbx):  # noqa: F811
    refusing_pbx = hub_pbx
    await until(lambda: refusing_pbx.actions["Login"] >= 3, 10)
    browser = await running.browser()
    resp, text = await browser.get("/healthz")
    body = json.loads(text)
    assert resp.status == 200 and body["connectors"]["asterisk"] == "auth_failed" and body["status"] == "degraded"
    assert body["database"]["state"] == "up"
    tries = refusing_pbx.actions["Login"]
    await asyncio.sleep(0.5)
    assert refusing_pbx.actions["Login"] - tries <= 8, "retried with back-off, not in a tight loop"
    refusing_pbx.secret = "hubsecret"  # the administrator fixes the PBX side: the next retry logs in
    await until(lambda: running.hub.telephony.state == "connected", 5)
    _, text = await browser.get("/healthz")
    assert json.loads(text)["connectors"]["asterisk"] == "connected"
