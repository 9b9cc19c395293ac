"""A department's own working time (administrator): an office in another city keeps its time zone and
working hours. Its inquiries' deadlines, its duty rotas and the times its people see in the pages count in
them; empty fields mean the agency's. The production calendar stays the country's."""

from __future__ import annotations

import logging

from aiohttp import web

from crm_core.models import Department, Role
from routing.calendar import WorkingHours
from routing.department_time import WorkHoursError, check_zone, parse_work_hours
from routing.views import render, service
from web.guard import allow
from web.i18n import add_texts, translator
from web.keys import LOCALE, USER, sessions
from web.labels import ZONES

log = logging.getLogger("hub.web.routing")

add_texts({
    "hours.title": ("Рабочее время отдела", "The department's working time"),
    "hours.explain": ("Для отдела в другом городе: его часовой пояс и часы работы. По ним считаются сроки "
                      "обращений отдела, его графики дежурств и время на страницах его сотрудников. Пустое поле "
                      "— как у агентства.",
                      "For a department in another city: its time zone and working hours. Its inquiries' "
                      "deadlines, its duty rotas and the times its people see use them. Empty: the agency's."),
    "hours.agency": ("У агентства", "The agency's"),
    "hours.zone": ("Часовой пояс", "Time zone"),
    "hours.hours": ("Часы работы", "Working hours"),
    "hours.as_agency": ("как у агентства", "as the agency's"),
    "hours.saved": ("Сохранено: новые сроки отдела посчитаются в течение минуты",
                    "Saved: the department's deadlines are recomputed within a minute"),
    "hours.bad_zone": ("Неизвестный часовой пояс (например, Asia/Yekaterinburg)",
                       "Unknown time zone (e.g. Asia/Yekaterinburg)"),
    "hours.bad_hours": ("Часы работы — интервалы через запятую по порядку, например 09:00-13:00, 14:00-18:00",
                        "Working hours: intervals in order, comma-separated, e.g. 09:00-13:00, 14:00-18:00"),
    "hours.too_short": ("День короче сокращения предпраздничного дня ({minutes} мин)",
                        "The day is shorter than the pre-holiday shortening ({minutes} min)"),
    "hours.back": ("Отделы", "Departments"),
})


async def _department(request: web.Request) -> Department:
    try:
        department_id = int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    async with sessions(request)() as s:
        department = await s.get(Department, department_id)
    if department is None:
        raise web.HTTPNotFound()
    return department


def _page(request: web.Request, department: Department, form: dict[str, str], errors: dict[str, str],
          *, saved: bool = False, status: int = 200) -> web.StreamResponse:
    agency = service(request).work.hours
    return render(request, "routing_hours.html", {
        "department": department, "form": form, "errors": errors, "saved": saved, "zones": ZONES,
        "agency_zone": agency.time_zone, "agency_hours": ", ".join(f"{a}-{b}" for a, b in agency.intervals),
    }, status=status)


@allow(Role.ADMIN)
async def hours_page(request: web.Request) -> web.StreamResponse:
    department = await _department(request)
    form = {"time_zone": department.time_zone or "", "work_hours": department.work_hours or ""}
    return _page(request, department, form, {}, saved=request.query.get("notice") == "saved")


def validate(form: dict[str, str], agency: WorkingHours, locale: str) -> dict[str, str]:
    """Per-field messages in the reader's language; empty when the zone and hours can be used."""
    t = translator(locale)
    errors: dict[str, str] = {}
    values = agency.model_dump()
    try:
        if form["time_zone"]:
            values["time_zone"] = check_zone(form["time_zone"])
    except WorkHoursError:
        errors["time_zone"] = t("hours.bad_zone")
    try:
        if form["work_hours"]:
            values["intervals"] = parse_work_hours(form["work_hours"])
    except WorkHoursError:
        errors["work_hours"] = t("hours.bad_hours")
    if not errors:
        try:
            WorkingHours.model_validate(values)
        except ValueError:
            errors["work_hours"] = t("hours.too_short").format(minutes=agency.shortened_by_minutes)
    return errors


@allow(Role.ADMIN)
async def hours_save(request: web.Request) -> web.StreamResponse:
    department = await _department(request)
    posted = await request.post()
    form = {k: str(posted.get(k, "")).strip()[:200] for k in ("time_zone", "work_hours")}
    errors = validate(form, service(request).work.hours, request.get(LOCALE, "ru"))
    if errors:
        return _page(request, department, form, errors, status=422)
    hours = ", ".join(f"{a}-{b}" for a, b in parse_work_hours(form["work_hours"])) if form["work_hours"] else None
    async with sessions(request)() as s, s.begin():
        row = await s.get(Department, department.id)
        if row is None:
            raise web.HTTPNotFound()
        row.time_zone, row.work_hours = form["time_zone"] or None, hours
    service(request).agents_changed()  # duty rotas of the department count in its zone
    log.info("working time of department=%s set (zone=%s, own hours=%s) by user=%s", department.id,
             form["time_zone"] or "agency", hours is not None, getattr(request[USER], "id", None))
    raise web.HTTPSeeOther(f"/admin/departments/{department.id}/hours?notice=saved")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(r"/admin/departments/{id:\d+}/hours", hours_page)
    router.add_post(r"/admin/departments/{id:\d+}/hours", hours_save)
