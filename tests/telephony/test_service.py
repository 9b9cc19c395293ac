"""Calls end to end below the web: fake PBX → AMI session → call state → pop-ups and stored calls."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import select

from bus.bus import EventBus
from bus.events import Push
from connectors.asterisk.fake_pbx import FakePbx
from connectors.asterisk.settings import AsteriskSettings
from connectors.asterisk.traces import read_trace
from crm_core.intake import IntakeService
from crm_core.lookup import find_client_by_phone
from crm_core.models import Call, Client, Contact, ContactKind, Department, Division, Inquiry, Recording, Task, User
from telephony.call_log import CallLog, load_agents, owner_of_caller
from telephony.service import TelephonyService

from .test_ami_client import FAST, until

# These tests are about calls, not about finding a dead link: a ping left unanswered 0.3 s on a loaded
# machine (the suite runs on two workers) could drop the link mid-call and store the call as lost track.
ROOMY_PING = {"ping_interval_s": 0.5, "ping_timeout_s": 3.0}


async def seed(db) -> dict[str, int]:  # noqa: ANN001
    ids: dict[str, int] = {}
    async with db.sessions() as s, s.begin():
        division = Division(name="Москва")
        s.add(division)
        await s.flush()
        sales = Department(name="Продажи", division_id=division.id)
        s.add(sales)
        await s.flush()
        for login, ext in (("anna", "101"), ("oleg", "102"), ("maria", "103")):
            user = User(login=login, password_hash="x", full_name=login.title(), role="agent",
                        department_id=sales.id, extension=ext)
            s.add(user)
            await s.flush()
            ids[login] = user.id
        ivan = Client(name="Иван Петров", owner_id=ids["anna"])
        s.add(ivan)
        await s.flush()
        s.add(Contact(client_id=ivan.id, kind=ContactKind.PHONE, value="+79161234567"))
        ids["ivan"] = ivan.id
        ids["sales"] = sales.id
    return ids


class Hub:
    """The pieces bootstrap wires, with the pushes kept for the test to read."""

    def __init__(self, db, pbx: FakePbx, **over: object) -> None:  # noqa: ANN001
        self.pushes: list[Push] = []
        self.db = db
        bus = EventBus()
        settings = AsteriskSettings(enabled=True, port=pbx.port, secret="hubsecret", **{**FAST, **ROOMY_PING, **over})
        log = CallLog(db.sessions, IntakeService(db.sessions, bus))

        async def publish(push: Push) -> None:
            self.pushes.append(push)

        async def lookup(number: str):  # noqa: ANN202
            async with db.sessions() as s:
                return await find_client_by_phone(s, number)

        self.service = TelephonyService(settings, publish=publish, lookup=lookup,
                                        load_agents=lambda: load_agents(db.sessions), store_call=log.store,
                                        find_owner=lambda number: owner_of_caller(db.sessions, number))

    async def __aenter__(self) -> Hub:
        await self.service.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.service.stop()

    async def settle(self, pbx: FakePbx) -> None:
        await asyncio.wait_for(pbx.replay_done.wait(), 20)
        await until(lambda: not self.service.calls.calls, 10)
        await asyncio.wait_for(self.service.idle.wait(), 10)

    def popups_for(self, user_id: int) -> list[dict]:
        return [p.payload for p in self.pushes if p.user_ids == (user_id,) and p.kind == "popup"]

    async def calls(self) -> list[Call]:
        async with self.db.sessions() as s:
            return list((await s.execute(select(Call).order_by(Call.id))).scalars())


def trace_count(name: str, event: str) -> int:
    return sum(1 for _, d, data in read_trace(name) if d == "<<<" and data.startswith(f"Event: {event}\r\n".encode()))


async def test_answered_call_pops_up_on_the_rung_agent_and_is_stored_with_its_client(db):
    from functools import partial

    from web import labels

    ids = await seed(db)
    async with FakePbx("answered.txt", secret="hubsecret", speed=20.0) as pbx, Hub(db, pbx) as hub:
        hub.service.queue_label = partial(labels.queue, names={"sales": "Линия продаж"})  # as web/app.py sets it
        await hub.settle(pbx)
        calls = await hub.calls()
    anna = hub.popups_for(ids["anna"])
    assert [p["title"] for p in anna][:2] == ["Входящий звонок", "Разговор"]
    assert "Линия продаж" in anna[0]["lines"] and "sales" not in anna[0]["lines"]  # the queue as people call it
    assert anna[0]["name"] == "Иван Петров" and anna[0]["client_id"] == ids["ivan"]
    assert anna[-1]["ended"] is True
    assert hub.popups_for(ids["oleg"]) == []
    [call] = calls
    assert (call.outcome, call.agent_id, call.client_id, call.caller) == ("answered", ids["anna"], ids["ivan"],
                                                                          "+79161234567")
    assert call.did == "74950000001" and call.talk_s > 0
    async with db.sessions() as s:
        inquiry = await s.get(Inquiry, call.inquiry_id)
        assert inquiry.client_id == ids["ivan"] and inquiry.channel == "call"
        [recording] = (await s.execute(select(Recording))).scalars()
        assert recording.call_id == call.id and recording.path.endswith(f"{call.uniqueid}.wav")


async def test_the_card_pops_up_before_the_callers_details_which_follow_in_a_frame_of_their_own(db):
    """The name is on the agent's screen while the phone rings, even when the details (owner, last calls,
    open inquiries) are slow to read; they follow as ``popup_details`` for the same call."""
    from crm_core.caller_card import caller_details

    ids = await seed(db)
    release = asyncio.Event()

    async def slow_details(client_id: int) -> dict:
        await release.wait()
        async with db.sessions() as s:
            return await caller_details(s, client_id)

    async with FakePbx("answered.txt", secret="hubsecret", speed=20.0) as pbx:
        hub = Hub(db, pbx)
        hub.service.details = slow_details
        async with hub:
            await until(lambda: hub.popups_for(ids["anna"]), 10)
            first = hub.popups_for(ids["anna"])[0]
            assert first["name"] == "Иван Петров" and first["client_id"] == ids["ivan"] and "owner" not in first
            assert not [p for p in hub.pushes if p.kind == "popup_details"]
            release.set()
            await until(lambda: [p for p in hub.pushes if p.kind == "popup_details"], 10)
            await hub.settle(pbx)
    follows = [p for p in hub.pushes if p.kind == "popup_details"]  # one per frame sent while they were read
    assert {(f.user_ids, f.payload["call_id"], f.payload["owner"]) for f in follows} == {
        ((ids["anna"],), first["call_id"], "Anna")}
    assert all(f.payload["inquiries"] == [] and "recent_calls" in f.payload for f in follows)


async def test_burst_of_twenty_calls_gives_twenty_records_and_a_callback_per_abandoned_number(db):
    await seed(db)
    async with FakePbx("burst20.txt", secret="hubsecret", speed=20.0) as pbx, Hub(db, pbx) as hub:
        await hub.settle(pbx)
        calls = await hub.calls()
    inbound = [c for c in calls if c.direction == "inbound"]
    assert len(inbound) == 20
    outcomes = Counter(c.outcome for c in inbound)
    assert outcomes["abandoned"] == trace_count("burst20.txt", "QueueCallerAbandon")
    async with db.sessions() as s:
        tasks = list((await s.execute(select(Task).where(Task.kind == "callback"))).scalars())
    abandoned_numbers = {c.caller for c in inbound if c.outcome in ("abandoned", "no_answer")}
    assert {t.phone for t in tasks} == abandoned_numbers
    assert len(tasks) == len(abandoned_numbers)


@pytest.mark.parametrize("trace", ["answered.txt", "ring_no_answer.txt", "transfer.txt", "abandon_rna.txt"])
async def test_link_dropped_mid_call_loses_no_call_and_doubles_none(db, trace: str):
    await seed(db)
    async with FakePbx(trace, secret="hubsecret", speed=10.0) as pbx, Hub(db, pbx) as hub:
        await until(lambda: pbx.events_sent > 15, 10)
        pbx.drop()
        await hub.settle(pbx)
        calls = await hub.calls()
        connects = hub.service.client.connects
    expected = trace_count(trace, "Hangup")  # every channel hangs up; the calls are their linked groups
    linked = {c.linkedid for c in calls}
    assert len(linked) == len(calls), "no call stored twice"
    assert connects == 2
    assert 0 < len(calls) <= expected
    assert all(c.outcome for c in calls)


async def test_calls_that_ended_while_the_link_was_down_close_answered_and_cut_by_the_link(db):
    ids = await seed(db)
    async with FakePbx("answered.txt", secret="hubsecret", speed=20.0,
                       hold_while_nobody_listens=False) as pbx, Hub(db, pbx, backoff_initial_s=3.0,
                                                                    backoff_max_s=3.0) as hub:
        # drop the link as soon as the call state has the answer (the pop-up lane may lag behind it)
        await until(lambda: any(c.answered_by for c in hub.service.calls.calls.values()), 10)
        pbx.drop()
        await asyncio.wait_for(pbx.replay_done.wait(), 20)
        await until(lambda: hub.service.client.connects == 2, 10)
        await until(lambda: not hub.service.calls.calls, 5)
        await asyncio.wait_for(hub.service.idle.wait(), 10)
        calls = await hub.calls()
    [call] = calls  # answered before the link dropped: answered it stays, talk up to the last event seen
    assert (call.outcome, call.cut_by, call.agent_id) == ("answered", "link_lost", ids["anna"])
    assert call.ended_at is not None and call.answered_at is not None


async def test_a_transferred_call_takes_its_card_from_101_to_103(db):
    ids = await seed(db)
    async with FakePbx("transfer.txt", secret="hubsecret", speed=20.0) as pbx, Hub(db, pbx) as hub:
        await hub.settle(pbx)
    anna = [p["title"] for p in hub.popups_for(ids["anna"])]
    maria = hub.popups_for(ids["maria"])
    assert "Звонок переведён" in anna
    assert maria and maria[0]["title"] == "Переведённый звонок" and maria[0]["number"] == "+79857776655"
    assert maria[-1]["ended"] is True


async def test_a_pbx_restart_mid_call_closes_the_call_once_answered_and_cut_by_the_pbx(db):
    ids = await seed(db)
    async with FakePbx("answered.txt", secret="hubsecret", speed=5.0) as pbx, Hub(db, pbx) as hub:
        await until(lambda: any(p.payload.get("title") == "Разговор" for p in hub.pushes), 10)
        pbx.restart()  # the live call dies with the PBX; its remaining events never come
        await until(lambda: hub.service.client.connects == 2, 10)
        await until(lambda: not hub.service.calls.calls, 5)
        await asyncio.wait_for(hub.service.idle.wait(), 10)
        calls = await hub.calls()
    [call] = calls  # the PBX came back with an uptime shorter than the call's silence: it died with the PBX
    assert (call.outcome, call.agent_id, call.cut_by) == ("answered", ids["anna"], "pbx_down")
    assert hub.popups_for(ids["anna"])[-1]["ended"] is True


async def test_a_callback_attempt_without_answer_is_retried_later_then_closed_as_unreachable(db):
    from datetime import timedelta

    from telephony.model import CallRecord

    ids = await seed(db)
    log = CallLog(db.sessions, IntakeService(db.sessions, EventBus()), callback_delay_s=900, callback_attempts=2)
    missed = CallRecord("m.1", "m.1", "inbound", "+79161234567", "74950000001", "Иван Петров", "74950000001",
                        "sales", ("101",), None, 1_800_000_000.0, 1_800_000_000.0, None, 1_800_000_030.0, 30.0, 0.0,
                        "abandoned", None, None)
    await log.store(missed, {})
    async with db.sessions() as s:
        [task] = (await s.execute(select(Task))).scalars()
    assert (task.status, task.phone, task.assignee_id) == ("open", "+79161234567", ids["anna"])
    for n, outcome in enumerate(("no_answer", "failed"), start=1):
        attempt = CallRecord(f"o.{n}", f"o.{n}", "outbound", "101", "+79161234567", None, None, None, (), None,
                             1_800_000_100.0 * n, None, None, 1_800_000_120.0 * n, 20.0, 0.0, outcome, None, None,
                             task_id=str(task.id))
        await log.store(attempt, {}, task_id=task.id)
        async with db.sessions() as s:
            task = await s.get(Task, task.id)
        if n == 1:
            assert task.status == "open" and task.attempts == 1
            assert task.due_at.timestamp() == pytest.approx(1_800_000_120.0 + timedelta(minutes=15).total_seconds())
    assert (task.status, task.attempts) == ("unreachable", 2)


async def test_a_finished_call_with_a_recording_is_queued_for_transcription_when_speech_is_on(db):
    from crm_core.models.speech import SpeechJob
    from telephony.model import CallRecord

    await seed(db)
    told = []
    log = CallLog(db.sessions, IntakeService(db.sessions, EventBus()), recordings_dir="/var/spool/asterisk/monitor",
                  transcribe=True, transcribe_attempts=5, transcription_queued=lambda: told.append(1))
    record = CallRecord("r.1", "r.1", "inbound", "+79161234567", "74950000001", "Иван Петров", "74950000001",
                        "sales", ("101",), "101", 1_800_000_000.0, 1_800_000_000.0, 1_800_000_005.0,
                        1_800_000_065.0, 5.0, 60.0, "answered", "r.1.wav", None)
    stored = await log.store(record, {})
    again = await log.store(record, {})
    async with db.sessions() as s:
        [job] = (await s.execute(select(SpeechJob))).scalars()
        [recording] = (await s.execute(select(Recording))).scalars()
    assert again.duplicate and recording.call_id == stored.call_id and job.recording_id == recording.id
    assert recording.path == "/var/spool/asterisk/monitor/r.1.wav" and job.status == "queued"
    assert job.max_attempts == 5 and told == [1]  # the configured retries; the speech service looks at once


async def test_a_missed_call_and_the_callback_match_whatever_form_the_pbx_wrote_the_number_in(db):
    """The PBX writes the caller as 79161234567 and the trunk dials 89161234567: both are stored as +E.164,
    so the missed-calls report sees the callback."""
    from datetime import date, timedelta
    from zoneinfo import ZoneInfo

    from crm_core.access import actor_for
    from reports import call_queries
    from reports.filters import ReportFilter
    from reports.settings import ReportSettings
    from telephony.model import CallRecord

    await seed(db)
    async with db.sessions() as s, s.begin():
        root = User(login="root", password_hash="x", full_name="Root", role="admin")
        s.add(root)
    log = CallLog(db.sessions, IntakeService(db.sessions, EventBus()))
    agents = await load_agents(db.sessions)
    t0 = 1_800_000_000.0
    await log.store(CallRecord("m.1", "m.1", "inbound", "79161234567", "74950000001", "", "74950000001", "sales",
                               ("101",), None, t0, t0, None, t0 + 40, 40.0, None, "abandoned", None, None), agents)
    await log.store(CallRecord("b.1", "b.1", "outbound", "101", "89161234567", "", None, None, (), "101", t0 + 300,
                               None, t0 + 305, t0 + 360, None, 55.0, "answered", None, None), agents)
    async with db.sessions() as s:
        callers = set((await s.execute(select(Call.caller))).scalars())
        callees = set((await s.execute(select(Call.callee))).scalars())
        actor = await actor_for(s, root.id)
        day = date.fromtimestamp(t0)
        report = await call_queries.missed(s, actor, ReportFilter(day - timedelta(days=1), day + timedelta(days=1),
                                                             ZoneInfo("Europe/Moscow")), ReportSettings())
    assert "+79161234567" in callers and "101" in callers and "+79161234567" in callees
    assert report.summary["total"] == 1 and report.summary["called_back"] == 1
    assert report.rows[0][7] == pytest.approx(260.0)  # called back 260 s after the missed call ended


async def test_an_answered_call_is_the_answering_agents_inquiry_in_work_and_a_missed_one_is_left_to_routing(db):
    from bus.events import InquiryOpened
    from telephony.model import CallRecord

    ids = await seed(db)
    bus, opened = EventBus(), []

    async def seen(event):
        opened.append(event)

    bus.subscribe(InquiryOpened, seen)
    log = CallLog(db.sessions, IntakeService(db.sessions, bus))
    agents = await load_agents(db.sessions)
    t0 = 1_800_000_000.0
    answered = await log.store(CallRecord("a.1", "a.1", "inbound", "+79035550001", "74950000001", "", "74950000001",
                                          "sales", ("101", "102"), "102", t0, t0, t0 + 4, t0 + 60, 4.0, 56.0,
                                          "answered", None, None), agents)
    missed = await log.store(CallRecord("a.2", "a.2", "inbound", "+79035550002", "74950000001", "", "74950000001",
                                        "sales", ("101",), None, t0, t0, None, t0 + 30, 30.0, None, "abandoned",
                                        None, None), agents)
    async with db.sessions() as s:
        taken = await s.get(Inquiry, answered.inquiry_id)
        left = await s.get(Inquiry, missed.inquiry_id)
    assert (taken.owner_id, taken.status, taken.department_id) == (ids["oleg"], "in_work", ids["sales"])
    assert taken.accepted_at is not None
    assert (left.owner_id, left.status) == (None, "new")
    assert [(e.inquiry_id, e.owner_id) for e in opened] == [(answered.inquiry_id, ids["oleg"]),
                                                             (missed.inquiry_id, None)]
