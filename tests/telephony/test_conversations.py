"""A call joins the caller's open inquiry (a conversation), or opens one: what the agent sees on the inquiry,
in the caller's card, in their load and in the KPI report."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bus.bus import EventBus
from crm_core.access import Actor
from crm_core.caller_card import caller_details
from crm_core.intake import IntakeService
from crm_core.models import (
    Call,
    Client,
    Contact,
    ContactKind,
    Department,
    Inquiry,
    InquiryEvent,
    InquiryStatus,
    Message,
    Role,
    Task,
    TimelineEntry,
)
from reports.filters import ReportFilter
from reports.queries import kpi
from reports.settings import ReportSettings
from routing.queries import agent_loads
from telephony.call_log import CallLog, load_agents
from telephony.model import CallRecord

from .drive import drive
from .test_service import seed

IVAN = "+79161234567"


def calls_of(name: str, turn: int, minutes_ago: float) -> list[CallRecord]:
    """The trace's calls as a fresh set (ids of their own), placed ``minutes_ago`` before now."""
    run = drive(name, t0=time.time() - minutes_ago * 60)
    return [replace(r, uniqueid=f"{r.uniqueid}-{turn}", linkedid=f"{r.linkedid}-{turn}") for r in run.records]


def call_log(db, **over) -> CallLog:  # noqa: ANN001
    return CallLog(db.sessions, IntakeService(db.sessions, EventBus()), **over)


async def store(db, log: CallLog, records: list[CallRecord]) -> None:  # noqa: ANN001
    agents = await load_agents(db.sessions)
    for record in records:
        await log.store(record, agents)


async def inquiries_of(db, phone: str) -> list[Inquiry]:  # noqa: ANN001
    async with db.sessions() as s:
        return list((await s.execute(
            select(Inquiry).join(Contact, Contact.client_id == Inquiry.client_id)
            .where(Contact.kind == ContactKind.PHONE, Contact.value == phone).order_by(Inquiry.id))).scalars())


async def test_a_clients_repeated_calls_are_one_conversation_with_every_call_and_a_line_saying_why(db):
    ids = await seed(db)
    log = call_log(db)
    for turn, minutes_ago in enumerate((60, 40, 20)):
        await store(db, log, calls_of("answered.txt", turn, minutes_ago))
    [inquiry] = await inquiries_of(db, IVAN)
    assert inquiry.channel == "call" and inquiry.owner_id == ids["anna"]
    async with db.sessions() as s:
        calls = list((await s.execute(select(Call).order_by(Call.id))).scalars())
        messages = list((await s.execute(select(Message).where(Message.inquiry_id == inquiry.id))).scalars())
        history = list((await s.execute(select(InquiryEvent).where(
            InquiryEvent.inquiry_id == inquiry.id).order_by(InquiryEvent.id))).scalars())
        timeline_calls = (await s.execute(select(func.count()).select_from(TimelineEntry).where(
            TimelineEntry.kind == "call", TimelineEntry.inquiry_id == inquiry.id))).scalar()
        card = await caller_details(s, ids["ivan"])
    assert [c.inquiry_id for c in calls] == [inquiry.id] * 3
    assert len(messages) == 3
    assert all(m.meta["outcome"] == "answered" and m.meta["recording"].endswith(".wav") for m in messages)
    assert timeline_calls == 3
    joined = [e for e in history if e.kind == "call_joined"]
    assert len(joined) == 2
    assert joined[0].note.startswith(f"Звонок добавлен к открытому обращению №{inquiry.id}")
    assert "30 дн." in joined[0].note
    assert [i["id"] for i in card["inquiries"]] == [inquiry.id]  # the pop-up's open inquiries: one
    async with db.sessions() as s:
        assert (await agent_loads(s, [ids["anna"]]))[ids["anna"]] == {"call": 1}  # not «Звонок 3/1»
        today = datetime.now(UTC).date()
        report = await kpi(s, Actor(0, Role.ADMIN, None), ReportFilter(today - timedelta(days=1), today + timedelta(
            days=1), ZoneInfo("UTC")), ReportSettings())
    anna = next(r for r in report.rows if r[0] == "Anna")
    assert anna[2] == 3 and anna[4] == 1  # three answered calls, one inquiry received


async def test_an_unknown_callers_repeated_calls_join_their_first_call_inquiry(db):
    await seed(db)
    log = call_log(db)
    await store(db, log, calls_of("transfer.txt", 0, 90))
    await store(db, log, calls_of("transfer.txt", 1, 30))
    [inquiry] = await inquiries_of(db, "+79857776655")
    async with db.sessions() as s:
        n = (await s.execute(select(func.count()).select_from(Call).where(Call.inquiry_id == inquiry.id))).scalar()
    assert n == 2


async def test_a_missed_call_is_a_callback_task_on_the_open_inquiry_not_a_new_inquiry(db):
    await seed(db)
    log = call_log(db)
    records = calls_of("abandon_rna.txt", 0, 30)
    missed = next(r for r in records if r.outcome == "abandoned")
    answered = replace(missed, uniqueid=missed.uniqueid + "a", linkedid=missed.linkedid + "a", outcome="answered",
                       answered_by="102", answered=missed.started + 5, started=missed.started - 3600)
    await store(db, log, [answered, missed])
    [inquiry] = await inquiries_of(db, "+74951112233")
    async with db.sessions() as s:
        [task] = (await s.execute(select(Task).where(Task.kind == "callback"))).scalars()
    assert task.inquiry_id == inquiry.id and task.status == "open"


async def test_a_call_for_another_department_or_after_the_window_opens_a_new_inquiry(db):
    ids = await seed(db)
    async with db.sessions() as s, s.begin():
        rent = Department(name="Аренда")
        s.add(rent)
        await s.flush()
        old = datetime.now(UTC) - timedelta(days=45)
        s.add(Inquiry(client_id=ids["ivan"], channel="email", external_id="old", thread_key="old",
                      department_id=ids["sales"], status=InquiryStatus.IN_WORK, created_at=old, last_action_at=old))
        s.add(Inquiry(client_id=ids["ivan"], channel="webform", external_id="rent", thread_key="rent",
                      department_id=rent.id, status=InquiryStatus.NEW))
    await store(db, call_log(db), calls_of("answered.txt", 0, 5))
    opened = [i for i in await inquiries_of(db, IVAN) if i.channel == "call"]
    assert len(opened) == 1 and opened[0].department_id == ids["sales"]


async def test_with_the_window_at_zero_every_call_opens_its_own_inquiry(db):
    await seed(db)
    log = call_log(db, join_window_days=0)
    await store(db, log, calls_of("answered.txt", 0, 20))
    await store(db, log, calls_of("answered.txt", 1, 10))
    assert len(await inquiries_of(db, IVAN)) == 2


async def test_a_call_that_opens_an_inquiry_takes_the_advertising_source_of_its_did(db):
    await seed(db)
    log = call_log(db, dids={"+7 (495) 000-00-01": "ЦИАН"})
    await store(db, log, calls_of("answered.txt", 0, 5))
    await store(db, log, calls_of("ring_no_answer.txt", 0, 5))  # DID 74950000003, not in the table
    [ivan] = await inquiries_of(db, IVAN)
    assert (ivan.source, ivan.did) == ("ЦИАН", "74950000001")
    async with db.sessions() as s:
        other = (await s.execute(select(Inquiry).join(Client).where(Inquiry.id != ivan.id))).scalar_one()
    assert other.source == other.did == "74950000003"
