"""Duty schedules (графики дежурств): a weekly rota with dated exceptions, following the production calendar.

An agent with a schedule is on duty only inside its intervals, whatever their status says. Shifts may run
past midnight ("20:00"–"08:00"): such a shift belongs to the day it starts on.

A rota follows the production calendar (``holidays_off``, the default) the way the SLA clock does: public
holidays and transferred days off are off; a working Saturday or Sunday (1 November 2025) is worked with the
shifts of the weekday it stands in for (Monday 3 November; Friday's when the calendar does not say); on a
shortened day the day's last shift ends ``shortened_by_minutes`` earlier (a night shift is not shortened). A
dated exception says otherwise for its day; ``holidays_off = False`` keeps the weekly rota whatever the
calendar says (a round-the-clock line).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from routing.calendar import DayKind, ProductionCalendar, parse_intervals

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Intervals = tuple[tuple[int, int], ...]  # minutes after the day's midnight; an end past 1440 is overnight


@dataclass(frozen=True, slots=True)
class DutySchedule:
    id: str
    weekly: Mapping[int, Intervals]  # weekday 0 (Monday) … 6 → intervals
    exceptions: Mapping[date, Intervals] = field(default_factory=dict)  # that date's own intervals; () = off
    holidays_off: bool = True  # follows the production calendar (holidays off, working Saturdays, shortened days)
    time_zone: str = "Europe/Moscow"
    shortened_by_minutes: int = 60  # a shortened day's last shift ends this much earlier

    @classmethod
    def rota(
        cls,
        schedule_id: str,
        weekly: Mapping[str, Iterable[tuple[str, str]]],
        exceptions: Mapping[date, Iterable[tuple[str, str]]] | None = None,
        *,
        holidays_off: bool = True,
        time_zone: str = "Europe/Moscow",
    ) -> DutySchedule:
        """Build from readable times: ``rota("night", {"mon": [("20:00", "08:00")]}, {date(...): []})``."""
        unknown = set(weekly) - set(WEEKDAYS)
        if unknown:
            raise ValueError(f"duty schedule {schedule_id!r}: unknown weekday(s) {sorted(unknown)}; use {WEEKDAYS}")
        ZoneInfo(time_zone)
        try:
            days = {WEEKDAYS.index(name): parse_intervals(raw, overnight=True) for name, raw in weekly.items()}
            dated = {day: parse_intervals(raw, overnight=True) for day, raw in (exceptions or {}).items()}
        except ValueError as exc:
            raise ValueError(f"duty schedule {schedule_id!r}: {exc}") from None
        return cls(schedule_id, days, dated, holidays_off, time_zone)

    def intervals_on(self, day: date, calendar: ProductionCalendar | None) -> Intervals:
        if day in self.exceptions:
            return self.exceptions[day]
        weekly = self.weekly.get(day.weekday(), ())
        if not self.holidays_off or calendar is None:
            return weekly
        if calendar.is_holiday(day):
            return ()
        kind = calendar.day_kind(day)
        if day.weekday() >= 5 and kind != DayKind.DAY_OFF and not weekly:
            stands_in = getattr(calendar, "stands_in_for", None)
            replaced = stands_in(day) if callable(stands_in) else None
            weekly = self.weekly.get(replaced.weekday() if isinstance(replaced, date) else 4, ())
        if kind == DayKind.SHORTENED:
            return _shorten_last(weekly, self.shortened_by_minutes)
        return weekly

    def on_duty(self, moment: datetime, calendar: ProductionCalendar | None = None) -> bool:
        local = moment.astimezone(ZoneInfo(self.time_zone))
        minute = local.hour * 60 + local.minute
        today = local.date()
        for start, end in self.intervals_on(today, calendar):
            if start <= minute < end:
                return True
        yesterday = today - timedelta(days=1)
        return any(end > 1440 and minute < end - 1440 for _, end in self.intervals_on(yesterday, calendar))


def _shorten_last(intervals: Intervals, minutes: int) -> Intervals:
    """The day's last shift ends ``minutes`` earlier (a shift running past midnight is left as it is)."""
    if not intervals or minutes <= 0:
        return intervals
    start, end = intervals[-1]
    if end > 1440:
        return intervals
    if end - minutes <= start:
        return intervals[:-1]
    return (*intervals[:-1], (start, end - minutes))
