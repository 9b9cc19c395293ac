"""Working-hours arithmetic over the Russian production calendar (производственный календарь).

Two sources of the calendar, one question each answers: what kind of day is this date?

- ``HolidaysLibraryCalendar`` — the maintained ``holidays`` package (``holidays.RU``). It knows the public
  holidays of art. 112 of the Labour Code, the holidays moved off weekends, the government's yearly
  transfer decrees (days off moved to weekdays) and the working weekend days those decrees create
  (``weekend_workdays``). It has no notion of shortened pre-holiday days, and it has no Russian financial
  (MOEX) calendar; we derive shortened days by art. 95: a working day immediately followed by a public
  holiday is one hour shorter. That rule reproduces the official 2025–2026 calendars except one day:
  Saturday 1 November 2025 (a working Saturday that the decree itself made shorter).
- ``routing.calendar_files.XmlCalendar`` — the official calendar (xmlcalendar.ru files), shipped with the hub
  and the DEFAULT; the administrator loads later years. Where a year's file is present it is the source of
  truth; a year without one falls back to the library, and the hub warns (``missing_years``).

``WorkCalendar`` adds the company's working hours and time zone and does the arithmetic:
``add_working_hours``, ``working_hours_between``, ``is_working_time``, ``next_working_time``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class DayKind(StrEnum):
    WORKING = "working"
    SHORTENED = "shortened"  # a working day one hour shorter (the eve of a public holiday)
    DAY_OFF = "day_off"


class ProductionCalendar(Protocol):
    def day_kind(self, day: date) -> DayKind: ...

    def is_holiday(self, day: date) -> bool:
        """A public holiday or a transferred day off (not an ordinary Saturday or Sunday)."""
        ...


class CalendarFileError(ValueError):
    """The official calendar file cannot be read; the message names the file and the problem."""


class HolidaysLibraryCalendar:
    """The production calendar from ``holidays.RU`` plus art. 95 for shortened days."""

    def __init__(self) -> None:
        self._years: dict[int, tuple[frozenset[date], frozenset[date], frozenset[date]]] = {}

    def _year(self, year: int) -> tuple[frozenset[date], frozenset[date], frozenset[date]]:
        cached = self._years.get(year)
        if cached is None:
            # holidays + observed + transferred days off (RU is loaded lazily, so mypy does not see it)
            with_moves = holidays.RU(years=year)  # type: ignore[attr-defined]
            ru = holidays.RU(years=year, observed=False)  # type: ignore[attr-defined]
            # (to_month, to_day, from_month, from_day[, year]): a day off moved by decree, not a holiday
            substituted = {
                date(year, entry[0], entry[1])
                for entry in _as_tuples(ru.special_public_holidays.get(year, ()))
                if len(entry) >= 4
            }
            proper = frozenset(set(ru.keys()) - substituted)  # public holidays of art. 112 only
            days_off = frozenset(with_moves.keys())
            workdays = frozenset(d for d in with_moves.weekend_workdays if d.year == year)
            cached = self._years[year] = (days_off, workdays, proper)
        return cached

    def day_kind(self, day: date) -> DayKind:
        days_off, weekend_workdays, _ = self._year(day.year)
        if day in days_off or (day.weekday() >= 5 and day not in weekend_workdays):
            return DayKind.DAY_OFF
        following = day + timedelta(days=1)
        if following in self._year(following.year)[2]:
            return DayKind.SHORTENED
        return DayKind.WORKING

    def is_holiday(self, day: date) -> bool:
        return day in self._year(day.year)[0]


def _as_tuples(value: object) -> tuple[tuple[Any, ...], ...]:
    if isinstance(value, tuple) and value and isinstance(value[0], tuple):
        return value
    return (value,) if isinstance(value, tuple) and value else ()


def production_calendar(xml_dir: Path | None = None) -> ProductionCalendar:
    """The official calendar (``routing.calendar_files``): the files shipped with the hub, ``xml_dir``'s files over
    them when configured, and the years loaded while the hub runs; the ``holidays`` library for other years."""
    from routing.calendar_files import official_calendar

    return official_calendar(xml_dir)


def _parse_clock(value: str) -> int:
    """'09:30' → minutes after midnight; '24:00' is the end of the day."""
    try:
        hours, minutes = value.split(":")
        h, m = int(hours), int(minutes)
    except ValueError:
        raise ValueError(f"{value!r} is not a time of day HH:MM") from None
    if not (0 <= m < 60 and (0 <= h < 24 or (h == 24 and m == 0))):
        raise ValueError(f"{value!r} is not a time of day HH:MM between 00:00 and 24:00")
    return h * 60 + m


def parse_intervals(raw: Iterable[tuple[str, str]], *, overnight: bool = False) -> tuple[tuple[int, int], ...]:
    """[("09:00", "13:00"), ...] → sorted minute intervals; rejects overlaps and empty intervals.

    With ``overnight`` an interval whose end is not after its start runs past midnight ("20:00"–"08:00").
    """
    out: list[tuple[int, int]] = []
    for start_raw, end_raw in raw:
        start, end = _parse_clock(start_raw), _parse_clock(end_raw)
        if end <= start:
            if not overnight or start == end:
                raise ValueError(f"interval {start_raw}–{end_raw} ends before it starts")
            end += 24 * 60
        out.append((start, end))
    out.sort()
    for (_, end_a), (start_b, _) in zip(out, out[1:], strict=False):
        if start_b < end_a:
            raise ValueError("working intervals overlap")
    return tuple(out)


class WorkingHours(BaseModel):
    """The company's working hours (configuration). Defaults: Moscow time, 09:00–18:00 with lunch 13–14,
    i.e. the 8-hour day of the 40-hour week; pre-holiday days end an hour early."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    time_zone: str = "Europe/Moscow"
    intervals: list[tuple[str, str]] = Field(default_factory=lambda: [("09:00", "13:00"), ("14:00", "18:00")])
    shortened_by_minutes: int = Field(60, ge=0)
    # a folder of official xmlcalendar files over the shipped ones (None: the shipped files and the loaded years)
    production_calendar_dir: Path | None = None

    @field_validator("time_zone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("intervals")
    @classmethod
    def _intervals_valid(cls, value: list[tuple[str, str]]) -> list[tuple[str, str]]:
        if not value:
            raise ValueError("give at least one working interval, e.g. [['09:00', '18:00']]")
        parse_intervals(value)
        return value

    @model_validator(mode="after")
    def _shortening_fits(self) -> WorkingHours:
        total = sum(end - start for start, end in parse_intervals(self.intervals))
        if self.shortened_by_minutes > total:
            raise ValueError("shortened_by_minutes is longer than the working day")
        return self


@dataclass(frozen=True, slots=True)
class _Day:
    starts: tuple[datetime, ...]  # UTC
    ends: tuple[datetime, ...]
    cumulative: tuple[timedelta, ...]  # working time before each interval's start within the day
    total: timedelta


_NO_DAY = _Day((), (), (), timedelta(0))
_MAX_IDLE_DAYS = 366  # a year without a working minute: the calendar or the hours are wrong


class WorkCalendar:
    """Working-time arithmetic in the company's hours and time zone. All answers are exact to the microsecond.

    Inputs may be in any time zone (naive datetimes are refused); results are in the company's time zone.
    """

    def __init__(self, hours: WorkingHours | None = None, calendar: ProductionCalendar | None = None) -> None:
        self.hours = hours if hours is not None else WorkingHours()
        self.zone = ZoneInfo(self.hours.time_zone)
        self.calendar = calendar if calendar is not None else production_calendar(self.hours.production_calendar_dir)
        self._intervals = parse_intervals(self.hours.intervals)
        self._days: dict[date, _Day] = {}
        self._version: object = getattr(self.calendar, "version", None)

    def _day(self, day: date) -> _Day:
        version = getattr(self.calendar, "version", None)
        if version != self._version:  # a year was loaded into the calendar: forget the days worked out
            self._days.clear()
            self._version = version
        cached = self._days.get(day)
        if cached is not None:
            return cached
        kind = self.calendar.day_kind(day)
        if kind == DayKind.DAY_OFF:
            result = _NO_DAY
        else:
            intervals = list(self._intervals)
            if kind == DayKind.SHORTENED:
                intervals = _shorten(intervals, self.hours.shortened_by_minutes)
            midnight = datetime.combine(day, time(0), tzinfo=self.zone)
            starts, ends, cumulative, total = [], [], [], timedelta(0)
            for start, end in intervals:
                s = _local_minutes(midnight, start, self.zone)
                e = _local_minutes(midnight, end, self.zone)
                starts.append(s)
                ends.append(e)
                cumulative.append(total)
                total += e - s
            result = _Day(tuple(starts), tuple(ends), tuple(cumulative), total)
        if len(self._days) > 20_000:
            self._days.clear()
        self._days[day] = result
        return result

    def day_kind(self, day: date) -> DayKind:
        return self.calendar.day_kind(day)

    def working_hours_on(self, day: date) -> float:
        return self._day(day).total / timedelta(hours=1)

    def _local_date(self, moment: datetime) -> date:
        _require_aware(moment)
        return moment.astimezone(self.zone).date()

    def _worked_before(self, moment_utc: datetime, day: _Day) -> timedelta:
        """Working time on ``day`` before ``moment_utc``."""
        i = bisect_right(day.starts, moment_utc) - 1
        if i < 0:
            return timedelta(0)
        return day.cumulative[i] + min(moment_utc, day.ends[i]) - day.starts[i]

    def is_working_time(self, moment: datetime) -> bool:
        utc = _to_utc(moment)
        day = self._day(self._local_date(moment))
        i = bisect_right(day.starts, utc) - 1
        return i >= 0 and utc < day.ends[i]

    def next_working_time(self, moment: datetime) -> datetime:
        """``moment`` itself when it is working time, else the start of the next working interval."""
        return moment.astimezone(self.zone) if self.is_working_time(moment) else self._next_start(moment)

    def _next_start(self, moment: datetime) -> datetime:
        utc = _to_utc(moment)
        current = self._local_date(moment)
        for offset in range(_MAX_IDLE_DAYS):
            day = self._day(current + timedelta(days=offset))
            for start in day.starts:
                if start >= utc:
                    return start.astimezone(self.zone)
        raise ValueError(f"no working time within {_MAX_IDLE_DAYS} days after {moment.isoformat()}")

    def add_working_hours(self, start: datetime, hours: float | timedelta) -> datetime:
        """The moment when ``hours`` of working time have passed since ``start``.

        Time outside working hours does not count: 2 hours from Friday 17:00 is Monday 10:00 (or later when
        Monday is a holiday). Zero hours give ``start`` back unchanged.
        """
        remaining = hours if isinstance(hours, timedelta) else timedelta(hours=hours)
        if remaining < timedelta(0):
            raise ValueError(f"cannot add negative working time ({hours})")
        utc = _to_utc(start)
        if not remaining:
            return start.astimezone(self.zone)
        current = self._local_date(start)
        offset, idle = -1, 0
        while idle < _MAX_IDLE_DAYS:
            offset += 1
            day = self._day(current + timedelta(days=offset))
            if not day.total:
                idle += 1
                continue
            idle = 0
            left_today = day.total - self._worked_before(utc, day) if offset == 0 else day.total
            if remaining > left_today:
                remaining -= left_today
                continue
            target = (day.total - left_today) + remaining  # working time into this day
            i = bisect_right(day.cumulative, target) - 1
            # exactly at an interval boundary: stop at the end of the earlier interval, not the next start
            if i > 0 and day.cumulative[i] == target:
                i -= 1
            return (day.starts[i] + (target - day.cumulative[i])).astimezone(self.zone)
        raise ValueError(f"no working time within {_MAX_IDLE_DAYS} days on from {start.isoformat()}")

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time from ``a`` to ``b`` (negative when ``b`` is before ``a``)."""
        if _to_utc(b) < _to_utc(a):
            return -self.working_time_between(b, a)
        a_utc, b_utc = _to_utc(a), _to_utc(b)
        first, last = self._local_date(a), self._local_date(b)
        if first == last:
            day = self._day(first)
            return self._worked_before(b_utc, day) - self._worked_before(a_utc, day)
        total = self._day(first).total - self._worked_before(a_utc, self._day(first))
        current = first + timedelta(days=1)
        while current < last:
            total += self._day(current).total
            current += timedelta(days=1)
        return total + self._worked_before(b_utc, self._day(last))

    def working_hours_between(self, a: datetime, b: datetime) -> float:
        return self.working_time_between(a, b) / timedelta(hours=1)


def _shorten(intervals: list[tuple[int, int]], minutes: int) -> list[tuple[int, int]]:
    """Take ``minutes`` off the end of the working day (through the last intervals if need be)."""
    out = list(intervals)
    while minutes > 0 and out:
        start, end = out[-1]
        cut = min(minutes, end - start)
        minutes -= cut
        if end - cut > start:
            out[-1] = (start, end - cut)
        else:
            out.pop()
    return out


def _local_minutes(midnight: datetime, minutes: int, zone: ZoneInfo) -> datetime:
    """The UTC moment of local wall-clock ``minutes`` after ``midnight`` (ending intervals may say 24:00)."""
    day = midnight.date() + timedelta(days=minutes // (24 * 60))
    wall = datetime.combine(day, time((minutes // 60) % 24, minutes % 60), tzinfo=zone)
    return wall.astimezone(UTC)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: give it a time zone")


def _to_utc(moment: datetime) -> datetime:
    _require_aware(moment)
    return moment.astimezone(UTC)
