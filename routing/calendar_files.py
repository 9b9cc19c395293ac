"""The official production calendar files (xmlcalendar.ru format): the ones shipped with the hub, the ones an
administrator loads later, and the per-month figures to check a year by.

The hub ships the official calendar as package data (``routing/production_calendar/*.xml``, read with
``importlib.resources``): it is the default, nothing to configure. A year loaded by the administrator
(``hub calendar load FILE`` or the page ``/admin/routing/calendar``; kept in the database with its history)
is added to the same calendar at run time (``XmlCalendar.add_year``). A year with no file falls back to the
``holidays`` library, and ``missing_years`` names it so the hub warns: the current year, and from
1 November the next one.

Format: ``<calendar year="2025"><days><day d="MM.DD" t="1|2|3" f="MM.DD" .../></days></calendar>`` where t=1
is a day off, t=2 a shortened working day (also on a weekend: a working shortened Saturday), t=3 a working
weekend day; ``f`` on a day off names the weekend day whose rest was moved to it (that weekend day, when it
is working, stands in for this weekday). Days not listed are working Monday–Friday and off on weekends.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET  # noqa: S405 - the official calendar: shipped, or loaded by the administrator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources
from pathlib import Path

from routing.calendar import CalendarFileError, DayKind, HolidaysLibraryCalendar, ProductionCalendar

PACKAGE = "routing.production_calendar"
WARN_FROM_MONTH = 11  # from 1 November the next year's file is needed (inquiries' deadlines reach into it)


@dataclass(frozen=True, slots=True)
class CalendarYear:
    """One year's official file, read."""

    year: int
    days: Mapping[date, str]  # date → "1" (day off) | "2" (shortened) | "3" (working weekend day)
    stands_in: Mapping[date, date] = field(default_factory=dict)  # working weekend day → the weekday it replaces
    sha256: str = ""
    source: str = ""


def parse_xmlcalendar_text(text: str | bytes, source: str = "calendar") -> CalendarYear:
    """Read one xmlcalendar document. Errors name the source and the element."""
    try:
        root = ET.fromstring(text)  # noqa: S314 - the official calendar (shipped or the administrator's file)
    except ET.ParseError as exc:
        raise CalendarFileError(f"{source}: cannot read the calendar: {exc}") from None
    if root.tag != "calendar":
        raise CalendarFileError(f"{source}: not an xmlcalendar file (the root is <{root.tag}>, not <calendar>)")
    try:
        year = int(root.attrib["year"])
    except (KeyError, ValueError):
        raise CalendarFileError(f"{source}: <calendar> has no valid year attribute") from None
    if not 1990 <= year <= 2200:
        raise CalendarFileError(f"{source}: year {year} is out of range")
    days: dict[date, str] = {}
    moved_from: dict[date, date] = {}
    for element in root.iter("day"):
        raw_day, kind = element.get("d", ""), element.get("t", "")
        if kind not in ("1", "2", "3"):
            raise CalendarFileError(f"{source}: day {raw_day!r}: t={kind!r} is not 1, 2 or 3")
        day = _day_of(raw_day, year, source)
        days[day] = kind
        raw_from = element.get("f")
        if raw_from and kind == "1":
            moved_from[day] = _day_of(raw_from, year, source)
    if not days:
        raise CalendarFileError(f"{source}: no <day> elements: not a production calendar")
    stands_in = {weekend: weekday for weekday, weekend in moved_from.items() if days.get(weekend) in ("2", "3")}
    digest = hashlib.sha256(text.encode("utf-8") if isinstance(text, str) else text).hexdigest()
    return CalendarYear(year, days, stands_in, digest, source)


def _day_of(raw: str, year: int, source: str) -> date:
    try:
        month, day = (int(part) for part in raw.split("."))
        return date(year, month, day)
    except ValueError:
        raise CalendarFileError(f"{source}: day {raw!r} is not a valid MM.DD date of {year}") from None


def parse_xmlcalendar(path: Path) -> tuple[int, dict[date, str]]:
    """Read one xmlcalendar file: (year, {date: "1"|"2"|"3"}). Errors name the file and the element."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CalendarFileError(f"{path}: cannot read the calendar: {exc.strerror}") from None
    parsed = parse_xmlcalendar_text(data, str(path))
    return parsed.year, dict(parsed.days)


class XmlCalendar:
    """The official calendar for the years it has files for, else ``fallback`` (the ``holidays`` library).

    ``add_year`` puts a newly loaded year in while the hub runs; ``version`` grows with each change, so that
    whoever keeps per-day answers (``WorkCalendar``) knows to forget them.
    """

    def __init__(self, days: dict[int, dict[date, str]] | None = None,
                 fallback: ProductionCalendar | None = None) -> None:
        self._years: dict[int, CalendarYear] = {
            year: CalendarYear(year, year_days) for year, year_days in (days or {}).items()}
        self.fallback = fallback if fallback is not None else HolidaysLibraryCalendar()
        self.version = 0

    @property
    def years(self) -> frozenset[int]:
        return frozenset(self._years)

    def year(self, year: int) -> CalendarYear | None:
        return self._years.get(year)

    def add_year(self, parsed: CalendarYear) -> None:
        """Use this year's official file from now on (replacing the year's earlier file)."""
        self._years[parsed.year] = parsed
        self.version += 1

    @classmethod
    def from_years(cls, years: Iterable[CalendarYear], fallback: ProductionCalendar | None = None) -> XmlCalendar:
        calendar = cls(fallback=fallback)
        for parsed in years:
            calendar._years[parsed.year] = parsed
        return calendar

    @classmethod
    def from_files(cls, paths: Iterable[Path], fallback: ProductionCalendar | None = None) -> XmlCalendar:
        return cls.from_years(_read_distinct(Path(p) for p in paths), fallback)

    @classmethod
    def from_dir(cls, folder: Path, fallback: ProductionCalendar | None = None) -> XmlCalendar:
        return cls.from_years(read_dir(folder), fallback)

    def day_kind(self, day: date) -> DayKind:
        parsed = self._years.get(day.year)
        if parsed is None:
            return self.fallback.day_kind(day)
        kind = parsed.days.get(day)
        if kind == "1":
            return DayKind.DAY_OFF
        if kind == "2":
            return DayKind.SHORTENED
        if kind == "3":
            return DayKind.WORKING
        return DayKind.DAY_OFF if day.weekday() >= 5 else DayKind.WORKING

    def is_holiday(self, day: date) -> bool:
        parsed = self._years.get(day.year)
        if parsed is None:
            return self.fallback.is_holiday(day)
        return parsed.days.get(day) == "1"

    def stands_in_for(self, day: date) -> date | None:
        """The weekday a working weekend day replaces (1 November 2025 → Monday 3 November), when known."""
        parsed = self._years.get(day.year)
        return parsed.stands_in.get(day) if parsed is not None else None

    def missing_years(self, today: date) -> list[int]:
        """Years the hub needs now and has no official file for (it uses the library's guess for them)."""
        needed = [today.year] + ([today.year + 1] if today.month >= WARN_FROM_MONTH else [])
        return [year for year in needed if year not in self._years]


def read_dir(folder: Path) -> list[CalendarYear]:
    folder = Path(folder)
    if not folder.is_dir():
        raise CalendarFileError(f"{folder}: the production calendar folder does not exist")
    files = sorted(folder.glob("*.xml"))
    if not files:
        raise CalendarFileError(f"{folder}: no *.xml production calendar files in it")
    return _read_distinct(files)


def _read_distinct(paths: Iterable[Path]) -> list[CalendarYear]:
    out: dict[int, CalendarYear] = {}
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CalendarFileError(f"{path}: cannot read the calendar: {exc.strerror}") from None
        parsed = parse_xmlcalendar_text(data, str(path))
        if parsed.year in out:
            raise CalendarFileError(f"{path}: a second file for the year {parsed.year}")
        out[parsed.year] = parsed
    return list(out.values())


def shipped_years() -> list[CalendarYear]:
    """The official calendar files shipped with the hub (package data)."""
    out = []
    for entry in sorted(resources.files(PACKAGE).iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".xml"):
            out.append(parse_xmlcalendar_text(entry.read_bytes(), f"{PACKAGE}/{entry.name}"))
    return out


_SHARED: dict[Path | None, XmlCalendar] = {}


def official_calendar(extra_dir: Path | None = None) -> XmlCalendar:
    """The official calendar of this process: the shipped files, a configured folder's files over them, and the
    years the administrator loads while the hub runs (one object per folder, shared by the SLA, the rotas and
    the reports)."""
    key = Path(extra_dir) if extra_dir is not None else None
    calendar = _SHARED.get(key)
    if calendar is None:
        years = {parsed.year: parsed for parsed in shipped_years()}
        if key is not None:
            years.update({parsed.year: parsed for parsed in read_dir(key)})
        calendar = _SHARED[key] = XmlCalendar.from_years(years.values())
    return calendar


def shared_calendars() -> list[XmlCalendar]:
    """Every official calendar this process made (a loaded year goes into each)."""
    return list(_SHARED.values())


@dataclass(frozen=True, slots=True)
class MonthFigures:
    month: int
    working_days: int
    shortened_days: int
    hours: float  # by the agency's working hours
    norm_40h: int  # the official 40-hour-week norm: 8 hours a working day, 7 on a shortened one


def month_table(calendar: ProductionCalendar, year: int, hours_on: Mapping[date, float] | None = None,
                ) -> list[MonthFigures]:
    """Working days and hours per month of ``year`` (``hours_on``: the agency's hours per day, when given)."""
    out = []
    for month in range(1, 13):
        first = date(year, month, 1)
        following = date(year + (month == 12), month % 12 + 1, 1)
        days = [first + timedelta(days=i) for i in range((following - first).days)]
        kinds = [calendar.day_kind(d) for d in days]
        working = sum(kind != DayKind.DAY_OFF for kind in kinds)
        shortened = sum(kind == DayKind.SHORTENED for kind in kinds)
        norm = 8 * working - shortened
        hours = sum(hours_on.get(d, 0.0) for d in days) if hours_on is not None else float(norm)
        out.append(MonthFigures(month, working, shortened, hours, norm))
    return out
