"""The SLA scheduler over the database on a fake clock: offers run out, the auction chain runs in working
hours from intake to archive, a restart mid-period changes nothing, two schedulers do each step once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bus.events import Push
from crm_core.intake import IntakeService
from crm_core.models import Inquiry, InquiryEvent, Pool
from crm_core.models.routing import TeamOffer
from routing.calendar import WorkCalendar
from routing.service import RoutingService
from routing.sla import add_months
from routing.sla_scheduler import SlaScheduler
from tests.routing.dbworld import FakeClock, decisions, inquiry, open_inquiry, seed, service, set_rules
from tests.routing.world import MSK


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=MSK)


async def quiet_inquiry(db, bus, department_id: int, **kw) -> int:  # noqa: ANN001, ANN003
    """Opened with nobody listening, in the given department (as a DID or form would set it)."""
    inquiry_id = await open_inquiry(IntakeService(db.sessions, type(bus)()), **kw)
    async with db.sessions() as s, s.begin():
        (await s.get(Inquiry, inquiry_id)).department_id = department_id
    return inquiry_id


async def sla_events(db, inquiry_id: int) -> list[dict]:  # noqa: ANN001
    async with db.sessions() as s:
        return list((await s.execute(select(InquiryEvent.data).where(
            InquiryEvent.inquiry_id == inquiry_id, InquiryEvent.kind == "sla").order_by(InquiryEvent.id))).scalars())


@pytest.fixture
def pushes(bus) -> list[Push]:  # noqa: ANN001
    got: list[Push] = []

    async def record(p: Push) -> None:
        got.append(p)

    bus.subscribe(Push, record)
    return got


async def test_the_whole_chain_from_an_unclaimed_offer_to_the_archive(db, bus, work: WorkCalendar, pushes):
    agency = await seed(db)
    await set_rules(db, [{"id": "team", "priority": 1, "target": {"departments": [agency.sales]},
                          "strategy": "team_claim", "offer_seconds": 600, "owner_first": False}])
    clock = FakeClock(at(2025, 3, 4, 10, 0))  # Tuesday
    routing = service(db, bus, clock, work)
    await routing.start()
    await routing.caught_up()
    inquiry_id = await quiet_inquiry(db, bus, agency.sales)
    routed = await routing.route(inquiry_id)
    assert routed.outcome == "offer"
    offered_to = {p.user_ids for p in pushes if p.kind == "routing.offer"}
    assert offered_to == {(agency.users["anna"], agency.users["oleg"])}  # ivan is offline
    scheduler = SlaScheduler(db.sessions, bus, routing, clock=clock)

    clock.advance(minutes=9)
    assert await scheduler.run_once() == []
    assert (await inquiry(db, inquiry_id)).status == "offered"
    clock.advance(minutes=1)
    await scheduler.run_once()
    i = await inquiry(db, inquiry_id)
    assert (i.pool, i.owner_id) == (Pool.DEPARTMENT, None)
    last = (await decisions(db, inquiry_id))[-1]
    assert last.pool == "department" and "nobody claimed" in last.explanation["note"]
    entered = i.pool_entered_at
    to_common = work.add_working_hours(entered, 48)
    assert to_common.date() > at(2025, 3, 11).date()  # 8 March and the weekend do not count

    clock.now = to_common - timedelta(minutes=1)
    assert await scheduler.run_once() == []
    scheduler = SlaScheduler(db.sessions, bus, routing, clock=clock)  # a restart in the middle of the period
    clock.now = to_common
    [step] = await scheduler.run_once()
    assert (step.action, step.reason, step.pool) == ("to_common_pool", "department_pool_expired", "common")
    assert agency.users["boss"] in step.notified
    assert (await inquiry(db, inquiry_id)).pool == Pool.COMMON

    clock.now = add_months(to_common, 2, work) - timedelta(minutes=1)
    assert await scheduler.run_once() == []
    clock.now = add_months(to_common, 2, work)
    [step] = await scheduler.run_once()
    assert (step.action, step.pool) == ("to_archive", "archive")
    i = await inquiry(db, inquiry_id)
    assert (i.pool, i.status) == (Pool.ARCHIVE, "archived")
    assert [e["reason"] for e in await sla_events(db, inquiry_id)] == ["department_pool_expired",
                                                                       "common_pool_expired"]
    assert any(p.kind == "routing.sla" and agency.users["boss"] in p.user_ids for p in pushes)


async def test_a_web_inquiry_not_accepted_in_4_working_hours_goes_to_the_department_pool(db, bus, work, pushes):
    agency = await seed(db, {"anna": ("sales", "available")})
    await set_rules(db, [{"id": "sales", "priority": 1, "target": {"departments": [agency.sales]}}])
    clock = FakeClock(at(2025, 3, 14, 17, 0))  # Friday 17:00: one working hour left today
    routing = service(db, bus, clock, work)
    await routing.start()
    await routing.caught_up()
    inquiry_id = await quiet_inquiry(db, bus, agency.sales)
    async with db.sessions() as s, s.begin():
        (await s.get(Inquiry, inquiry_id)).created_at = clock()
    assert (await routing.route(inquiry_id)).agent_id == agency.users["anna"]
    scheduler = SlaScheduler(db.sessions, bus, routing, clock=clock)
    clock.now = at(2025, 3, 17, 11, 59)  # Monday: 1 h on Friday + 2 h 59 min
    assert await scheduler.run_once() == []
    assert (await inquiry(db, inquiry_id)).owner_id == agency.users["anna"]
    clock.now = at(2025, 3, 17, 12, 0)
    [step] = await scheduler.run_once()
    assert (step.reason, step.pool) == ("not_accepted", "department")
    assert set(step.notified) == {agency.users["anna"], agency.users["boss"]}
    i = await inquiry(db, inquiry_id)
    assert (i.pool, i.owner_id, i.pool_entered_at) == (Pool.DEPARTMENT, None, at(2025, 3, 17, 12, 0))


async def test_an_accepted_inquiry_does_not_escalate_for_not_being_accepted(db, bus, work):
    agency = await seed(db, {"anna": ("sales", "available")})
    await set_rules(db, [{"id": "sales", "priority": 1, "target": {"departments": [agency.sales]}}])
    clock = FakeClock(at(2025, 3, 14, 17, 0))
    routing = service(db, bus, clock, work)
    await routing.start()
    await routing.caught_up()
    inquiry_id = await quiet_inquiry(db, bus, agency.sales)
    await routing.route(inquiry_id)
    clock.advance(minutes=30)
    assert await routing.accept(inquiry_id, agency.users["anna"])
    scheduler = SlaScheduler(db.sessions, bus, routing, clock=clock)
    clock.now = at(2025, 3, 17, 12, 0)
    assert await scheduler.run_once() == []
    assert (await inquiry(db, inquiry_id)).owner_id == agency.users["anna"]


async def test_two_schedulers_at_the_same_deadline_carry_out_the_step_once(db, bus, work):
    agency = await seed(db, {"anna": ("sales", "offline")})
    await set_rules(db, [{"id": "sales", "priority": 1, "target": {"departments": [agency.sales]},
                          "on_no_agent": "department_pool"}])
    clock = FakeClock(at(2025, 3, 4, 10, 0))
    routing = service(db, bus, clock, work)
    await routing.start()
    await routing.caught_up()
    inquiry_id = await quiet_inquiry(db, bus, agency.sales)
    await routing.route(inquiry_id)
    assert (await inquiry(db, inquiry_id)).pool == Pool.DEPARTMENT
    first = SlaScheduler(db.sessions, bus, routing, clock=clock)
    second = SlaScheduler(db.sessions, bus, RoutingService(db.sessions, bus, work=work, clock=clock), clock=clock)
    await first.refresh()
    clock.now = at(2025, 3, 20, 10, 0)
    results = await asyncio.gather(first.run_once(), second.run_once(), return_exceptions=True)
    assert not [r for r in results if isinstance(r, BaseException)]
    assert sum(len(r) for r in results) == 1
    assert len(await sla_events(db, inquiry_id)) == 1
    assert (await inquiry(db, inquiry_id)).pool == Pool.COMMON


async def test_the_scheduler_loop_runs_as_an_owned_task_and_stops_cleanly(db, bus, work):
    agency = await seed(db)
    await set_rules(db, [{"id": "team", "priority": 1, "target": {"departments": [agency.sales]},
                          "strategy": "team_claim", "offer_seconds": 1, "owner_first": False}])
    routing = service(db, bus, FakeClock(datetime.now(MSK)), work)
    routing.clock = lambda: datetime.now(MSK)
    await routing.start()
    await routing.caught_up()
    inquiry_id = await quiet_inquiry(db, bus, agency.sales)
    await routing.route(inquiry_id)
    scheduler = SlaScheduler(db.sessions, bus, routing, poll_s=0.2)
    await scheduler.start()
    try:
        for _ in range(200):
            if (await inquiry(db, inquiry_id)).pool == Pool.DEPARTMENT:
                break
            await asyncio.sleep(0.05)
        assert (await inquiry(db, inquiry_id)).pool == Pool.DEPARTMENT
        async with db.sessions() as s:
            assert (await s.execute(select(TeamOffer.state).where(TeamOffer.inquiry_id == inquiry_id))).scalar() \
                == "expired"
    finally:
        await scheduler.stop()
    assert scheduler.state == "stopped" and scheduler._task is None  # noqa: SLF001


async def test_an_offer_closed_by_a_process_that_died_before_rerouting_is_rerouted_by_the_next_pass(db, bus, work):
    agency = await seed(db)
    await set_rules(db, [{"id": "team", "priority": 1, "target": {"departments": [agency.sales]},
                          "strategy": "team_claim", "offer_seconds": 600, "owner_first": False}])
    clock = FakeClock(at(2025, 3, 4, 10, 0))
    routing = service(db, bus, clock, work)
    await routing.start()
    await routing.caught_up()
    inquiry_id = await quiet_inquiry(db, bus, agency.sales)
    await routing.route(inquiry_id)
    async with db.sessions() as s, s.begin():  # the offer closed, then the process died
        offer = (await s.execute(select(TeamOffer).where(TeamOffer.inquiry_id == inquiry_id))).scalar_one()
        offer.state = "expired"
    await SlaScheduler(db.sessions, bus, routing, clock=clock).run_once()
    i = await inquiry(db, inquiry_id)
    assert (i.pool, i.status) == (Pool.DEPARTMENT, "new")


async def test_a_burst_of_inquiries_gets_its_deadlines_in_short_chunks_and_a_closed_one_loses_its(
        db, bus, work, monkeypatch):
    """Deadlines are recomputed a chunk at a time (one short transaction each, so intake's commits go in
    between): every open inquiry of the burst gets one, a re-pass replaces rather than doubles them, and
    an inquiry closed meanwhile has none left."""
    from sqlalchemy import func

    from crm_core.models import InquiryStatus, utcnow
    from crm_core.models.routing import SlaDeadline
    from routing import sla_scheduler

    monkeypatch.setattr(sla_scheduler, "REFRESH_CHUNK", 4)
    agency = await seed(db, {"anna": ("sales", "available")})
    clock = FakeClock(at(2025, 3, 14, 11, 0))
    routing = service(db, bus, clock, work)
    ids = [await quiet_inquiry(db, bus, agency.sales) for _ in range(10)]
    scheduler = SlaScheduler(db.sessions, bus, routing, clock=clock)
    assert await scheduler.refresh() == 10
    async with db.sessions() as s:
        rows = {r.inquiry_id: r for r in (await s.execute(select(SlaDeadline))).scalars()}
    assert set(rows) == set(ids) and all(r.reason == "not_accepted" for r in rows.values())
    async with db.sessions() as s, s.begin():
        closed = await s.get(Inquiry, ids[3])
        closed.status, closed.updated_at = InquiryStatus.DONE, utcnow()  # as any change stamps it
    assert await scheduler.refresh() >= 1  # the closed one changed since the last pass (the watermark)
    async with db.sessions() as s:
        left = set((await s.execute(select(SlaDeadline.inquiry_id))).scalars())
        total = (await s.execute(select(func.count()).select_from(SlaDeadline))).scalar_one()
    assert left == set(ids) - {ids[3]} and total == 9
