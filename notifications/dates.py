"""Clients' memorable dates: what is due is computed from the stored rows at every pass (no timers kept in
memory), so a restart or a second instance changes nothing.

- A reminder goes to the client's owner (else their department's heads) in working time from ``lead_days``
  before the date (a date on a day off with no lead: at the next working time, at most ``late_days`` after);
  its dedup key names the date and the occurrence, so it is sent once a year.
- A greeting goes to the client by Telegram or email, once per occurrence (``greetings_sent`` has a unique
  key), and only in working time: a date on a day off is greeted at the next working time, at most
  ``late_days`` after it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Client, Contact, ContactKind, MemorableDate, Role, TimelineEntry, User
from crm_core.models.notifications import DateReminder, GreetingSent, GreetingTemplate
from notifications.notifier import Notifier, insert_ignoring_duplicates
from routing.calendar import WorkCalendar

log = logging.getLogger("hub.notifications.dates")
MAX_LEAD_DAYS = 60
KIND_RU = {"birthday": "день рождения", "deal_anniversary": "годовщина сделки", "custom": "памятная дата"}
DEFAULT_GREETINGS = {
    "birthday": "Здравствуйте, {name}! {agency} поздравляет вас с днём рождения! Желаем здоровья и счастья.",
    "deal_anniversary": "Здравствуйте, {name}! Ровно год назад мы провели вашу сделку. {agency} благодарит "
                        "вас за доверие — будем рады помочь снова.",
    "custom": "Здравствуйте, {name}! {agency} поздравляет вас: {title}!",
}
PLACEHOLDERS = ("name", "title", "date", "agency")


def occurrence_in(on: date, year: int) -> date:
    """The date in a given year; 29 February is kept on 28 February in other years."""
    try:
        return on.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


def next_occurrence(on: date, repeat_yearly: bool, today: date, back_days: int = 0) -> date | None:
    """The first occurrence on or after ``today - back_days`` (None for a one-off date already past)."""
    start = today - timedelta(days=back_days)
    if not repeat_yearly:
        return on if on >= start else None
    for year in (start.year, start.year + 1):
        if year < on.year:
            continue
        when = occurrence_in(on, year)
        if when >= start:
            return when
    return None


def render(template: str, values: dict[str, str]) -> str:
    """Fill ``{name}``, ``{title}``, ``{date}``, ``{agency}``; nothing else is evaluated (no format())."""
    out = template
    for key in PLACEHOLDERS:
        out = out.replace("{" + key + "}", values.get(key, ""))
    return out


def _window_clause(first: date, last: date):  # noqa: ANN202
    """SQL: (month, day) within [first, last] (spanning a year end is fine); 29 Feb is in when 28 Feb is."""
    parts = []
    day = first
    while day <= last:
        month_end = (date(day.year + (day.month == 12), day.month % 12 + 1, 1) - timedelta(days=1))
        hi = min(last, month_end)
        top = 29 if day.month == 2 and hi.day >= 28 else hi.day
        parts.append(and_(MemorableDate.month == day.month, MemorableDate.day.between(day.day, top)))
        day = hi + timedelta(days=1)
    return or_(*parts)


@dataclass(frozen=True, slots=True)
class DateRow:
    date_id: int
    client_id: int
    client_name: str
    owner_id: int | None
    department_id: int | None
    kind: str
    on: date
    title: str | None
    lead_days: int
    repeat_yearly: bool
    greet_by: str | None
    template_id: int | None


class DateScheduler:
    def __init__(self, notifier: Notifier, work: WorkCalendar, *, default_lead_days: int = 3, late_days: int = 3,
                 agency_name: str = "", may_greet=None) -> None:  # noqa: ANN001 - (session, client id) → bool
        self.notifier = notifier
        self.may_greet = may_greet  # privacy: only a client who agreed to marketing is greeted
        self.work = work
        self.default_lead_days = default_lead_days
        self.late_days = late_days
        self.agency_name = agency_name
        self.reminded = 0
        self.greeted = 0

    async def run_once(self) -> tuple[int, int]:
        """One pass: (reminders stored, greetings queued)."""
        now = self.notifier.clock()
        today = now.astimezone(self.work.zone).date()
        rows = await self._candidates(today)
        reminded = greeted = 0
        for row in rows:
            reminded += await self._remind(row, today, now)
            if row.greet_by:
                greeted += await self._greet(row, today, now)
        self.reminded += reminded
        self.greeted += greeted
        return reminded, greeted

    async def _candidates(self, today: date) -> list[DateRow]:
        first, last = today - timedelta(days=self.late_days), today + timedelta(days=MAX_LEAD_DAYS)
        async with self.notifier.sessions() as s:
            rows = (await s.execute(
                select(MemorableDate.id, MemorableDate.client_id, Client.name, Client.owner_id, Client.department_id,
                       MemorableDate.kind, MemorableDate.on, DateReminder.title, DateReminder.lead_days,
                       DateReminder.repeat_yearly, DateReminder.greet_by, DateReminder.template_id)
                .join(Client, Client.id == MemorableDate.client_id)
                .outerjoin(DateReminder, DateReminder.date_id == MemorableDate.id)
                .where(_window_clause(first, last)).order_by(MemorableDate.id))).all()
        out = []
        for r in rows:
            lead = self.default_lead_days if r.lead_days is None else r.lead_days
            repeat = True if r.repeat_yearly is None else r.repeat_yearly
            out.append(DateRow(r.id, r.client_id, r.name or "", r.owner_id, r.department_id, r.kind, r.on, r.title,
                               lead, repeat, r.greet_by, r.template_id))
        return out

    async def _remind(self, row: DateRow, today: date, now: datetime) -> int:
        when = next_occurrence(row.on, row.repeat_yearly, today, back_days=self.late_days)
        if when is None or today < when - timedelta(days=row.lead_days) or not self.work.is_working_time(now):
            return 0  # not yet, or night / a day off (the agent is reminded in working time)
        async with self.notifier.sessions() as s:
            people = await _owners(s, row.owner_id, row.department_id)
        label = row.title or KIND_RU.get(row.kind, row.kind)
        days = (when - today).days
        left = "сегодня" if days == 0 else "завтра" if days == 1 else f"через {days} дн." if days > 0 else \
            f"было {-days} дн. назад"
        text = f"Памятная дата клиента {row.client_name or '№' + str(row.client_id)}: {label} — " \
               f"{when:%d.%m.%Y} ({left})"
        new = await self.notifier.notify("dates", people, text, f"/clients/{row.client_id}/dates",
                                         dedup_key=f"date:{row.date_id}:{when.isoformat()}")
        return len(new)

    async def _greet(self, row: DateRow, today: date, now: datetime) -> int:
        when = next_occurrence(row.on, row.repeat_yearly, today, back_days=self.late_days)
        if when is None or today < when or not self.work.is_working_time(now):
            return 0  # not yet, or night / a day off: a later pass greets
        channel = row.greet_by
        async with self.notifier.sessions() as s, s.begin():
            address = await _client_address(s, row.client_id, channel)
            if address is None:
                return 0  # no way to reach the client on that channel (shown on the dates page)
            if self.may_greet is not None and not await self.may_greet(s, row.client_id):
                return 0  # no consent to marketing (152-ФЗ, privacy/): nothing is sent
            template = await s.get(GreetingTemplate, row.template_id) if row.template_id else None
            body = template.body if template is not None and template.is_active else \
                DEFAULT_GREETINGS.get(row.kind, DEFAULT_GREETINGS["custom"])
            subject = template.subject if template is not None and template.subject else "Поздравляем!"
            values = {"name": row.client_name, "title": row.title or KIND_RU.get(row.kind, row.kind),
                      "date": f"{when:%d.%m}", "agency": self.agency_name}
            sent_id = (await s.execute(
                insert_ignoring_duplicates(s, GreetingSent.__table__, ["date_id", "occurrence"])
                .values(date_id=row.date_id, occurrence=when, channel=channel, at=now)
                .returning(GreetingSent.__table__.c.id))).scalar()
            if sent_id is None:
                return 0  # this occurrence was greeted already
            await Notifier.queue(s, f"greeting:{sent_id}", channel, address, render(subject, values),
                                 render(body, values), now)
            s.add(TimelineEntry(client_id=row.client_id, at=now, kind="greeting", channel=channel,
                                ref_id=sent_id, summary=render(body, values)[:200]))
        self.notifier.wakeup.set()
        log.info("greeting queued date=%s client=%s occurrence=%s by %s", row.date_id, row.client_id, when, channel)
        return 1


async def _owners(s: AsyncSession, owner_id: int | None, department_id: int | None) -> list[int]:
    if owner_id is not None:
        return [owner_id]
    if department_id is None:
        return []
    return list((await s.execute(select(User.id).where(
        User.department_id == department_id, User.is_active.is_(True),
        User.role.in_([Role.DEPT_HEAD, Role.DEPT_MANAGER])))).scalars())


async def _client_address(s: AsyncSession, client_id: int, channel: str) -> str | None:
    kind = {"telegram": ContactKind.TELEGRAM, "email": ContactKind.EMAIL}.get(channel)
    if kind is None:
        return None
    return (await s.execute(select(Contact.value).where(
        Contact.client_id == client_id, Contact.kind == kind, or_(Contact.label.is_(None), Contact.label != "blocked"))
        .order_by(Contact.id).limit(1))).scalar()

