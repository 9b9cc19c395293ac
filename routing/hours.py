"""A rule's time-of-day condition: weekdays and a clock interval in the agency's zone, or everything outside it.

``HoursWindow.contains(moment)`` is pure: the moment (an aware datetime) is turned into the zone's local
weekday and minute of the day. An interval whose end is not after its start runs past midnight
("20:00-08:00"): the part after midnight belongs to the day it started on, so a Friday-night window covers
Saturday 03:00 and not Monday 03:00.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def clock_minutes(text: str) -> int:
    """'09:30' → 570; raises ValueError for anything that is not HH:MM within a day ('24:00' is the day's end)."""
    hours, sep, minutes = text.strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ValueError(f"{text!r} is not a time HH:MM")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > 24 * 60:
        raise ValueError(f"{text!r} is not a time of day")
    return value


@dataclass(frozen=True, slots=True)
class HoursWindow:
    days: frozenset[int]  # 0 = Monday
    start: int  # minutes from midnight
    end: int
    outside: bool = False  # the rule matches when the moment is NOT in the window
    zone: ZoneInfo = ZoneInfo("Europe/Moscow")

    @classmethod
    def build(cls, days: list[str] | None, start: str, end: str, outside: bool, zone: ZoneInfo) -> HoursWindow:
        wanted = days or list(WEEKDAYS)
        unknown = [d for d in wanted if d not in WEEKDAYS]
        if unknown:
            raise ValueError(f"unknown weekday(s) {unknown}; use {', '.join(WEEKDAYS)}")
        first, last = clock_minutes(start), clock_minutes(end)
        if first == last:
            raise ValueError("the interval is empty: start and end are the same")
        return cls(frozenset(WEEKDAYS.index(d) for d in wanted), first, last, outside, zone)

    def _inside(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute
        if self.start < self.end:
            return local.weekday() in self.days and self.start <= minute < self.end
        if minute >= self.start:  # the evening part, on the day the interval starts
            return local.weekday() in self.days
        yesterday = (local - timedelta(days=1)).weekday()
        return minute < self.end and yesterday in self.days  # the part after midnight

    def contains(self, moment: datetime) -> bool:
        return self._inside(moment.astimezone(self.zone)) != self.outside
