"""The production calendar at run time: the years the administrator loaded (``routing_calendar_files``) put
into the running calendar, a new file stored with its history, and the warning when a year the hub needs
has no official file (on /healthz, in the log once a day, on the administrator's pages from 1 November).

``CalendarKeeper`` is a connector (``hub.connectors["calendar"]``): at start it reads the stored years into
the calendar; every ``poll_s`` it reads them again (a year loaded through another hub process) and warns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.models import User, utcnow
from crm_core.models.calendar_files import CalendarFile
from routing.calendar import CalendarFileError
from routing.calendar_files import CalendarYear, XmlCalendar, parse_xmlcalendar_text

log = logging.getLogger("hub.calendar")
MAX_FILE_BYTES = 512 * 1024


@dataclass(frozen=True, slots=True)
class LoadedFile:
    id: int
    year: int
    sha256: str
    source: str
    loaded_by: str | None  # the user's name
    loaded_at: datetime


async def store_calendar_file(sessions: async_sessionmaker[AsyncSession], data: bytes | str, source: str,
                              user_id: int | None, *, now: datetime | None = None) -> tuple[CalendarYear, bool]:
    """Check and keep an official calendar file: (the year read, whether it is new). The same file as the year's
    latest is not stored twice. Raises ``CalendarFileError`` naming the problem; nothing is stored then."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > MAX_FILE_BYTES:
        raise CalendarFileError(f"{source}: the file is larger than {MAX_FILE_BYTES // 1024} KB")
    parsed = parse_xmlcalendar_text(raw, source)
    async with sessions() as s, s.begin():
        latest = (await s.execute(select(CalendarFile.sha256).where(CalendarFile.year == parsed.year)
                                  .order_by(CalendarFile.id.desc()).limit(1))).scalar()
        if latest == parsed.sha256:
            return parsed, False
        s.add(CalendarFile(year=parsed.year, sha256=parsed.sha256, source=source[:300], loaded_by=user_id,
                           loaded_at=now or utcnow(), content=raw.decode("utf-8", errors="replace")))
    log.info("production calendar %s loaded (sha256 %s) by user=%s", parsed.year, parsed.sha256[:12], user_id)
    return parsed, True


async def stored_years(s: AsyncSession) -> list[CalendarYear]:
    """The latest stored file of each year, read."""
    latest = select(CalendarFile.year, func.max(CalendarFile.id).label("id")).group_by(CalendarFile.year).subquery()
    rows = (await s.execute(select(CalendarFile.id, CalendarFile.content)
                            .join(latest, latest.c.id == CalendarFile.id).order_by(CalendarFile.year))).all()
    return [parse_xmlcalendar_text(content, f"routing_calendar_files#{row_id}") for row_id, content in rows]


async def calendar_history(s: AsyncSession, year: int | None = None, limit: int = 200) -> list[LoadedFile]:
    stmt = (select(CalendarFile.id, CalendarFile.year, CalendarFile.sha256, CalendarFile.source, User.full_name,
                   CalendarFile.loaded_at)
            .outerjoin(User, User.id == CalendarFile.loaded_by).order_by(CalendarFile.id.desc()).limit(limit))
    if year is not None:
        stmt = stmt.where(CalendarFile.year == year)
    return [LoadedFile(*row) for row in (await s.execute(stmt)).all()]


class CalendarKeeper:
    """Keeps the running calendar's loaded years current and says which needed years are missing."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], calendar: XmlCalendar, *,
                 clock: Callable[[], datetime] = utcnow, poll_s: float = 300.0, zone: str = "Europe/Moscow") -> None:
        self.sessions, self.calendar, self.clock, self.poll_s = sessions, calendar, clock, poll_s
        self.zone = zone
        self.state = "stopped"
        self._task: asyncio.Task[None] | None = None
        self._warned_on: date | None = None
        self._seen: dict[int, str] = {}

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="calendar-keeper")
            self.state = "running"

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self.state = "stopped"

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
                self.warn_once_a_day()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the next pass tries again
                log.exception("reading the stored production calendar failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.sleep(self.poll_s)

    async def refresh(self) -> list[int]:
        """Put the stored years into the running calendar(s); returns the years that changed."""
        async with self.sessions() as s:
            years = await stored_years(s)
        changed = [parsed.year for parsed in years if self._seen.get(parsed.year) != parsed.sha256]
        for parsed in years:
            if parsed.year in changed:
                self.use(parsed)
        return changed

    def use(self, parsed: CalendarYear) -> None:
        """Use this year's file from now on (the calendar is the process's official one, which the SLA clock, the
        rotas and the reports share)."""
        self._seen[parsed.year] = parsed.sha256
        self.calendar.add_year(parsed)

    async def load(self, data: bytes | str, source: str, user_id: int | None) -> tuple[CalendarYear, bool]:
        parsed, new = await store_calendar_file(self.sessions, data, source, user_id, now=self.clock())
        self.use(parsed)
        return parsed, new

    def today(self) -> date:
        return self.clock().astimezone(ZoneInfo(self.zone)).date()

    def missing(self) -> list[int]:
        return self.calendar.missing_years(self.today())

    def health(self) -> dict[str, object]:
        missing = self.missing()
        body: dict[str, object] = {"years": sorted(self.calendar.years), "missing": missing}
        if missing:
            body["note"] = (f"no official production calendar for {', '.join(map(str, missing))}: deadlines use "
                            f"the holidays library's guess; load the file (hub calendar load FILE)")
        return body

    def warn_once_a_day(self) -> bool:
        missing, today = self.missing(), self.today()
        if not missing or self._warned_on == today:
            return False
        self._warned_on = today
        log.warning("no official production calendar for %s: using the holidays library; load it with "
                    "`hub calendar load FILE` or at /admin/routing/calendar", ", ".join(map(str, missing)))
        return True
