"""Working hours over the Russian production calendar: the official per-month figures, weekends, holidays,
transferred Saturdays, shortened pre-holiday days and midnight."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.calendar import (
    CalendarFileError,
    DayKind,
    HolidaysLibraryCalendar,
    WorkCalendar,
    WorkingHours,
)
from routing.calendar_files import XmlCalendar
from tests.routing.world import MSK


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=MSK)


def summary(calendar_dir: Path) -> list[dict[str, str]]:
    with open(calendar_dir / "SUMMARY_ru_2025_2026_derived.tsv", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def month_days(year: int, month: int) -> list[date]:
    first = date(year, month, 1)
    following = date(year + (month == 12), month % 12 + 1, 1)
    return [first + timedelta(days=i) for i in range((following - first).days)]


def test_every_month_of_2025_and_2026_has_the_official_working_days_and_hours(calendar_dir, work):
    rows = summary(calendar_dir)
    assert len(rows) == 24
    for row in rows:
        year, month = int(row["year"]), int(row["month"])
        days = month_days(year, month)
        start, end = at(year, month, 1), at(year, month, 1) + timedelta(days=len(days))
        assert work.working_hours_between(start, end) == float(row["hours_40h"]), row
        assert sum(work.day_kind(d) != DayKind.DAY_OFF for d in days) == int(row["working_days"]), row
        shortened = [d.isoformat() for d in days if work.day_kind(d) == DayKind.SHORTENED]
        assert shortened == [x for x in row["shortened_days"].split(",") if x], row
        weekdays_off = [d.isoformat() for d in days if d.weekday() < 5 and work.day_kind(d) == DayKind.DAY_OFF]
        assert weekdays_off == [x for x in row["nonworking_weekdays(holidays+transferred)"].split(",") if x], row
        weekend_work = [d.isoformat() for d in days if d.weekday() >= 5 and work.day_kind(d) != DayKind.DAY_OFF]
        assert weekend_work == [x for x in row["working_weekend_days"].split(",") if x], row


def test_holidays_library_misses_only_the_shortened_working_saturday_of_1_november_2025(official, library):
    differences = {
        d: (library.day_kind(d), official.day_kind(d))
        for year in (2025, 2026) for month in range(1, 13) for d in month_days(year, month)
        if library.day_kind(d) != official.day_kind(d)
    }
    # the library knows the transfer (a working Saturday) but not that the decree made it an hour shorter
    assert differences == {date(2025, 11, 1): (DayKind.WORKING, DayKind.SHORTENED)}


def test_years_without_an_official_file_fall_back_to_the_library(official):
    assert official.years == frozenset({2025, 2026})
    assert official.day_kind(date(2027, 1, 1)) == DayKind.DAY_OFF
    assert official.day_kind(date(2027, 1, 11)) == DayKind.WORKING
    assert official.is_holiday(date(2027, 1, 7))


def test_a_broken_calendar_file_is_refused_naming_the_file_and_the_day(tmp_path):
    bad = tmp_path / "2030.xml"
    bad.write_text('<calendar year="2030"><days><day d="01.01" t="7"/></days></calendar>', encoding="utf-8")
    with pytest.raises(CalendarFileError, match=r"2030\.xml: day '01\.01': t='7'"):
        XmlCalendar.from_dir(tmp_path)
    bad.write_text('<calendar year="2030"><days><day d="02.30" t="1"/></days></calendar>', encoding="utf-8")
    with pytest.raises(CalendarFileError, match=r"day '02\.30' is not a valid MM\.DD date"):
        XmlCalendar.from_dir(tmp_path)
    with pytest.raises(CalendarFileError, match="does not exist"):
        WorkCalendar(WorkingHours(production_calendar_dir=tmp_path / "nowhere"))


def test_two_hours_from_friday_five_pm_is_monday_ten_am(work):
    assert work.add_working_hours(at(2025, 3, 14, 17), 2) == at(2025, 3, 17, 10)


def test_an_email_at_lunch_waits_for_the_afternoon(work):
    assert work.add_working_hours(at(2025, 3, 5, 12), 2) == at(2025, 3, 5, 15)
    assert work.add_working_hours(at(2025, 3, 5, 13, 30), 1) == at(2025, 3, 5, 15)


def test_a_form_sent_before_midnight_counts_from_nine_and_ends_at_lunch_not_after_it(work):
    assert work.add_working_hours(at(2025, 3, 4, 23, 30), 4) == at(2025, 3, 5, 13)
    assert work.working_hours_between(at(2025, 3, 4, 23, 30), at(2025, 3, 5, 0, 30)) == 0


def test_new_year_holidays_stop_the_clock_from_30_december_to_12_january(work):
    assert work.add_working_hours(at(2025, 12, 30, 17), 2) == at(2026, 1, 12, 10)
    assert work.working_hours_between(at(2025, 12, 30, 17), at(2026, 1, 12, 10)) == 2


def test_the_transferred_working_saturday_counts_and_is_an_hour_shorter(work):
    # 1 November 2025 is a working Saturday, shortened: 09:00–13:00, 14:00–17:00
    assert work.add_working_hours(at(2025, 10, 31, 17), 2) == at(2025, 11, 1, 10)
    assert work.working_hours_on(date(2025, 11, 1)) == 7
    # 2 Sunday, 3 transferred day off, 4 Unity Day: the next hour after Saturday's end is on Wednesday
    assert work.add_working_hours(at(2025, 11, 1, 16), 2) == at(2025, 11, 5, 10)


def test_the_eve_of_8_march_ends_at_five(work):
    assert work.add_working_hours(at(2025, 3, 7, 16), 1) == at(2025, 3, 7, 17)
    assert work.add_working_hours(at(2025, 3, 7, 16), 2) == at(2025, 3, 10, 10)
    assert not work.is_working_time(at(2025, 3, 7, 17, 30))


def test_times_in_other_zones_are_the_same_moments_and_naive_times_are_refused(work):
    utc_start = datetime(2025, 3, 14, 14, 0, tzinfo=UTC)  # 17:00 in Moscow
    assert work.add_working_hours(utc_start, 2) == at(2025, 3, 17, 10)
    with pytest.raises(ValueError, match="naive"):
        work.add_working_hours(datetime(2025, 3, 14, 17), 2)
    with pytest.raises(ValueError, match="negative"):
        work.add_working_hours(utc_start, -1)


def test_a_round_the_clock_desk_crosses_midnight_but_not_holidays(official):
    desk = WorkCalendar(WorkingHours(intervals=[("00:00", "24:00")], shortened_by_minutes=0), official)
    assert desk.add_working_hours(at(2025, 3, 5, 23), 2) == at(2025, 3, 6, 1)
    assert desk.add_working_hours(at(2025, 3, 7, 23), 2) == at(2025, 3, 10, 1)  # 8 March and the weekend off
    assert desk.working_hours_between(at(2025, 3, 5, 22), at(2025, 3, 6, 2)) == 4


def test_next_working_time_is_the_start_of_the_next_interval(work):
    assert work.next_working_time(at(2025, 5, 7, 19)) == at(2025, 5, 12, 9)  # 8 and 9 May off, then the weekend
    assert work.next_working_time(at(2025, 5, 7, 10)) == at(2025, 5, 7, 10)


def test_the_working_day_is_configuration_with_clear_errors():
    with pytest.raises(ValueError, match="not a time of day"):
        WorkingHours(intervals=[("9", "18:00")])
    with pytest.raises(ValueError, match="overlap"):
        WorkingHours(intervals=[("09:00", "14:00"), ("13:00", "18:00")])
    with pytest.raises(ValueError, match="unknown time zone"):
        WorkingHours(time_zone="Europe/Atlantis")
    vladivostok = WorkCalendar(WorkingHours(time_zone="Asia/Vladivostok"), HolidaysLibraryCalendar())
    start = datetime(2025, 3, 14, 17, tzinfo=MSK)  # Friday 17:00 in Moscow is midnight in Vladivostok
    assert vladivostok.add_working_hours(start, 1).isoformat() == "2025-03-17T10:00:00+10:00"


# ----- properties over the whole of 2025-2026 -----

moments = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 1)).map(
    lambda d: d.replace(second=0, microsecond=0, tzinfo=MSK))
durations = st.integers(min_value=0, max_value=200 * 60).map(lambda m: timedelta(minutes=m))


@settings(max_examples=150, deadline=None)
@given(moments, durations)
def test_the_hours_added_are_the_hours_counted_between(work, start, duration):
    end = work.add_working_hours(start, duration)
    assert end >= start
    assert work.working_time_between(start, end) == duration
    if duration:
        assert work.is_working_time(end - timedelta(microseconds=1))  # it ends inside working time


@settings(max_examples=100, deadline=None)
@given(moments, durations, durations)
def test_adding_in_two_goes_is_adding_once(work, start, a, b):
    assert work.add_working_hours(work.add_working_hours(start, a), b) == work.add_working_hours(start, a + b)


@settings(max_examples=100, deadline=None)
@given(moments, moments, moments)
def test_counting_is_additive_and_antisymmetric(work, a, b, c):
    a, b, c = sorted((a, b, c))
    assert work.working_time_between(a, b) + work.working_time_between(b, c) == work.working_time_between(a, c)
    assert work.working_time_between(c, a) == -work.working_time_between(a, c)
