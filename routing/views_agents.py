"""Agents' load and availability as routing sees them: the list (status, load against capacity, on duty
now), each agent's routing profile (routable, capacity per channel, languages, duty rota), and the duty
rotas (weekly intervals, dated exceptions, holidays off; shifts may run past midnight).

Who may do what: the administrator edits everything; a department head reads the agents of the
departments they manage and the rotas; the service engineer reads the duty rotas only. Another
department's agent is "not found" to a head, as records out of reach are everywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from sqlalchemy import or_, select

from crm_core.access import Actor
from crm_core.models import Department, Role, User, utcnow
from crm_core.models.routing import AgentRoutingProfile, DutyRota
from routing.duty import WEEKDAYS
from routing.forms import CHANNEL_ORDER, ProfileForm, RotaForm, day_text, validated
from routing.model import DEFAULT_CAPACITY, AgentSnapshot
from routing.queries import agent_snapshots, rota_schedule, save_agent_profile, save_duty_rota
from routing.views import render, service
from web.features import NavItem
from web.guard import allow
from web.i18n import add_texts, translator
from web.keys import ACTOR, LOCALE, USER, sessions

log = logging.getLogger("hub.web.routing")
READ_AGENTS = (Role.ADMIN, Role.DEPT_HEAD)
READ_ROTAS = (Role.ADMIN, Role.DEPT_HEAD, Role.SERVICE_ENGINEER)
MAX_LISTED = 500  # agents on one page; a department filter narrows a company of 15,000

NAV = [
    NavItem("/admin/routing/agents", "routing.nav_agents", roles=frozenset(READ_AGENTS), order=61,
            group="team"),
    NavItem("/admin/routing/duty", "routing.nav_duty", roles=frozenset({Role.SERVICE_ENGINEER}), order=61,
            group="team"),
]

add_texts({
    "routing.nav_agents": ("Агенты и дежурства", "Agents and duty"),
    "routing.nav_duty": ("Графики дежурств", "Duty schedules"),
    "routing.agents_title": ("Агенты: загрузка и доступность", "Agents: load and availability"),
    "routing.department": ("Отдел", "Department"),
    "routing.all_departments": ("все отделы", "all departments"),
    "routing.status": ("Статус", "Status"),
    "routing.routable": ("Получает обращения", "Gets inquiries"),
    "routing.not_routable": ("не получает обращений", "gets no inquiries"),
    "routing.capacity": ("Загрузка / ёмкость", "Load / capacity"),
    "routing.on_duty": ("Дежурит сейчас", "On duty now"),
    "routing.no_rota": ("без графика", "no rota"),
    "routing.rota": ("График дежурств", "Duty schedule"),
    "routing.languages": ("Языки", "Languages"),
    "routing.languages_hint": ("через запятую: ru, en", "comma-separated: ru, en"),
    "routing.profile_title": ("Профиль маршрутизации", "Routing profile"),
    "routing.capacity_title": ("Ёмкость по каналам (сколько открытых одновременно)",
                               "Capacity per channel (open at once)"),
    "routing.profile_saved": ("Профиль сохранён", "Profile saved"),
    "routing.rota_saved": ("График сохранён", "Schedule saved"),
    "routing.fix_errors": ("Не сохранено, исправьте поля:", "Not saved, correct the fields:"),
    "routing.read_only": ("Только просмотр", "Read only"),
    "routing.duty_title": ("Графики дежурств", "Duty schedules"),
    "routing.rota_id": ("Код графика", "Schedule id"),
    "routing.rota_name": ("Название", "Name"),
    "routing.new_rota": ("Новый график", "New schedule"),
    "routing.weekly": ("Смены по дням недели (ЧЧ:ММ-ЧЧ:ММ, через запятую; ночная смена 20:00-08:00 — от дня начала)",
                       "Shifts per weekday (HH:MM-HH:MM, comma-separated; a night shift 20:00-08:00 belongs "
                       "to the day it starts)"),
    "routing.exceptions": ("Исключения по датам (строка «ГГГГ-ММ-ДД: интервалы» или «ГГГГ-ММ-ДД: выходной»)",
                           "Dated exceptions (a line “YYYY-MM-DD: intervals” or “YYYY-MM-DD: off”)"),
    "routing.holidays_off": ("По производственному календарю: праздники, рабочие субботы, сокращённые дни",
                             "By the production calendar: holidays off, working Saturdays, shortened days"),
    "routing.agents_on_rota": ("Агенты", "Agents"),
    "routing.more_agents": ("Показаны первые {n}; выберите отдел", "The first {n} shown; pick a department"),
    "routing.rota_taken": ("Такой код уже есть", "This id is taken"),
    "routing.rota_no_department": ("Такого отдела нет", "No such department"),
    "routing.rota_department": ("Отдел (его часовой пояс)", "Department (its time zone)"),
    "routing.rota_agency_zone": ("— агентство целиком —", "— the whole agency —"),
    "routing.no_rotas": ("Графиков пока нет", "No schedules yet"),
    "routing.yes": ("да", "yes"),
    "routing.no": ("нет", "no"),
    "routing.day_off": ("выходной", "off"),
    "routing.wd_mon": ("Пн", "Mon"), "routing.wd_tue": ("Вт", "Tue"), "routing.wd_wed": ("Ср", "Wed"),
    "routing.wd_thu": ("Чт", "Thu"), "routing.wd_fri": ("Пт", "Fri"), "routing.wd_sat": ("Сб", "Sat"),
    "routing.wd_sun": ("Вс", "Sun"),
})


def _int(request: web.Request, name: str = "id") -> int:
    value = request.match_info[name]
    if not value.isdigit() or len(value) > 12:
        raise web.HTTPNotFound()
    return int(value)


def _departments(actor: Actor) -> tuple[int, ...] | None:
    """The departments whose agents this actor sees; None: all of them."""
    return None if actor.is_admin else actor.department_ids


def _form(raw: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in raw.items() if k != "_csrf" and isinstance(v, str)}


# --- agents ---------------------------------------------------------------------------------------------

async def _people(request: web.Request, user_id: int | None = None, department: int | None = None,
                  limit: int | None = None) -> list[Any]:
    """Agents (role agent, or anyone with a routing profile; by id anyone) within the actor's reach."""
    stmt = (select(User, AgentRoutingProfile, Department.name.label("department"))
            .outerjoin(AgentRoutingProfile, AgentRoutingProfile.user_id == User.id)
            .outerjoin(Department, Department.id == User.department_id)
            .where(User.is_active.is_(True))
            .order_by(User.full_name, User.id))
    if user_id is None:  # the list; one person's page may be anyone's (a manager who also takes calls)
        stmt = stmt.where(or_(User.role == Role.AGENT, AgentRoutingProfile.user_id.is_not(None)))
    reach = _departments(request[ACTOR])
    if reach is not None:
        stmt = stmt.where(User.department_id.in_(reach))
    if user_id is not None:
        stmt = stmt.where(User.id == user_id)
    if department is not None:
        stmt = stmt.where(User.department_id == department)
    if limit is not None:
        stmt = stmt.limit(limit)
    async with sessions(request)() as s:
        return list((await s.execute(stmt)).all())


async def _rotas(request: web.Request) -> dict[str, DutyRota]:
    async with sessions(request)() as s:
        return {r.id: r for r in (await s.execute(select(DutyRota).order_by(DutyRota.id))).scalars()}


async def _on_duty(request: web.Request, rotas: Mapping[str, DutyRota]) -> dict[str, bool]:
    """Who is on duty now, each rota in its department's zone (the agency's when the department has none)."""
    svc = service(request)
    now = utcnow()
    async with sessions(request)() as s:
        zones = dict((await s.execute(select(Department.id, Department.time_zone)
                                      .where(Department.time_zone.is_not(None)))).all())
    agency_zone = svc.work.hours.time_zone
    return {rid: rota_schedule(r, zones.get(r.department_id or 0) or agency_zone).on_duty(now, svc.work.calendar)
            for rid, r in rotas.items()}


async def _department_choices(request: web.Request) -> list[tuple[int, str]]:
    async with sessions(request)() as s:
        rows = (await s.execute(select(Department.id, Department.name).order_by(Department.name))).all()
    return [(department_id, name) for department_id, name in rows]


def _load_cells(snapshot: AgentSnapshot | None, profile: AgentRoutingProfile | None) -> list[dict[str, Any]]:
    capacity = {**DEFAULT_CAPACITY, **((profile.capacity if profile else None) or {})}
    load = snapshot.load if snapshot else {}
    return [{"channel": c, "load": load.get(c, 0), "capacity": capacity.get(c, 0),
             "full": snapshot is not None and load.get(c, 0) >= capacity.get(c, 0)} for c in CHANNEL_ORDER]


@allow(*READ_AGENTS)
async def agents_page(request: web.Request) -> web.StreamResponse:
    department = request.query.get("department", "")
    rows = await _people(request, department=int(department) if department.isdigit() else None,
                         limit=MAX_LISTED + 1)
    more = len(rows) > MAX_LISTED
    rows = rows[:MAX_LISTED]
    async with sessions(request)() as s:
        snaps = {a.id: a for a in await agent_snapshots(s, [r.User.id for r in rows])} if rows else {}
        reach = _departments(request[ACTOR])
        dstmt = select(Department.id, Department.name).order_by(Department.name)
        if reach is not None:
            dstmt = dstmt.where(Department.id.in_(reach))
        departments = (await s.execute(dstmt)).all()
    rotas = await _rotas(request)
    duty = await _on_duty(request, rotas)
    agents = []
    for r in rows:
        user, profile = r.User, r.AgentRoutingProfile
        rota_id = profile.duty_schedule if profile else None
        agents.append({
            "id": user.id, "name": user.full_name, "department": r.department or "—", "status": str(user.status),
            "routable": user.id in snaps, "cells": _load_cells(snaps.get(user.id), profile),
            "rota": rotas[rota_id].name or rota_id if rota_id in rotas else None,
            "on_duty": duty.get(rota_id) if rota_id else None,
        })
    return render(request, "routing_agents.html", {"agents": agents, "departments": departments,
                                                    "department": department, "more": more,
                                                    "max_listed": MAX_LISTED})


async def _agent_page(request: web.Request, user_id: int, *, form: Mapping[str, str] | None = None,
                      errors: Mapping[str, str] | None = None, status: int = 200) -> web.StreamResponse:
    rows = await _people(request, user_id=user_id)
    if not rows:
        raise web.HTTPNotFound()
    user, profile = rows[0].User, rows[0].AgentRoutingProfile
    if form is None:
        capacity = {**DEFAULT_CAPACITY, **((profile.capacity if profile else None) or {})}
        form = {f"cap_{c}": str(capacity[c]) for c in CHANNEL_ORDER}
        form |= {"languages": ", ".join(profile.languages if profile else ["ru"]),
                 "duty_schedule": (profile.duty_schedule or "") if profile else "",
                 "routable": "on" if (profile.routable if profile else user.role == Role.AGENT) else ""}
    async with sessions(request)() as s:
        snaps = await agent_snapshots(s, [user_id])
    rotas = await _rotas(request)
    return render(request, "routing_agent.html", {
        "agent": user, "department": rows[0].department or "—", "form": form, "errors": errors or {},
        "channels": CHANNEL_ORDER, "rotas": rotas, "cells": _load_cells(snaps[0] if snaps else None, profile),
        "editable": request[USER].role == Role.ADMIN, "notice": request.query.get("notice"),
        "on_duty": await _on_duty(request, rotas),
    }, status=status)


@allow(*READ_AGENTS)
async def agent_page(request: web.Request) -> web.StreamResponse:
    return await _agent_page(request, _int(request))


@allow(Role.ADMIN)
async def agent_save(request: web.Request) -> web.StreamResponse:
    user_id = _int(request)
    if not await _people(request, user_id=user_id):
        raise web.HTTPNotFound()
    form = _form(await request.post())
    rotas = await _rotas(request)
    profile, errors = validated(ProfileForm, form, request.get(LOCALE, "ru"), {"rotas": set(rotas)})
    if profile is None:
        return await _agent_page(request, user_id, form=form, errors=errors, status=422)
    await save_agent_profile(sessions(request), user_id, routable=profile.routable, capacity=profile.capacity,
                             languages=profile.languages, duty_schedule=profile.duty_schedule)
    service(request).agents_changed()
    log.info("routing profile of user=%s saved by user=%s", user_id, request[USER].id)
    raise web.HTTPSeeOther(f"/admin/routing/agents/{user_id}?notice=saved")


# --- duty rotas -----------------------------------------------------------------------------------------

@allow(*READ_ROTAS)
async def duty_page(request: web.Request) -> web.StreamResponse:
    rotas = await _rotas(request)
    stmt = (select(AgentRoutingProfile.duty_schedule, User.full_name)
            .join(User, User.id == AgentRoutingProfile.user_id)
            .where(AgentRoutingProfile.duty_schedule.is_not(None), User.is_active.is_(True))
            .order_by(User.full_name))
    reach = _departments(request[ACTOR])
    if reach is not None and request[ACTOR].role != Role.SERVICE_ENGINEER:
        stmt = stmt.where(User.department_id.in_(reach))
    people: dict[str, list[str]] = {}
    async with sessions(request)() as s:
        for rota_id, name in (await s.execute(stmt)).all():
            people.setdefault(rota_id, []).append(name)
    return render(request, "routing_duty.html", {
        "rotas": [{"id": r.id, "name": r.name, "days": {d: day_text(r.weekly.get(d)) for d in WEEKDAYS},
                   "exceptions": sorted(r.exceptions.items()), "holidays_off": r.holidays_off,
                   "people": people.get(r.id, [])} for r in rotas.values()],
        "on_duty": await _on_duty(request, rotas), "weekdays": WEEKDAYS,
        "editable": request[USER].role == Role.ADMIN, "notice": request.query.get("notice"),
    })


def _rota_form(rota: DutyRota | None) -> dict[str, str]:
    if rota is None:
        return {"id": "", "name": "", "exceptions": "", "holidays_off": "on", "department_id": ""}
    form = {"id": rota.id, "name": rota.name, "holidays_off": "on" if rota.holidays_off else "",
            "department_id": str(rota.department_id or "")}
    form |= {d: day_text(rota.weekly.get(d)) for d in WEEKDAYS}
    form["exceptions"] = "\n".join(f"{day}: {day_text(iv) or 'выходной'}"
                                   for day, iv in sorted(rota.exceptions.items()))
    return form


async def _rota_page(request: web.Request, form: Mapping[str, str], *, existing: bool,
                     errors: Mapping[str, str] | None = None, status: int = 200) -> web.StreamResponse:
    return render(request, "routing_rota.html", {
        "form": form, "errors": errors or {}, "existing": existing, "weekdays": WEEKDAYS,
        "departments": await _department_choices(request),
        "editable": request[USER].role == Role.ADMIN, "notice": request.query.get("notice"),
    }, status=status)


@allow(*READ_ROTAS)
async def rota_page(request: web.Request) -> web.StreamResponse:
    rota_id = request.match_info["rota"]
    if rota_id == "new":
        if request[USER].role != Role.ADMIN:
            raise web.HTTPForbidden()
        return await _rota_page(request, _rota_form(None), existing=False)
    rota = (await _rotas(request)).get(rota_id)
    if rota is None:
        raise web.HTTPNotFound()
    return await _rota_page(request, _rota_form(rota), existing=True)


@allow(Role.ADMIN)
async def rota_save(request: web.Request) -> web.StreamResponse:
    """Create (``/admin/routing/duty``, the id from the form) or replace (``/admin/routing/duty/{rota}``)."""
    form = _form(await request.post())
    existing = "rota" in request.match_info
    if existing:
        if request.match_info["rota"] not in await _rotas(request):
            raise web.HTTPNotFound()
        form["id"] = request.match_info["rota"]
    rota, errors = validated(RotaForm, form, request.get(LOCALE, "ru"))
    if rota is not None and not existing and rota.id in await _rotas(request):
        rota, errors = None, {"id": translator(request.get(LOCALE, "ru"))("routing.rota_taken")}
    if rota is not None and rota.department_id is not None and \
            rota.department_id not in dict(await _department_choices(request)):
        rota, errors = None, {"department_id": translator(request.get(LOCALE, "ru"))("routing.rota_no_department")}
    if rota is None:
        return await _rota_page(request, form, existing=existing, errors=errors, status=422)
    await save_duty_rota(sessions(request), rota.id, name=rota.name, weekly=rota.weekly, exceptions=rota.exceptions,
                         holidays_off=rota.holidays_off, department_id=rota.department_id)
    service(request).agents_changed()
    log.info("duty schedule %s saved by user=%s", rota.id, request[USER].id)
    raise web.HTTPSeeOther(f"/admin/routing/duty/{rota.id}?notice=saved")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/admin/routing/agents", agents_page)
    router.add_get("/admin/routing/agents/{id}", agent_page)
    router.add_post("/admin/routing/agents/{id}", agent_save)
    router.add_get("/admin/routing/duty", duty_page)
    router.add_post("/admin/routing/duty", rota_save)
    router.add_get("/admin/routing/duty/{rota}", rota_page)
    router.add_post("/admin/routing/duty/{rota}", rota_save)
