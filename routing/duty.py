"""Duty schedules (графики дежурств): a weekly rota with dated exceptions and the holidays off.

An agent with a schedule is on duty only inside its intervals, whatever their status says. Shifts may run
past midnight ("20:00"–"08:00"): such a shift belongs to the day it starts on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from routing.calendar import ProductionCalendar, parse_intervals

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Intervals = tuple[tuple[int, int], ...]  # minutes after the day's midnight; an end past 1440 is overnight


@dataclass(frozen=True, slots=True)
class DutySchedule:
    id: str
    weekly: Mapping[int, Intervals]  # weekday 0 (Monday) … 6 → intervals
    exceptions: Mapping[date, Intervals] = field(default_factory=dict)  # that date's own intervals; () = off
    holidays_off: bool = True  # public holidays and transferred days off are off unless an exception says so
    time_zone: str = "Europe/Moscow"

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
        if self.holidays_off and calendar is not None and calendar.is_holiday(day):
            return ()
        return self.weekly.get(day.weekday(), ())

    def on_duty(self, moment: datetime, calendar: ProductionCalendar | None = None) -> bool:
        local = moment.astimezone(ZoneInfo(self.time_zone))
        minute = local.hour * 60 + local.minute
        today = local.date()
        for start, end in self.intervals_on(today, calendar):
            if start <= minute < end:
                return True
        yesterday = today - timedelta(days=1)
        return any(end > 1440 and minute < end - 1440 for _, end in self.intervals_on(yesterday, calendar))
