"""Duty schedules (графики дежурств): a weekly rota, dated exceptions, holidays off, night shifts."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from routing.duty import DutySchedule
from tests.routing.world import MSK


def at(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=MSK)


def test_a_weekday_rota_is_on_duty_in_its_hours_only():
    rota = DutySchedule.rota("office", {d: [("09:00", "18:00")] for d in ("mon", "tue", "wed", "thu", "fri")})
    assert rota.on_duty(at(2025, 3, 5, 9))
    assert rota.on_duty(at(2025, 3, 5, 17, 59))
    assert not rota.on_duty(at(2025, 3, 5, 18))
    assert not rota.on_duty(at(2025, 3, 8, 12))  # Saturday


def test_nobody_is_on_the_office_rota_on_a_public_holiday_unless_an_exception_says_so(official):
    weekdays = {d: [("09:00", "18:00")] for d in ("mon", "tue", "wed", "thu", "fri")}
    rota = DutySchedule.rota("office", weekdays)
    assert not rota.on_duty(at(2025, 6, 12, 12), official)  # Russia Day, a Thursday
    assert not rota.on_duty(at(2025, 6, 13, 12), official)  # the day off transferred to Friday
    assert rota.on_duty(at(2025, 6, 12, 12))  # without a calendar only the rota counts
    on_call = DutySchedule.rota("office", weekdays, {date(2025, 6, 12): [("10:00", "14:00")]})
    assert on_call.on_duty(at(2025, 6, 12, 12), official)
    assert not on_call.on_duty(at(2025, 6, 12, 15), official)
    keeps_working = DutySchedule.rota("shop", weekdays, holidays_off=False)
    assert keeps_working.on_duty(at(2025, 6, 12, 12), official)


def test_a_dated_exception_takes_a_day_off_the_rota():
    rota = DutySchedule.rota("office", {"wed": [("09:00", "18:00")]}, {date(2025, 3, 5): []})
    assert not rota.on_duty(at(2025, 3, 5, 12))
    assert rota.on_duty(at(2025, 3, 12, 12))


def test_a_night_shift_runs_past_midnight_into_the_next_day():
    night = DutySchedule.rota("night", {"fri": [("20:00", "08:00")]})
    assert night.on_duty(at(2025, 3, 7, 23, 59))
    assert night.on_duty(at(2025, 3, 8, 0, 0))
    assert night.on_duty(at(2025, 3, 8, 7, 59))
    assert not night.on_duty(at(2025, 3, 8, 8, 0))
    assert not night.on_duty(at(2025, 3, 7, 19, 59))
    assert night.on_duty(at(2025, 3, 1, 1, 0))  # Saturday 01:00: Friday 28 February's shift
    assert not night.on_duty(at(2025, 3, 6, 1, 0))  # Thursday 01:00: Wednesday had no shift


def test_bad_rotas_are_refused_with_the_schedule_named():
    with pytest.raises(ValueError, match="duty schedule 'x': unknown weekday"):
        DutySchedule.rota("x", {"monday": [("09:00", "18:00")]})
    with pytest.raises(ValueError, match="duty schedule 'y': .*not a time of day"):
        DutySchedule.rota("y", {"mon": [("9am", "18:00")]})


def test_an_office_rota_works_the_working_saturday_and_ends_early_on_a_shortened_day(official):
    weekdays = {d: [("09:00", "13:00"), ("14:00", "18:00")] for d in ("mon", "tue", "wed", "thu", "fri")}
    rota = DutySchedule.rota("office", weekdays)
    # Saturday 1 November 2025 is worked for Monday 3 November, and shortened: 09:00–13:00, 14:00–17:00
    assert rota.on_duty(at(2025, 11, 1, 10), official)
    assert rota.on_duty(at(2025, 11, 1, 16, 59), official)
    assert not rota.on_duty(at(2025, 11, 1, 17, 30), official)
    assert not rota.on_duty(at(2025, 11, 3, 10), official)  # its day off moved to Monday
    assert not rota.on_duty(at(2025, 11, 4, 10), official)  # Unity Day
    assert not rota.on_duty(at(2025, 11, 8, 10), official)  # an ordinary Saturday
    assert not rota.on_duty(at(2025, 4, 30, 17, 30), official)  # the eve of 1 May ends at 17:00
    assert rota.on_duty(at(2025, 4, 29, 17, 30), official)


def test_a_rota_may_say_otherwise_for_working_saturdays_and_shortened_days(official):
    weekdays = {d: [("09:00", "18:00")] for d in ("mon", "tue", "wed", "thu", "fri")}
    assert not DutySchedule.rota("fixed", weekdays, holidays_off=False).on_duty(at(2025, 11, 1, 10), official)
    assert DutySchedule.rota("fixed", weekdays, holidays_off=False).on_duty(at(2025, 4, 30, 17, 30), official)
    late = DutySchedule.rota("office", weekdays, {date(2025, 4, 30): [("09:00", "18:00")]})
    assert late.on_duty(at(2025, 4, 30, 17, 30), official)
    night = DutySchedule.rota("night", {"wed": [("20:00", "08:00")]})
    assert night.on_duty(at(2025, 5, 1, 7), official)  # a night shift is not shortened
