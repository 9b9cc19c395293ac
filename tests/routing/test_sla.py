"""The auction chain on a fake clock: not accepted → department pool → common pool → archive, planned days
missed, idle inquiries, refusals, and a restart in the middle of a period."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta

import pytest

from routing.calendar import WorkCalendar
from routing.sla import (
    InquiryClock,
    SlaConfig,
    after_action,
    after_claim,
    after_refusal,
    after_step,
    due_step,
    latest_planned_at,
    next_step,
    planned_today,
)
from tests.routing.world import MSK

AGENCY = SlaConfig()
TICK = timedelta(microseconds=1)


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=MSK)


def play(clock: InquiryClock, work, config: SlaConfig = AGENCY, until: datetime | None = None):
    """Jump the fake clock from deadline to deadline, carrying out each step when it falls due."""
    log = []
    now = clock.created_at
    while (step := next_step(clock, now, config, work)) is not None:
        if until is not None and step.deadline > until:
            break
        assert due_step(clock, step.deadline - TICK, config, work) is None  # never early
        now = max(now, step.deadline)
        due = due_step(clock, now, config, work)
        assert due is not None and due.due
        log.append((due.action, due.reason, due.deadline, due.notify))
        clock = after_step(clock, due)
    return log, clock


def test_an_unanswered_web_form_goes_from_intake_through_both_auctions_to_the_archive(work):
    form = InquiryClock(1, "webform", created_at=at(2025, 3, 7, 16, 30))  # the eve of 8 March: the day ends at 17
    log, final = play(form, work)
    both = ("agent", "supervisor")
    assert log == [
        # 30 min on Friday, 8–9 March off, 3.5 h on Monday
        ("to_department_pool", "not_accepted", at(2025, 3, 10, 12, 30), both),
        # 48 working hours in the department pool: 4.5 h Mon, 4 × 8 h Tue–Fri, 8 h Mon, 3.5 h Tue
        ("to_common_pool", "department_pool_expired", at(2025, 3, 18, 12, 30), both),
        # 2 calendar months in the common pool: Sunday 18 May, so at the start of Monday 19 May
        ("to_archive", "common_pool_expired", at(2025, 5, 19, 9), ("supervisor",)),
    ]
    assert final.pool == "archive"
    assert next_step(final, at(2026, 1, 1), AGENCY, work) is None


def test_an_inquiry_claimed_from_the_pool_starts_a_new_clock(work):
    form = InquiryClock(2, "email", created_at=at(2025, 3, 7, 16, 30))
    log, in_pool = play(form, work, until=at(2025, 3, 10, 12, 30))
    assert in_pool.pool == "department"
    taken = after_claim(in_pool, agent_id=5, at=at(2025, 3, 11, 10), planned_at=at(2025, 3, 12, 11))
    step = next_step(taken, at(2025, 3, 11, 10), AGENCY, work)
    # no action on the planned day (12 March): 24 working hours after the planned time, for an internet inquiry
    assert (step.action, step.reason, step.deadline, step.due) == (
        "to_department_pool", "planned_day_missed", at(2025, 3, 17, 11), False)


def test_a_call_with_no_action_on_its_planned_day_goes_to_the_pool_after_six_working_hours(work):
    call = after_claim(InquiryClock(3, "call", created_at=at(2025, 4, 29, 10)), agent_id=5, at=at(2025, 4, 29, 10, 5),
                       planned_at=at(2025, 4, 30, 15))
    step = next_step(call, at(2025, 4, 30, 9), AGENCY, work)
    # 15:00–17:00 on the shortened 30 April, 1–4 May off, 09:00–13:00 on 5 May
    assert (step.reason, step.deadline) == ("planned_day_missed", at(2025, 5, 5, 13))
    assert planned_today(call, at(2025, 4, 30, 8), work) and not planned_today(call, at(2025, 4, 29, 23), work)


def test_doing_something_on_the_planned_day_stops_the_planned_day_step(work):
    call = after_claim(InquiryClock(4, "call", created_at=at(2025, 4, 29, 10)), agent_id=5, at=at(2025, 4, 29, 10, 5),
                       planned_at=at(2025, 4, 30, 15))
    acted = after_action(call, at(2025, 4, 30, 11), planned_at=at(2025, 5, 6, 12))
    step = next_step(acted, at(2025, 4, 30, 11), AGENCY, work)
    # the new planned day is 6 May: 12:00–13:00 and 14:00–18:00 (5 h), then 09:00–10:00 on 7 May
    assert (step.reason, step.deadline) == ("planned_day_missed", at(2025, 5, 7, 10))


def test_seven_days_without_any_action_is_the_most_an_inquiry_may_wait(work):
    visit = after_claim(InquiryClock(5, "visit", created_at=at(2025, 3, 3, 10)), agent_id=5, at=at(2025, 3, 3, 10))
    step = next_step(visit, at(2025, 3, 3, 10), AGENCY, work)
    assert (step.action, step.reason, step.deadline) == ("to_department_pool", "idle_limit", at(2025, 3, 10, 10))
    assert latest_planned_at(at(2025, 3, 3, 10), AGENCY) == at(2025, 3, 10, 10)
    assert latest_planned_at(at(2025, 3, 3, 10), AGENCY, head=True) == at(2025, 5, 3, 10)


def test_the_third_refusal_sends_the_inquiry_to_the_archive_at_once(work):
    clock = InquiryClock(6, "webform", created_at=at(2025, 3, 3, 10))
    for minute in (1, 2):
        clock = after_refusal(clock, at(2025, 3, 3, 10, minute))
        assert next_step(clock, at(2025, 3, 3, 10, minute), AGENCY, work).reason != "refusals"
    clock = after_refusal(clock, at(2025, 3, 3, 10, 3))
    step = due_step(clock, at(2025, 3, 3, 10, 3), AGENCY, work)
    assert (step.action, step.reason, step.deadline, step.notify) == (
        "to_archive", "refusals", at(2025, 3, 3, 10, 3), ("agent", "supervisor"))


def test_a_restart_in_the_middle_of_the_department_auction_keeps_the_deadline(work):
    in_pool = InquiryClock(7, "telegram", created_at=at(2025, 3, 3, 10), pool="department",
                           pool_entered_at=at(2025, 3, 4, 15))
    before = next_step(in_pool, at(2025, 3, 6, 9), AGENCY, work)
    stored = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(in_pool).items()}
    # the hub restarts: nothing in memory, the row is read back
    revived = InquiryClock(**{k: datetime.fromisoformat(v) if k.endswith("_at") and v else v
                              for k, v in stored.items()})
    after = next_step(revived, at(2025, 3, 11, 16), AGENCY, work)
    assert before.deadline == after.deadline == at(2025, 3, 12, 16)  # 48 working hours after Tue 15:00
    assert not before.due and not after.due
    assert due_step(revived, at(2025, 3, 12, 16), AGENCY, work).action == "to_common_pool"
    assert after.from_pool == "department"  # the guarded update checks the row is still there


def test_the_thresholds_are_the_agencys_configuration():
    form = InquiryClock(8, "webform", created_at=at(2025, 3, 5, 9))
    work = WorkCalendar()
    quick = SlaConfig(accept_within_hours=1, notify={"not_accepted": ["supervisor"]})
    assert next_step(form, form.created_at, AGENCY, work).deadline == at(2025, 3, 5, 13)
    step = next_step(form, form.created_at, quick, work)
    assert (step.deadline, step.notify) == (at(2025, 3, 5, 10), ("supervisor",))
    with pytest.raises(ValueError, match="max_refusal"):
        SlaConfig(max_refusal=2)
    with pytest.raises(ValueError, match="greater than 0"):
        SlaConfig(department_pool_hours=0)


def test_a_closed_inquiry_has_no_step():
    done = InquiryClock(9, "call", created_at=at(2025, 3, 5, 9), closed=True)
    assert next_step(done, at(2026, 1, 1), AGENCY, WorkCalendar()) is None
