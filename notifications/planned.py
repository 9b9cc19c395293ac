"""The planned day of an inquiry: on the morning of its next-action date (``planned_at``, «План» in the inbox)
the owner is told what is planned, at the start of the working day (the department's own zone and hours when
it has them, else the agency's). A planned day that is not a
working day is told at the start of the last working day before it, so the agent can still act.

Like the memorable dates, what is due is computed from the stored rows at every pass; the notice's dedup key
(``planned:<inquiry>:<planned day>``, unique per user in ``notifications``) makes it once per inquiry and
planned day across passes, restarts and instances."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from crm_core.models import Inquiry, InquiryStatus
from notifications.notifier import Notifier
from routing.calendar import WorkCalendar
from routing.department_time import DepartmentTime
from routing.department_time import refresh as refresh_department_time

LOOK_BACK_DAYS = 31  # the farthest a planned day can be from the last working day before it
CLOSED = (InquiryStatus.DONE, InquiryStatus.ARCHIVED)


def notice_day(planned: date, work: WorkCalendar) -> date:
    """The planned day when it is a working day, else the last working day before it."""
    day = planned
    for _ in range(LOOK_BACK_DAYS):
        if work.working_hours_on(day) > 0:
            return day
        day -= timedelta(days=1)
    return planned  # no working day in a month before: the calendar is wrong; tell on the day itself


def notice_moment(planned: date, work: WorkCalendar) -> datetime:
    """When the notice goes out: the start of the working day that ``notice_day`` names."""
    day = notice_day(planned, work)
    midnight = datetime.combine(day, time(0), tzinfo=work.zone)
    start = work.next_working_time(midnight)
    return start if start.date() == day else midnight


def notice_text(inquiry_id: int, action: str | None, planned_at: datetime, today: date, work: WorkCalendar) -> str:
    local = planned_at.astimezone(work.zone)
    when = "Сегодня" if local.date() == today else f"{local:%d.%m.%Y}"
    return f"{when} в {local:%H:%M} по обращению №{inquiry_id} запланировано: {action or 'следующее действие'}"


class PlannedDayScheduler:
    def __init__(self, notifier: Notifier, work: WorkCalendar) -> None:
        self.notifier = notifier
        self.work = work
        self.times = DepartmentTime(work)
        self.told = 0

    async def run_once(self) -> int:
        """One pass: how many notices were stored."""
        now = self.notifier.clock()
        async with self.notifier.sessions() as s:
            await refresh_department_time(s, self.times)
            rows = (await s.execute(
                select(Inquiry.id, Inquiry.owner_id, Inquiry.planned_action, Inquiry.planned_at, Inquiry.department_id)
                .where(Inquiry.planned_at.is_not(None), Inquiry.owner_id.is_not(None),
                       Inquiry.status.not_in(CLOSED),
                       Inquiry.planned_at >= now - timedelta(days=2),
                       Inquiry.planned_at < now + timedelta(days=LOOK_BACK_DAYS + 2))
                .order_by(Inquiry.id))).all()
        told = 0
        for inquiry_id, owner_id, action, planned_at, department_id in rows:
            if planned_at is None or owner_id is None:
                continue  # the query excludes them; this tells the type checker
            work = self.times.of(department_id)
            today = now.astimezone(work.zone).date()
            planned = planned_at.astimezone(work.zone).date()
            if today > planned or now < notice_moment(planned, work):
                continue  # the planned day is over, or its morning has not come yet
            new = await self.notifier.notify(
                "sla", [owner_id], notice_text(inquiry_id, action, planned_at, today, work),
                f"/inquiries/{inquiry_id}", dedup_key=f"planned:{inquiry_id}:{planned.isoformat()}")
            told += len(new)
        self.told += told
        return told
