"""Memorable dates on a fake clock: the owner is reminded ahead, once a year; a greeting goes to the client
once per date and only in working time (not at night, not on a day off)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from crm_core.models import MemorableDate, TimelineEntry
from crm_core.models.notifications import DateReminder, GreetingTemplate, Notification
from notifications.dates import DateScheduler, next_occurrence, render
from notifications.prefs import save_prefs
from routing.calendar import WorkCalendar
from tests.notifications.helpers import Clock, FakeSender, Pushes, TemporarySendError, notifier, seed

MSK = ZoneInfo("Europe/Moscow")
WORK = WorkCalendar()  # Moscow, 09:00–18:00 with lunch, the Russian production calendar


def msk(y: int, m: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=MSK).astimezone(UTC)


async def add_date(sessions, client_id: int, on: date, kind: str = "birthday", **reminder) -> int:  # noqa: ANN001
    async with sessions() as s, s.begin():
        row = MemorableDate(client_id=client_id, kind=kind, on=on, month=on.month, day=on.day)
        s.add(row)
        await s.flush()
        if reminder:
            s.add(DateReminder(date_id=row.id, **reminder))
        return row.id


def scheduler(db, clock: Clock, tg: FakeSender, mail: FakeSender, pushes: Pushes | None = None) -> DateScheduler:  # noqa: ANN001
    n = notifier(db.sessions, clock, pushes or Pushes(), tg, mail, WORK)
    return DateScheduler(n, WORK, default_lead_days=3, late_days=3, agency_name="Агентство «Дом»")


async def notices(sessions) -> list[tuple[int, str]]:  # noqa: ANN001
    async with sessions() as s:
        return [tuple(r) for r in (await s.execute(select(Notification.user_id, Notification.text)
                                                   .order_by(Notification.id))).all()]


def test_occurrences_roll_over_the_year_and_keep_29_february():
    assert next_occurrence(date(1990, 1, 2), True, date(2025, 12, 30)) == date(2026, 1, 2)
    assert next_occurrence(date(2000, 2, 29), True, date(2025, 2, 1)) == date(2025, 2, 28)
    assert next_occurrence(date(2025, 3, 1), False, date(2025, 3, 2)) is None
    assert render("{name}, {title}! {agency} {__class__}", {"name": "Иван", "title": "праздник"}) == \
        "Иван, праздник!  {__class__}"


async def test_the_owner_is_reminded_ahead_once_a_year(db):
    people = await seed(db.sessions)
    clock, tg, mail, pushes = Clock(msk(2025, 6, 2, 11)), FakeSender(), FakeSender(), Pushes()
    await add_date(db.sessions, people.client, date(1985, 6, 6))  # defaults: 3 days ahead, yearly
    await add_date(db.sessions, people.client, date(1985, 6, 20), lead_days=7, repeat_yearly=True)
    dates = scheduler(db, clock, tg, mail, pushes)

    await dates.run_once()
    assert await notices(db.sessions) == [], "4 days ahead: not yet"
    clock.now = msk(2025, 6, 3, 9)
    await dates.run_once()
    await dates.run_once()
    clock.now = msk(2025, 6, 5, 15)
    await dates.run_once()
    got = await notices(db.sessions)
    assert len(got) == 1 and got[0][0] == people.anna
    assert "Иван Петров" in got[0][1] and "06.06.2025" in got[0][1] and "через 3 дн." in got[0][1]
    assert len(pushes.frames) == 1

    clock.now = msk(2026, 6, 3, 9)
    await dates.run_once()
    assert len(await notices(db.sessions)) == 2, "the next year's occurrence is reminded again"


async def test_greeting_sent_once_and_not_at_night(db):
    people = await seed(db.sessions)
    clock, tg, mail = Clock(msk(2025, 6, 4, 2, 30)), FakeSender(), FakeSender()  # Wednesday, 02:30 in Moscow
    await add_date(db.sessions, people.client, date(1985, 6, 4), lead_days=0, repeat_yearly=True,
                   greet_by="telegram")
    first, second = scheduler(db, clock, tg, mail), scheduler(db, clock, tg, mail)

    await first.run_once()
    await first.notifier.deliver_due()
    assert tg.sent == [], "no greeting at night"

    clock.now = msk(2025, 6, 4, 10)
    for s in (first, second, first):
        await s.run_once()
        await s.notifier.deliver_due()
    greetings = [t for t in tg.sent if t[0] == "777"]
    assert len(greetings) == 1, "one greeting, however many passes and instances"
    assert "Иван Петров" in greetings[0][2] and "днём рождения" in greetings[0][2] and "«Дом»" in greetings[0][2]

    clock.now = msk(2025, 6, 5, 10)
    await first.run_once()
    await first.notifier.deliver_due()
    assert len([t for t in tg.sent if t[0] == "777"]) == 1
    async with db.sessions() as s:
        kinds = (await s.execute(select(TimelineEntry.kind).where(TimelineEntry.client_id == people.client)))
        assert list(kinds.scalars()) == ["greeting"], "the client's timeline shows the greeting"


async def test_a_date_on_a_day_off_is_greeted_at_the_next_working_time_with_the_template(db):
    people = await seed(db.sessions)
    async with db.sessions() as s, s.begin():
        tpl = GreetingTemplate(name="Юбилей сделки", subject="{name}, с годовщиной!",
                               body="{name}, год назад ({date}) вы купили квартиру с {agency}!")
        s.add(tpl)
        await s.flush()
        tpl_id = tpl.id
    await add_date(db.sessions, people.client, date(2024, 6, 7), kind="deal_anniversary", lead_days=1,
                   repeat_yearly=True, greet_by="email", template_id=tpl_id)  # 7 June 2025 is a Saturday
    clock, tg, mail = Clock(msk(2025, 6, 7, 12)), FakeSender(), FakeSender()
    dates = scheduler(db, clock, tg, mail)
    await dates.run_once()
    await dates.notifier.deliver_due()
    assert [m for m in mail.sent if m[0] == "ivan@example.ru"] == [], "Saturday is not working time"

    clock.now = msk(2025, 6, 9, 9, 5)  # Monday morning
    await dates.run_once()
    await dates.notifier.deliver_due()
    assert [m for m in mail.sent if m[0] == "ivan@example.ru"] == [
        ("ivan@example.ru", "Иван Петров, с годовщиной!", "Иван Петров, год назад (07.06) вы купили квартиру с "
                                                        "Агентство «Дом»!")]


async def test_a_greeting_too_late_after_a_long_holiday_is_not_sent(db):
    people = await seed(db.sessions)
    await add_date(db.sessions, people.client, date(1990, 1, 2), lead_days=0, repeat_yearly=True, greet_by="telegram")
    clock, tg, mail = Clock(msk(2025, 1, 9, 10)), FakeSender(), FakeSender()  # first working day after the holidays
    dates = scheduler(db, clock, tg, mail)
    await dates.run_once()
    await dates.notifier.deliver_due()
    assert [t for t in tg.sent if t[0] == "777"] == [], "a week late: no belated greeting"


async def test_a_greeting_whose_send_failed_is_not_retried_at_night(db):
    people = await seed(db.sessions)
    await add_date(db.sessions, people.client, date(1985, 6, 4), lead_days=0, repeat_yearly=True, greet_by="telegram")
    async with db.sessions() as s, s.begin():
        await save_prefs(s, people.anna, {"dates": ["browser"]})  # only the greeting goes by Telegram
    clock, tg, mail = Clock(msk(2025, 6, 4, 17, 59)), FakeSender(), FakeSender()
    dates = scheduler(db, clock, tg, mail)
    tg.fail = [TemporarySendError("network down")]
    await dates.run_once()
    await dates.notifier.deliver_due()
    assert tg.sent == [] and tg.fail == [], "the first attempt failed"
    clock.now = msk(2025, 6, 4, 18, 5)  # the retry is due, but the working day is over
    await dates.notifier.deliver_due()
    clock.now = msk(2025, 6, 5, 3, 0)
    await dates.notifier.deliver_due()
    assert tg.sent == [], "the greeting waits for the morning"
    clock.now = msk(2025, 6, 5, 9, 0)
    await dates.notifier.deliver_due()
    assert [to for to, _, _ in tg.sent] == ["777"]
