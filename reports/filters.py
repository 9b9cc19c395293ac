"""A report's filters from a query string: the date range in the agency's time zone, department, agent, source.

Bad values give per-field errors (keys of the interface texts), never a silent default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from routing.calendar import DayKind, ProductionCalendar, production_calendar

MAX_DAYS = 3 * 366
DEFAULT_DAYS = 30


@dataclass(frozen=True, slots=True)
class ReportFilter:
    first_day: date  # local, inclusive
    last_day: date  # local, inclusive
    zone: ZoneInfo
    department_id: int | None = None
    agent_id: int | None = None
    source: str | None = None
    calendar: ProductionCalendar | None = None
    """The production calendar the KPI norm counts working days by (None: the holidays library's)."""

    @property
    def start(self) -> datetime:
        """The first moment of the range as an aware UTC datetime."""
        return datetime.combine(self.first_day, time(), self.zone).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """The moment after the range (exclusive), aware UTC."""
        return datetime.combine(self.last_day + timedelta(days=1), time(), self.zone).astimezone(UTC)

    @property
    def working_days(self) -> int:
        """Working days in the range by the Russian production calendar (public holidays off, transferred
        working Saturdays on, shortened eves counted as working): the KPI norm is per working day."""
        calendar = self.calendar or production_calendar()
        days = (self.last_day - self.first_day).days + 1
        return sum(1 for i in range(days) if calendar.day_kind(self.first_day + timedelta(days=i)) != DayKind.DAY_OFF)

    def query(self) -> dict[str, str]:
        q = {"date_from": self.first_day.isoformat(), "date_to": self.last_day.isoformat()}
        for key in ("department_id", "agent_id", "source"):
            value = getattr(self, key)
            if value is not None:
                q[key.removesuffix("_id")] = str(value)
        return q


def _day(value: str) -> date:
    return date.fromisoformat(value)


def parse_filter(query: Mapping[str, str], zone: ZoneInfo, today: date | None = None
                 ) -> tuple[ReportFilter, dict[str, str]]:
    """The filter, and the fields that were refused (the filter then holds the defaults for those)."""
    errors: dict[str, str] = {}
    today = today or datetime.now(zone).date()
    last, first = today, today - timedelta(days=DEFAULT_DAYS - 1)
    raw_to, raw_from = query.get("date_to", "").strip(), query.get("date_from", "").strip()
    try:
        if raw_to:
            last = _day(raw_to)
    except ValueError:
        errors["date_to"] = "reports.err.date"
    try:
        if raw_from:
            first = _day(raw_from)
        elif raw_to and "date_to" not in errors:
            first = last - timedelta(days=DEFAULT_DAYS - 1)
    except ValueError:
        errors["date_from"] = "reports.err.date"
    if not errors and first > last:
        errors["date_to"] = "reports.err.order"
    elif not errors and (last - first).days + 1 > MAX_DAYS:
        errors["date_from"] = "reports.err.too_long"
    if errors:
        last, first = today, today - timedelta(days=DEFAULT_DAYS - 1)
    ids: dict[str, int | None] = {}
    for key in ("department", "agent"):
        raw = query.get(key, "").strip()
        ids[key] = None
        if raw:
            if raw.isdigit() and len(raw) < 10:
                ids[key] = int(raw)
            else:
                errors[key] = "reports.err.id"
    source = query.get("source", "").strip()[:200] or None
    return ReportFilter(first, last, zone, ids["department"], ids["agent"], source), errors
