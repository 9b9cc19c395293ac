"""The SLA scheduler over the database on a fake clock, with the hub's default (official, shipped) calendar: a
head's two-month date holds an inquiry, seven idle days ending in the New Year holidays move at the start of
the next working day (the notice goes out then), and the client's own messages do not reset the seven days."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from agency.control import set_next_action
from bus.events import Push
from crm_core.access import Actor
from crm_core.intake import IntakeRequest, IntakeService
from crm_core.models import Inquiry, Pool, Role
from routing.calendar import WorkCalendar
from routing.sla_scheduler import SlaScheduler
from tests.routing.dbworld import FakeClock, inquiry, seed, service, set_rules
from tests.routing.world import MSK

WORK = WorkCalendar()  # the defaults: the official calendar shipped with the hub


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=MSK)


async def accepted_email(db, bus, clock: FakeClock, key: str):  # noqa: ANN001, ANN201
    """An email to sales, given to anna and accepted by her at the clock's time."""
    agency = await seed(db, {"anna": ("sales", "available")})
    await set_rules(db, [{"id": "sales", "priority": 1, "target": {"departments": [agency.sales]}}])
    routing = service(db, bus, clock, WORK)
    await routing.start()
    await routing.caught_up()
    result = await IntakeService(db.sessions, type(bus)()).accept(IntakeRequest(
        channel="email", external_id=key, thread_key=key, email="client@example.ru", text="Нужна квартира",
        received_at=clock()))
    async with db.sessions() as s, s.begin():
        (await s.get(Inquiry, result.inquiry_id)).department_id = agency.sales
    assert (await routing.route(result.inquiry_id)).agent_id == agency.users["anna"]
    assert await routing.accept(result.inquiry_id, agency.users["anna"])
    return agency, routing, result.inquiry_id


async def test_a_heads_date_two_months_ahead_keeps_the_inquiry_past_the_seven_days(db, bus):
    clock = FakeClock(at(2026, 3, 3, 10))
    agency, routing, inquiry_id = await accepted_email(db, bus, clock, "<head@x>")
    head = Actor(agency.users["boss"], Role.DEPT_HEAD, agency.sales)
    await set_next_action(db.sessions, head, inquiry_id, "Позвонить после майских", at(2026, 5, 2, 10),
                          now=at(2026, 3, 4, 12))
    scheduler = SlaScheduler(db.sessions, bus, routing, clock=clock)
    clock.now = at(2026, 3, 10, 10)  # seven days after the last action: before, it went to the pool here
    assert await scheduler.run_once() == []
    held = await inquiry(db, inquiry_id)
    assert (held.owner_id, held.planned_at) == (agency.users["anna"], at(2026, 5, 2, 10))
    # nobody acts on the day: 24 working hours from Saturday 2 May, i.e. from Monday 4 May 09:00 to 6 May 18:00
    assert await scheduler.next_deadline() == at(2026, 5, 6, 18)
    clock.now = at(2026, 5, 6, 17, 59)
    assert await scheduler.run_once() == []
    clock.now = at(2026, 5, 6, 18)
    [step] = await scheduler.run_once()
    assert (step.reason, step.pool) == ("planned_day_missed", "department")
    assert agency.users["boss"] in step.notified


async def test_seven_idle_days_ending_on_a_holiday_move_and_notify_at_the_next_working_start(db, bus):
    clock = FakeClock(at(2025, 12, 29, 11))
    pushes: list[Push] = []

    async def record(p: Push) -> None:
        pushes.append(p)

    bus.subscribe(Push, record)
    agency, routing, inquiry_id = await accepted_email(db, bus, clock, "<ny@x>")
    scheduler = SlaScheduler(db.sessions, bus, routing, clock=clock)
    assert await scheduler.run_once() == []
    assert await scheduler.next_deadline() == at(2026, 1, 12, 9)  # 5 January 11:00 is a holiday
    for moment in (at(2026, 1, 5, 11), at(2026, 1, 9, 12), at(2026, 1, 12, 8, 59)):
        clock.now = moment
        assert await scheduler.run_once() == [], moment
    assert not [p for p in pushes if p.kind == "routing.sla"]
    clock.now = at(2026, 1, 12, 9)
    [step] = await scheduler.run_once()
    assert (step.reason, step.pool) == ("idle_limit", "department")
    moved = await inquiry(db, inquiry_id)
    assert (moved.pool, moved.pool_entered_at) == (Pool.DEPARTMENT, at(2026, 1, 12, 9))
    [notice] = [p for p in pushes if p.kind == "routing.sla"]
    assert set(notice.user_ids) == {agency.users["anna"], agency.users["boss"]}


async def test_the_clients_messages_do_not_reset_the_agents_seven_days(db, bus):
    clock = FakeClock(at(2026, 3, 3, 10))
    agency, routing, inquiry_id = await accepted_email(db, bus, clock, "<idle@x>")
    await IntakeService(db.sessions, type(bus)()).accept(IntakeRequest(
        channel="email", external_id="<again@x>", reply_to=("<idle@x>",), email="client@example.ru",
        text="Вы мне ответите?", received_at=at(2026, 3, 6, 15)))
    async with db.sessions() as s:
        stored = (await s.execute(select(Inquiry).where(Inquiry.id == inquiry_id))).scalar_one()
    assert stored.last_action_at == at(2026, 3, 6, 15)  # the message is on the inquiry
    scheduler = SlaScheduler(db.sessions, bus, routing, clock=clock)
    clock.now = at(2026, 3, 10, 10)
    [step] = await scheduler.run_once()
    assert (step.reason, step.pool) == ("idle_limit", "department")  # 7 days after anna accepted it
