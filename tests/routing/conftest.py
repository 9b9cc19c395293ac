"""Routing tests: the official production calendar from tests/fixtures/calendar, Moscow time, helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from routing.calendar import HolidaysLibraryCalendar, WorkCalendar, WorkingHours
from routing.calendar_files import XmlCalendar
from tests.conftest import FIXTURES

CALENDAR_DIR = FIXTURES / "calendar"


@pytest.fixture(scope="session")
def calendar_dir() -> Path:
    if not (CALENDAR_DIR / "xmlcalendar_ru_2025_calendar.xml").exists():
        pytest.fail(f"the official production calendar is missing from {CALENDAR_DIR}")
    return CALENDAR_DIR


@pytest.fixture(scope="session")
def official(calendar_dir: Path) -> XmlCalendar:
    return XmlCalendar.from_dir(calendar_dir)


@pytest.fixture(scope="session")
def library() -> HolidaysLibraryCalendar:
    return HolidaysLibraryCalendar()


@pytest.fixture(scope="session")
def work(calendar_dir: Path) -> WorkCalendar:
    """The company: Moscow, 09:00–18:00 with lunch 13–14, the official calendar read from its configured folder."""
    return WorkCalendar(WorkingHours(production_calendar_dir=calendar_dir))
