"""``hub calendar``: load an official production calendar file, show a year's working days and hours.

    hub calendar load ru-2027.xml [--by admin]   # checked, stored with its history, in force at once
    hub calendar show 2027                      # per month: working days, shortened days, hours, 40-hour norm

A running hub picks a loaded year up within its calendar poll (5 minutes); the page ``/admin/routing/calendar``
does the same from the browser.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import TextIO

from routing.calendar import CalendarFileError, WorkCalendar
from routing.calendar_files import month_table, official_calendar
from routing.calendar_service import CalendarKeeper

MONTHS = ("январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь", "октябрь",
          "ноябрь", "декабрь")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calendar", help="the official production calendar: load a year's file, show a year")
    what = p.add_subparsers(dest="calendar_command", required=True)
    load = what.add_parser("load", help="load an official xmlcalendar file (xmlcalendar.ru format)")
    load.add_argument("file", type=Path)
    load.add_argument("--by", help="the login of who loads it (kept in the history)")
    show = what.add_parser("show", help="a year's working days and hours per month")
    show.add_argument("year", type=int)


def cmd_calendar(settings, args: argparse.Namespace) -> int:  # noqa: ANN001 - config.settings.Settings
    if args.calendar_command == "load":
        try:
            data = args.file.read_bytes()
        except OSError as exc:
            print(f"hub: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
            return 1
        return asyncio.run(_with_keeper(settings, lambda keeper, s: _load(keeper, s, data, args.file.name, args.by)))
    return asyncio.run(_with_keeper(settings, lambda keeper, s: _show(keeper, s, args.year)))


async def _with_keeper(settings, body) -> int:  # noqa: ANN001
    from crm_core.db import create_engine, session_factory
    from crm_core.migrate import migrate

    engine = create_engine(settings.database)
    try:
        await migrate(engine)
        sessions = session_factory(engine)
        hours = settings.routing.hours
        keeper = CalendarKeeper(sessions, official_calendar(hours.production_calendar_dir), zone=hours.time_zone)
        await keeper.refresh()
        return int(await body(keeper, settings))
    finally:
        await engine.dispose()


async def _load(keeper: CalendarKeeper, settings, data: bytes, name: str, login: str | None) -> int:  # noqa: ANN001
    from sqlalchemy import select

    from crm_core.models import User

    user_id = None
    if login:
        async with keeper.sessions() as s:
            user_id = (await s.execute(select(User.id).where(User.login == login))).scalar()
        if user_id is None:
            print(f"hub: no user {login!r}", file=sys.stderr)
            return 1
    try:
        parsed, new = await keeper.load(data, name, user_id)
    except CalendarFileError as exc:
        print(f"hub: {exc} — nothing loaded", file=sys.stderr)
        return 1
    print(f"{parsed.year}: {'loaded' if new else 'already in force'} (sha256 {parsed.sha256[:16]})")
    return await _show(keeper, settings, parsed.year)


async def _show(keeper: CalendarKeeper, settings, year: int, out: TextIO | None = None) -> int:  # noqa: ANN001
    out = out or sys.stdout
    work = WorkCalendar(settings.routing.hours, keeper.calendar)
    first = date(year, 1, 1)
    days = [first + timedelta(days=i) for i in range((date(year + 1, 1, 1) - first).days)]
    table = month_table(keeper.calendar, year, {d: work.working_hours_on(d) for d in days})
    source = "official file" if year in keeper.calendar.years else "NO OFFICIAL FILE: the holidays library's guess"
    out.write(f"{year} ({source}; {settings.routing.hours.time_zone})\n")
    out.write(f"{'month':<10} {'days':>5} {'short':>6} {'hours':>7} {'40h norm':>9}\n")
    for m in table:
        out.write(f"{MONTHS[m.month - 1]:<10} {m.working_days:>5} {m.shortened_days:>6} {m.hours:>7g} "
                  f"{m.norm_40h:>9}\n")
    out.write(f"{'итого':<10} {sum(m.working_days for m in table):>5} {sum(m.shortened_days for m in table):>6} "
              f"{sum(m.hours for m in table):>7g} {sum(m.norm_40h for m in table):>9}\n")
    missing = keeper.missing()
    if missing:
        out.write(f"warning: no official production calendar for {', '.join(map(str, missing))}\n")
    return 0
