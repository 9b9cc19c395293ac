"""Working time per department: the agency's hours and zone, unless a department (an office in another
city) has its own. Deadlines of a department's inquiries, its duty rotas and the times its people see in the
pages count in that department's zone and hours; the official production calendar is the same for all (the
country's), shared, so a loaded year reaches every department at once.

``DepartmentTime`` is plain data in, calendars out; ``refresh`` reads the departments' overrides.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Department
from routing.calendar import WorkCalendar, WorkingHours, parse_intervals

_INTERVAL = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–—]\s*(\d{1,2}:\d{2})\s*$")


class WorkHoursError(ValueError):
    """A department's zone or hours that cannot be used; ``field`` names the form field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def parse_work_hours(text: str) -> list[tuple[str, str]]:
    """``"09:00-13:00, 14:00-18:00"`` → ``[("09:00", "13:00"), ("14:00", "18:00")]``, checked (in order, not
    overlapping, within the day)."""
    parts = [p for p in re.split(r"[,;]", text) if p.strip()]
    if not parts:
        raise WorkHoursError("work_hours", "give at least one interval, e.g. 09:00-18:00")
    intervals = []
    for part in parts:
        match = _INTERVAL.match(part)
        if match is None:
            raise WorkHoursError("work_hours", f"not an interval: {part.strip()[:20]!r} (write 09:00-13:00)")
        intervals.append((match[1].zfill(5), match[2].zfill(5)))
    try:
        parse_intervals(intervals)
    except ValueError as exc:
        raise WorkHoursError("work_hours", str(exc)) from None
    return intervals


def check_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise WorkHoursError("time_zone", f"unknown time zone {name[:64]!r} (e.g. Asia/Yekaterinburg)") from None
    return name


@dataclass(frozen=True, slots=True)
class Override:
    department_id: int
    time_zone: str | None
    work_hours: str | None


class DepartmentTime:
    """The agency's ``WorkCalendar`` and one per department that overrides the zone or the hours."""

    def __init__(self, agency: WorkCalendar) -> None:
        self.agency = agency
        self._own: dict[int, tuple[Override, WorkCalendar]] = {}

    def of(self, department_id: int | None) -> WorkCalendar:
        own = self._own.get(department_id) if department_id is not None else None
        return own[1] if own is not None else self.agency

    def zone_name(self, department_id: int | None) -> str:
        return self.of(department_id).hours.time_zone

    def overrides(self) -> dict[int, WorkCalendar]:
        return {d: work for d, (_, work) in self._own.items()}

    def set_overrides(self, overrides: Iterable[Override]) -> None:
        """Replace the departments' calendars; an unchanged override keeps its calendar (and its day cache).
        A bad stored value (set before a check existed) falls back to the agency's for that part."""
        fresh: dict[int, tuple[Override, WorkCalendar]] = {}
        for o in overrides:
            if o.time_zone is None and o.work_hours is None:
                continue
            kept = self._own.get(o.department_id)
            if kept is not None and kept[0] == o:
                fresh[o.department_id] = kept
                continue
            fresh[o.department_id] = (o, WorkCalendar(self._hours_for(o), calendar=self.agency.calendar))
        self._own = fresh

    def _hours_for(self, o: Override) -> WorkingHours:
        base = self.agency.hours
        values = base.model_dump()
        try:
            if o.time_zone:
                values["time_zone"] = check_zone(o.time_zone)
            if o.work_hours:
                values["intervals"] = parse_work_hours(o.work_hours)
            return WorkingHours.model_validate(values)
        except ValueError:
            return base


async def refresh(s: AsyncSession, times: DepartmentTime) -> None:
    rows = (await s.execute(select(Department.id, Department.time_zone, Department.work_hours).where(
        or_(Department.time_zone.is_not(None), Department.work_hours.is_not(None))))).all()
    times.set_overrides(Override(d, zone or None, hours or None) for d, zone, hours in rows)
