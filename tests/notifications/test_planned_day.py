"""The planned day on a fake clock: the owner is told at the start of the working day, once per inquiry and
planned day (a restart changes nothing); a planned day off is told on the last working day before it; a
closed inquiry is not told."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from crm_core.models import Inquiry, InquiryStatus
from crm_core.models.notifications import Notification
from notifications.planned import PlannedDayScheduler, notice_day
from routing.calendar import WorkCalendar
from tests.notifications.helpers import Clock, FakeSender, Pushes, notifier, seed

MSK = ZoneInfo("Europe/Moscow")
WORK = WorkCalendar()  # Moscow, 09:00–18:00 with lunch, the Russian production calendar


def msk(y: int, m: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=MSK).astimezone(UTC)


async def add_inquiry(sessions, client_id: int, owner_id: int, planned_at: datetime,  # noqa: ANN001
                      status: InquiryStatus = InquiryStatus.IN_WORK) -> int:
    async with sessions() as s, s.begin():
        row = Inquiry(client_id=client_id, channel="call", external_id=f"planned-{planned_at.isoformat()}-{status}",
                      status=status, owner_id=owner_id, planned_action="Показ квартиры", planned_at=planned_at)
        s.add(row)
        await s.flush()
        return row.id


def scheduler(db, clock: Clock) -> PlannedDayScheduler:  # noqa: ANN001
    return PlannedDayScheduler(notifier(db.sessions, clock, Pushes(), FakeSender(), FakeSender(), WORK), WORK)


async def notices(sessions) -> list[tuple[int, str, str]]:  # noqa: ANN001
    async with sessions() as s:
        return [tuple(r) for r in (await s.execute(select(Notification.user_id, Notification.text,
                                                          Notification.dedup_key).order_by(Notification.id))).all()]


def test_a_planned_day_off_is_told_on_the_last_working_day_before():
    assert notice_day(date(2026, 1, 5), WORK) == date(2025, 12, 30)
    assert notice_day(date(2025, 6, 10), WORK) == date(2025, 6, 10)


async def test_the_owner_is_told_once_at_the_start_of_the_planned_day(db):
    people = await seed(db.sessions)
    clock = Clock(msk(2025, 6, 9, 17))  # Monday
    inquiry = await add_inquiry(db.sessions, people.client, people.anna, msk(2025, 6, 10, 10))  # Tuesday 10:00
    planned = scheduler(db, clock)

    assert await planned.run_once() == 0
    clock.now = msk(2025, 6, 10, 8, 59)
    assert await planned.run_once() == 0, "before the working day"
    clock.now = msk(2025, 6, 10, 9)
    assert await planned.run_once() == 1
    assert await planned.run_once() == 0
    clock.now = msk(2025, 6, 10, 9, 30)
    assert await scheduler(db, clock).run_once() == 0, "a restart tells nothing again"
    got = await notices(db.sessions)
    assert got == [(people.anna, f"Сегодня в 10:00 по обращению №{inquiry} запланировано: Показ квартиры",
                    f"planned:{inquiry}:2025-06-10")]


async def test_a_holiday_is_told_on_the_last_working_day_before_and_closed_never(db):
    people = await seed(db.sessions)
    clock = Clock(msk(2025, 12, 29, 12))
    inquiry = await add_inquiry(db.sessions, people.client, people.anna, msk(2026, 1, 5, 10))
    await add_inquiry(db.sessions, people.client, people.oleg, msk(2026, 1, 5, 10), InquiryStatus.DONE)
    await add_inquiry(db.sessions, people.client, people.oleg, msk(2025, 12, 30, 11), InquiryStatus.ARCHIVED)
    planned = scheduler(db, clock)

    assert await planned.run_once() == 0
    clock.now = msk(2025, 12, 30, 8, 59)
    assert await planned.run_once() == 0
    clock.now = msk(2025, 12, 30, 9)
    assert await planned.run_once() == 1
    clock.now = msk(2026, 1, 5, 9)
    assert await scheduler(db, clock).run_once() == 0
    got = await notices(db.sessions)
    assert got == [(people.anna, f"05.01.2026 в 10:00 по обращению №{inquiry} запланировано: Показ квартиры",
                    f"planned:{inquiry}:2026-01-05")]
