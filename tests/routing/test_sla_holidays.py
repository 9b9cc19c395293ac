"""The SLA chain's rules agree, on a fake clock, with the hub's default (official) calendar: the New Year and
May holidays, a department head's two-month date, an agent's 7-day date and a working Saturday; every
deadline to the minute (docs/sla.md has the same examples)."""

from __future__ import annotations

from datetime import datetime, timedelta

from config.settings import Settings
from routing.calendar import WorkCalendar
from routing.sla import (
    InquiryClock,
    SlaConfig,
    after_action,
    after_claim,
    after_step,
    due_step,
    latest_planned_at,
    next_step,
)
from tests.routing.world import MSK

AGENCY = SlaConfig()
WORK = WorkCalendar(Settings().routing.hours)  # the hub's defaults: nothing configured
TICK = timedelta(microseconds=1)


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=MSK)


def walk(clock: InquiryClock, now: datetime, until: datetime | None = None) -> list[tuple[str, datetime]]:
    """Jump the fake clock from deadline to deadline; each step is never early and is carried out when due."""
    log = []
    while (step := next_step(clock, now, AGENCY, WORK)) is not None:
        if until is not None and step.deadline > until:
            break
        assert due_step(clock, step.deadline - TICK, AGENCY, WORK) is None
        now = max(now, step.deadline)
        due = due_step(clock, now, AGENCY, WORK)
        assert due is not None
        log.append((due.reason, due.deadline))
        clock = after_step(clock, due)
    return log


def test_a_form_of_30_december_waits_for_acceptance_until_12_january_not_the_7_days():
    form = InquiryClock(1, "webform", created_at=at(2025, 12, 30, 17, 30))
    assert walk(form, form.created_at) == [
        ("not_accepted", at(2026, 1, 12, 12, 30)),  # 30 min on 30 December, 31 Dec–11 Jan off, 3.5 h on the 12th
        ("department_pool_expired", at(2026, 1, 20, 12, 30)),  # 48 working hours
        ("common_pool_expired", at(2026, 3, 20, 12, 30)),  # 2 months, a Friday
    ]
    assert next_step(form, at(2026, 1, 6, 17, 30), AGENCY, WORK).deadline == at(2026, 1, 12, 12, 30)


def test_seven_idle_days_ending_on_a_holiday_move_at_the_start_of_the_next_working_day():
    visit = after_claim(InquiryClock(2, "visit", created_at=at(2025, 12, 29, 10)), 5, at(2025, 12, 29, 11))
    assert walk(visit, at(2025, 12, 29, 11), until=at(2026, 1, 12, 9)) == [
        ("idle_limit", at(2026, 1, 12, 9)),  # 7 days is 5 January 11:00, a holiday
    ]


def test_a_heads_date_two_months_ahead_holds_the_inquiry_through_the_may_holidays():
    call = after_claim(InquiryClock(3, "call", created_at=at(2026, 3, 3, 9, 50)), 5, at(2026, 3, 3, 10))
    assert next_step(call, at(2026, 3, 3, 10), AGENCY, WORK).deadline == at(2026, 3, 10, 10)  # without the date
    head_set_at = at(2026, 3, 4, 12)
    assert latest_planned_at(head_set_at, AGENCY, head=True) == at(2026, 5, 4, 12)
    held = InquiryClock(**{**{f: getattr(call, f) for f in call.__slots__}, "planned_at": at(2026, 5, 2, 10)})
    step = next_step(held, at(2026, 3, 10, 10), AGENCY, WORK)
    assert not step.due  # 10 March passes: nothing moves, the head's date stays
    assert walk(held, at(2026, 3, 10, 10)) == [
        # 2 May is a Saturday: 6 working hours from Monday 4 May 09:00 (lunch 13–14)
        ("planned_day_missed", at(2026, 5, 4, 16)),
        # 48 working hours: 2 h on 4 May, 5–7 May, the shortened 8th (7 h), 9–11 May off, 12 May, 7 h on 13 May
        ("department_pool_expired", at(2026, 5, 13, 17)),
        ("common_pool_expired", at(2026, 7, 13, 17)),
    ]


def test_acting_on_the_heads_date_starts_seven_days_that_skip_the_holiday_of_11_may():
    call = after_claim(InquiryClock(4, "call", created_at=at(2026, 3, 3, 9, 50)), 5, at(2026, 3, 3, 10))
    held = after_action(call, at(2026, 3, 4, 12), planned_at=at(2026, 5, 2, 10))
    acted = after_action(held, at(2026, 5, 4, 11))
    step = next_step(acted, at(2026, 5, 4, 11), AGENCY, WORK)
    assert (step.reason, step.deadline) == ("idle_limit", at(2026, 5, 12, 9))  # 11 May 11:00 is a day off


def test_an_agents_date_at_most_seven_days_ahead_across_the_may_holidays():
    email = after_claim(InquiryClock(5, "email", created_at=at(2026, 4, 29, 10)), 5, at(2026, 4, 29, 10, 30))
    planned = after_action(email, at(2026, 4, 30, 15), planned_at=at(2026, 5, 7, 11))
    assert latest_planned_at(at(2026, 4, 30, 15), AGENCY) == at(2026, 5, 7, 15)
    assert walk(planned, at(2026, 4, 30, 15), until=at(2026, 5, 13, 12)) == [
        # 24 working hours from 7 May 11:00: 6 h, the shortened 8th 7 h, 9–11 May off, 12 May 8 h, 3 h on the 13th
        ("planned_day_missed", at(2026, 5, 13, 12)),
    ]


def test_a_working_saturday_counts_shortened_and_a_deadline_on_it_stays_on_it():
    form = InquiryClock(6, "webform", created_at=at(2025, 11, 1, 15))
    # 15:00–17:00 on the shortened Saturday, 3 and 4 November off, 2 h on Wednesday 5 November
    assert next_step(form, form.created_at, AGENCY, WORK).deadline == at(2025, 11, 5, 11)
    visit = after_claim(InquiryClock(7, "visit", created_at=at(2025, 10, 25, 12)), 5, at(2025, 10, 25, 12))
    assert next_step(visit, at(2025, 10, 25, 12), AGENCY, WORK).deadline == at(2025, 11, 1, 12)  # a working day
    later = after_action(visit, at(2025, 11, 1, 12))
    assert next_step(later, at(2025, 11, 1, 12), AGENCY, WORK).deadline == at(2025, 11, 10, 9)  # Sat 8th → Mon
