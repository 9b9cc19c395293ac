"""The production calendar page (administrator): which years the hub has the official calendar for, a year's
working days and hours per month to check a file by, loading the next year's official xmlcalendar file, and
the history of loaded files. A year the hub needs without a file is warned about here, on the routing
rules page and (through ``calendar_warning.js``) at the top of the administrator's every page."""

from __future__ import annotations

import logging
import weakref
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from crm_core.models import Role
from routing.calendar import CalendarFileError, WorkCalendar
from routing.calendar_files import month_table, official_calendar
from routing.calendar_service import MAX_FILE_BYTES, CalendarKeeper, calendar_history
from routing.views import render
from web.features import NavItem
from web.guard import allow
from web.i18n import add_texts, translator
from web.keys import ACTOR, HUB, LOCALE, sessions

log = logging.getLogger("hub.web.routing")
_keepers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
SCRIPTS = ["/static/routing/calendar_warning.js"]
NAV = [NavItem("/admin/routing/calendar", "calendar.nav", roles=frozenset({Role.ADMIN}), order=62,
                 group="settings")]

add_texts({
    "calendar.nav": ("Календарь", "Calendar"),
    "calendar.title": ("Производственный календарь", "Production calendar"),
    "calendar.missing": ("Нет официального производственного календаря на {years} год: сроки считаются по "
                         "встроенному списку праздников (без сокращённых дней и рабочих суббот). Загрузите файл "
                         "календаря.",
                         "No official production calendar for {years}: deadlines follow the holidays library's "
                         "guess (no shortened working Saturdays). Load the calendar file."),
    "calendar.years": ("Официальный календарь есть на годы", "The official calendar covers"),
    "calendar.year": ("Год", "Year"),
    "calendar.month": ("Месяц", "Month"),
    "calendar.working_days": ("Рабочих дней", "Working days"),
    "calendar.shortened": ("Сокращённых", "Shortened"),
    "calendar.hours": ("Рабочих часов (наш график)", "Working hours (our hours)"),
    "calendar.norm": ("Норма при 40-часовой неделе", "40-hour week norm"),
    "calendar.total": ("Итого", "Total"),
    "calendar.source_file": ("официальный файл", "official file"),
    "calendar.source_library": ("нет файла: встроенный список праздников", "no file: the holidays library"),
    "calendar.load": ("Загрузить официальный календарь (xmlcalendar.ru, XML)",
                      "Load an official calendar (xmlcalendar.ru XML)"),
    "calendar.file": ("Файл", "File"),
    "calendar.text": ("или текст файла", "or the file's text"),
    "calendar.submit": ("Загрузить", "Load"),
    "calendar.loaded": ("Календарь на {year} год загружен и действует", "The {year} calendar is loaded and in force"),
    "calendar.unchanged": ("Этот файл на {year} год уже действует", "This {year} file is already in force"),
    "calendar.rejected": ("Файл не принят, календарь не изменён:", "File rejected, the calendar is unchanged:"),
    "calendar.history": ("История загрузок", "Loaded files"),
    "calendar.when": ("Когда", "When"),
    "calendar.who": ("Кто", "Who"),
    "calendar.file_name": ("Файл", "File"),
    "calendar.hash": ("SHA-256", "SHA-256"),
    "calendar.no_history": ("Файлы ещё не загружались: действуют файлы, поставляемые с хабом",
                            "No files loaded yet: the files shipped with the hub are in force"),
    **{f"calendar.m{n}": (ru, en) for n, ru, en in (
        (1, "Январь", "January"), (2, "Февраль", "February"), (3, "Март", "March"), (4, "Апрель", "April"),
        (5, "Май", "May"), (6, "Июнь", "June"), (7, "Июль", "July"), (8, "Август", "August"),
        (9, "Сентябрь", "September"), (10, "Октябрь", "October"), (11, "Ноябрь", "November"),
        (12, "Декабрь", "December"))},
})


def keeper(request: web.Request) -> CalendarKeeper:
    """The hub's calendar keeper when routing is wired, else one over this process's official calendar."""
    hub = request.app[HUB]
    wired = hub.connectors.get("calendar") if hasattr(hub, "connectors") else None
    if isinstance(wired, CalendarKeeper):
        return wired
    made = _keepers.get(hub.database.sessions)
    if made is None:
        hours = hub.settings.routing.hours
        made = _keepers[hub.database.sessions] = CalendarKeeper(
            hub.database.sessions, official_calendar(hours.production_calendar_dir), zone=hours.time_zone)
    return made


def missing_warning(request: web.Request) -> str | None:
    """The warning text for the administrator when a needed year has no official file, else None."""
    missing = keeper(request).missing()
    if not missing:
        return None
    return translator(request.get(LOCALE, "ru"))("calendar.missing").format(years=", ".join(map(str, missing)))


async def _page(request: web.Request, *, notice: str | None = None, problem: str | None = None,
                text: str = "", status: int = 200) -> web.StreamResponse:
    kept = keeper(request)
    today = kept.today()
    try:
        year = int(request.query.get("year") or today.year)
    except ValueError:
        raise web.HTTPNotFound(text="no such year") from None
    if not 1990 <= year <= 2200:
        raise web.HTTPNotFound(text="no such year")
    hours = request.app[HUB].settings.routing.hours
    work = WorkCalendar(hours, kept.calendar)
    first = date(year, 1, 1)
    days = [first + timedelta(days=i) for i in range((date(year + 1, 1, 1) - first).days)]
    table = month_table(kept.calendar, year, {d: work.working_hours_on(d) for d in days})
    async with sessions(request)() as s:
        history = await calendar_history(s)
    years = sorted(kept.calendar.years | {today.year, today.year + 1, year})
    message = None
    if notice:
        kind, _, loaded = notice.partition(":")
        message = translator(request.get(LOCALE, "ru"))(f"calendar.{kind}").format(year=loaded)
    return render(request, "routing_calendar.html", {
        "warning": missing_warning(request), "year": year, "years": years, "official": sorted(kept.calendar.years),
        "has_file": year in kept.calendar.years, "table": table, "history": history, "message": message,
        "problem": problem, "text": text, "zone": hours.time_zone, "tz": ZoneInfo(hours.time_zone),
        "totals": (sum(m.working_days for m in table), sum(m.hours for m in table), sum(m.norm_40h for m in table)),
    }, status=status)


@allow(Role.ADMIN)
async def calendar_page(request: web.Request) -> web.StreamResponse:
    notice = request.query.get("notice")
    return await _page(request, notice=notice if notice and notice.split(":")[0] in ("loaded", "unchanged") else None)


@allow(Role.ADMIN)
async def calendar_load(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    upload = form.get("file")
    text = str(form.get("text", ""))
    data: bytes | str = text
    source = "text"
    if isinstance(upload, web.FileField) and upload.filename:
        data = upload.file.read(MAX_FILE_BYTES + 1)
        source = str(upload.filename)
    if not data or (isinstance(data, str) and not data.strip()):
        return await _page(request, problem="give a file or its text", status=422)
    try:
        parsed, new = await keeper(request).load(data, source, request[ACTOR].user_id)
    except CalendarFileError as exc:
        return await _page(request, problem=str(exc), text=text, status=422)
    log.info("production calendar %s loaded by user=%s new=%s", parsed.year, request[ACTOR].user_id, new)
    raise web.HTTPSeeOther(f"/admin/routing/calendar?year={parsed.year}&notice="
                           f"{'loaded' if new else 'unchanged'}:{parsed.year}")


@allow()
async def calendar_status(request: web.Request) -> web.StreamResponse:
    """For the banner on the administrator's pages: the warning text, or nothing."""
    actor = request[ACTOR]
    warning = missing_warning(request) if actor.role == Role.ADMIN else None
    return web.json_response({"warning": warning, "href": "/admin/routing/calendar"} if warning else {})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/admin/routing/calendar", calendar_page)
    router.add_post("/admin/routing/calendar", calendar_load)
    router.add_get("/admin/routing/calendar/status.json", calendar_status)
