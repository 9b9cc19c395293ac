"""The official production calendar ships with the hub and is the default: with no path configured, every
month of 2025 and 2026 has the official working days and hours; a year without a file is named."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta

import pytest

from config.settings import Settings
from routing.calendar import CalendarFileError, DayKind, WorkCalendar
from routing.calendar_files import (
    XmlCalendar,
    month_table,
    official_calendar,
    parse_xmlcalendar_text,
    shipped_years,
)
from tests.routing.world import MSK


def official_summary(calendar_dir) -> list[dict[str, str]]:  # noqa: ANN001
    with open(calendar_dir / "SUMMARY_ru_2025_2026_derived.tsv", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_with_the_default_settings_every_month_has_the_official_days_and_hours(calendar_dir):
    settings = Settings()
    assert settings.routing.hours.production_calendar_dir is None  # nothing configured
    work = WorkCalendar(settings.routing.hours)
    rows = official_summary(calendar_dir)
    assert len(rows) == 24
    for row in rows:
        year, month = int(row["year"]), int(row["month"])
        first = datetime(year, month, 1, tzinfo=MSK)
        following = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=MSK)
        days = [first.date() + timedelta(days=i) for i in range((following - first).days)]
        assert sum(work.day_kind(d) != DayKind.DAY_OFF for d in days) == int(row["working_days"]), row
        assert work.working_hours_between(first, following) == float(row["hours_40h"]), row
        # and the admin's month table says the same
        figures = month_table(work.calendar, year, {d: work.working_hours_on(d) for d in days})[month - 1]
        assert (figures.working_days, figures.hours, figures.norm_40h) == (
            int(row["working_days"]), float(row["hours_40h"]), int(row["hours_40h"])), row


def test_november_2025_has_151_hours_the_working_saturday_is_shortened():
    work = WorkCalendar()
    assert work.day_kind(date(2025, 11, 1)) == DayKind.SHORTENED
    assert work.working_hours_on(date(2025, 11, 1)) == 7
    start, end = datetime(2025, 11, 1, tzinfo=MSK), datetime(2025, 12, 1, tzinfo=MSK)
    assert work.working_hours_between(start, end) == 151


def test_the_shipped_files_are_package_data_and_name_what_is_missing():
    assert sorted(y.year for y in shipped_years()) == [2025, 2026]
    calendar = official_calendar()
    assert {2025, 2026} <= calendar.years
    assert calendar.missing_years(date(2026, 10, 31)) == []
    assert calendar.missing_years(date(2026, 11, 1)) == [2027]  # from 1 November the next year is needed
    assert calendar.missing_years(date(2027, 3, 1)) == [2027]


def test_a_loaded_year_is_used_at_once_by_a_running_work_calendar():
    calendar = XmlCalendar.from_years(shipped_years())
    work = WorkCalendar(calendar=calendar)
    assert work.day_kind(date(2027, 1, 11)) == DayKind.WORKING  # the library's guess
    text = '<calendar year="2027"><days><day d="01.11" t="1"/><day d="01.12" t="2"/></days></calendar>'
    calendar.add_year(parse_xmlcalendar_text(text, "2027.xml"))
    assert work.working_hours_on(date(2027, 1, 11)) == 0
    assert work.working_hours_on(date(2027, 1, 12)) == 7
    assert calendar.missing_years(date(2027, 1, 1)) == []


def test_the_working_saturday_stands_in_for_the_monday_it_moved():
    calendar = official_calendar()
    assert calendar.stands_in_for(date(2025, 11, 1)) == date(2025, 11, 3)
    assert calendar.stands_in_for(date(2025, 11, 8)) is None


@pytest.mark.parametrize("text, problem", [
    ("<html/>", "not an xmlcalendar file"),
    ('<calendar year="20x5"><days/></calendar>', "no valid year"),
    ('<calendar year="2027"><days/></calendar>', "no <day> elements"),
    ('<calendar year="2027"><days><day d="13.01" t="1"/></days></calendar>', "'13.01' is not a valid MM.DD"),
    ("<calendar", "cannot read the calendar"),
])
def test_a_wrong_file_is_refused_saying_why(text, problem):
    with pytest.raises(CalendarFileError, match=problem):
        parse_xmlcalendar_text(text, "upload.xml")


def test_one_time_zone_for_pages_deadlines_and_simulate():
    settings = Settings.model_validate({"time_zone": "Asia/Vladivostok"})
    assert settings.routing.hours.time_zone == "Asia/Vladivostok"  # the working hours follow the agency's zone
    work = WorkCalendar(settings.routing.hours)
    assert work.next_working_time(datetime(2026, 3, 2, 0, tzinfo=MSK)).isoformat() == "2026-03-02T09:00:00+10:00"
    own = Settings.model_validate({"time_zone": "Asia/Vladivostok",
                                   "routing": {"hours": {"time_zone": "Europe/Moscow"}}})
    assert own.routing.hours.time_zone == "Europe/Moscow"  # set on purpose: kept
    with pytest.raises(ValueError, match="unknown time zone"):
        Settings.model_validate({"time_zone": "Mars/Olympus"})
