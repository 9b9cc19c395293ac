"""The property base pages: tabs (mine / my subordinates' / archive / all), the property card with its
statistics, create and edit with errors per field, archive, the quick search (JSON for the pop-up) and the
links from an inquiry or a call. Access is agency.properties' (out of reach → 404)."""

from __future__ import annotations

import hmac
import json
import logging
from decimal import Decimal

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import and_, or_, select

from agency import properties as P
from agency.cold_calls import COLD_OUTCOMES, cold_call_result, cold_task_scope
from agency.deal_forms import DealError
from agency.owner_lead_import import LEAD_FIELDS, chunks_in_thread, chunks_of, import_owner_leads, read_lead_file
from agency.property_access import can_write_property, get_property
from agency.property_forms import DEAL_TYPES, LIQUIDITY, PROPERTY_TYPES, FieldError, PropertyInput
from agency.property_queries import list_properties, property_stats, search_properties, tabs_for
from agency.settings import AgencySettings
from agency.views import WORKERS, field_errors, form_of, int_param, render
from crm_core.importer.limits import MAX_FILE_BYTES
from crm_core.importer.report import ImportFileError
from crm_core.models import Client, Department, Inquiry, Property, Role, Task, User, utcnow
from crm_core.models.agency import OwnerLead
from web.features import NavItem
from web.guard import allow, csrf_exempt, public
from web.i18n import add_texts
from web.keys import ACTOR, HUB, LOCALE, sessions

log = logging.getLogger("hub.web.properties")

NAV = [NavItem("/properties", "agency.nav_properties", order=26, group="clients"),
       NavItem("/leads", "agency.nav_leads", roles=frozenset(WORKERS), order=27, group="clients")]
MANAGERS = (Role.ADMIN, Role.DEPT_HEAD, Role.DEPT_MANAGER)
MAX_API_ITEMS = 10_000

add_texts({
    "agency.nav_properties": ("Объекты", "Properties"),
    "agency.properties_title": ("Объекты", "Properties"),
    "agency.tab.mine": ("Мои объекты", "My properties"),
    "agency.tab.team": ("Объекты подчинённых", "My subordinates' properties"),
    "agency.tab.archive": ("Архив", "Archive"),
    "agency.tab.all": ("Все объекты", "All properties"),
    "agency.no_properties": ("Объектов нет", "No properties"),
    "agency.new_property": ("Новый объект", "New property"),
    "agency.property_title": ("Объект №{id}", "Property #{id}"),
    "agency.address": ("Адрес", "Address"),
    "agency.district": ("Район", "District"),
    "agency.metro": ("Метро", "Metro"),
    "agency.lat": ("Широта", "Latitude"),
    "agency.lon": ("Долгота", "Longitude"),
    "agency.ptype": ("Тип", "Type"),
    "agency.deal_type": ("Сделка", "Deal"),
    "agency.price": ("Цена, ₽", "Price, RUB"),
    "agency.liquidity": ("Ликвидность", "Liquidity"),
    "agency.owner": ("Собственник (№ клиента)", "Owner (client #)"),
    "agency.owner_name": ("Собственник", "Owner"),
    "agency.avito_item": ("Номер объявления на Авито", "Avito listing number"),
    "agency.archived": ("В архиве", "Archived"),
    "agency.to_archive": ("В архив", "Archive"),
    "agency.from_archive": ("Вернуть из архива", "Restore"),
    "agency.stats": ("Статистика", "Statistics"),
    "agency.stats_inquiries": ("Обращений", "Inquiries"),
    "agency.stats_calls": ("Звонков", "Calls"),
    "agency.stats_viewings": ("Просмотров проведено", "Viewings held"),
    "agency.search": ("Поиск", "Search"),
    "agency.ptype.flat": ("квартира", "flat"),
    "agency.ptype.room": ("комната", "room"),
    "agency.ptype.house": ("дом", "house"),
    "agency.ptype.townhouse": ("таунхаус", "townhouse"),
    "agency.ptype.land": ("участок", "land"),
    "agency.ptype.office": ("офис", "office"),
    "agency.ptype.retail": ("торговое помещение", "retail"),
    "agency.ptype.warehouse": ("склад", "warehouse"),
    "agency.ptype.garage": ("гараж", "garage"),
    "agency.ptype.other": ("другое", "other"),
    "agency.dtype.sale": ("продажа", "sale"),
    "agency.dtype.rent": ("аренда", "rent"),
    "agency.liq.high": ("высокая", "high"),
    "agency.liq.medium": ("средняя", "medium"),
    "agency.liq.low": ("низкая", "low"),
    "agency.nav_leads": ("Обзвон", "Cold calls"),
    "agency.leads_title": ("Обзвон собственников", "Calling owners"),
    "agency.leads_none": ("Звонить некому", "Nobody to call"),
    "agency.leads_import": ("Загрузить собственников (CSV/XLSX)", "Upload owners (CSV/XLSX)"),
    "agency.leads_file": ("Файл", "File"),
    "agency.leads_department": ("Кто обзванивает (отдел)", "Who calls (department)"),
    "agency.leads_source": ("Источник", "Source"),
    "agency.leads_report": ("Строк: {rows}, новых объектов: {created}, повторов: {duplicates}, ошибок: {errors}",
                            "Rows: {rows}, new properties: {created}, repeats: {duplicates}, errors: {errors}"),
    "agency.leads_due": ("Пора звонить", "Due now"),
    "agency.leads_later": ("Позже", "Later"),
    "agency.leads_attempts": ("Попыток", "Attempts"),
    "agency.out.no_answer": ("Не ответил", "No answer"),
    "agency.out.busy": ("Занято", "Busy"),
    "agency.out.refused": ("Отказ", "Refused"),
    "agency.out.reached": ("Дозвонились: готов к показу", "Reached: willing"),
    "agency.lead.calling": ("Перезвоним позже", "We will call again"),
    "agency.lead.gave_up": ("Попытки исчерпаны", "Out of tries"),
    "agency.lead.refused": ("Собственник отказался", "The owner refused"),
    "agency.lead.reached": ("Обращение собственника передано агенту", "The owner's inquiry went to an agent"),
    "agency.my_viewings": ("Назначить просмотр", "Arrange a viewing"),
    "timeline.cold_call": ("Холодный звонок", "Cold call"),
    "timeline.viewing_task": ("Задача: назначить просмотр", "Task: arrange a viewing"),
})

FIELDS = ("address", "district", "metro", "lat", "lon", "property_type", "deal_type", "price", "liquidity",
          "owner_client_id", "agent_id", "avito_item_id")


def _dumps(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, default=lambda v: float(v) if isinstance(v, Decimal) else str(v))


@allow()
async def properties_page(request: web.Request) -> web.StreamResponse:
    actor = request[ACTOR]
    tabs = tabs_for(actor)
    tab = request.query.get("tab", "mine")
    if tab not in tabs:
        tab = "mine"
    q = request.query.get("q", "")[:200]
    async with sessions(request)() as s:
        rows = await search_properties(s, actor, q, limit=100) if q else await list_properties(s, actor, tab)
    return render(request, "agency_properties.html", {
        "rows": rows, "tab": tab if not q else "", "tabs": tabs, "q": q,
        "can_create": actor.role != Role.DIRECTOR,
    })


async def _agents(request: web.Request) -> list[tuple[int, str]]:
    actor = request[ACTOR]
    if actor.role == Role.AGENT:
        return []
    stmt = select(User.id, User.full_name).where(User.is_active.is_(True))
    if not actor.is_admin:
        stmt = stmt.where(User.department_id == actor.department_id)
    async with sessions(request)() as s:
        return [(r[0], r[1]) for r in await s.execute(stmt.order_by(User.full_name))]


async def _form_page(request: web.Request, *, prop_id: int | None, form: dict[str, str],
                     errors: dict[str, str] | None = None, status: int = 200) -> web.Response:
    stats = None
    can_write = True
    archived = False
    owner_name = None
    if prop_id is not None:
        async with sessions(request)() as s:
            prop = await get_property(s, request[ACTOR], prop_id)
            stats = await property_stats(s, prop.id)
            can_write = await can_write_property(s, request[ACTOR], prop)
            archived = prop.archived
            if prop.owner_client_id is not None:
                owner_name = (await s.execute(select(Client.name).where(Client.id == prop.owner_client_id))
                              ).scalar()
    return render(request, "agency_property.html", {
        "prop_id": prop_id, "form": form, "errors": errors or {}, "stats": stats, "can_write": can_write,
        "archived": archived, "owner_name": owner_name, "agents": await _agents(request) if can_write else [],
        "types": PROPERTY_TYPES, "deal_types": DEAL_TYPES, "liquidity": LIQUIDITY,
        "notice": request.query.get("notice"),
    }, status=status)


@allow(*WORKERS)
async def new_property_page(request: web.Request) -> web.StreamResponse:
    return await _form_page(request, prop_id=None, form={})


@allow()
async def property_page(request: web.Request) -> web.StreamResponse:
    prop_id = int_param(request)
    async with sessions(request)() as s:
        prop = await get_property(s, request[ACTOR], prop_id)
        form = {f: "" if getattr(prop, f) is None else str(getattr(prop, f)) for f in FIELDS}
    return await _form_page(request, prop_id=prop_id, form=form)


async def _save(request: web.Request, prop_id: int | None) -> web.StreamResponse:
    form = await form_of(request)
    data = {f: form.get(f, "") for f in FIELDS}
    try:
        parsed = PropertyInput.model_validate(data)
        if prop_id is None:
            prop_id = await P.create_property(sessions(request), request[ACTOR], parsed)
        else:
            await P.update_property(sessions(request), request[ACTOR], prop_id, parsed)
    except ValidationError as exc:
        errors = field_errors(exc)
        if "coordinates" in errors:
            errors["lon"] = errors.pop("coordinates")
        return await _form_page(request, prop_id=prop_id, form=form, errors=errors, status=422)
    except FieldError as exc:
        return await _form_page(request, prop_id=prop_id, form=form, errors={exc.field: str(exc)}, status=422)
    raise web.HTTPSeeOther(f"/properties/{prop_id}?notice=saved")


@allow(*WORKERS)
async def create_property(request: web.Request) -> web.StreamResponse:
    return await _save(request, None)


@allow(*WORKERS)
async def update_property(request: web.Request) -> web.StreamResponse:
    prop_id = int_param(request)
    async with sessions(request)() as s:
        await get_property(s, request[ACTOR], prop_id, write=True)  # 404 / 403 before reading the form
    return await _save(request, prop_id)


@allow(*WORKERS)
async def archive_property(request: web.Request) -> web.StreamResponse:
    prop_id = int_param(request)
    form = await form_of(request)
    await P.set_archived(sessions(request), request[ACTOR], prop_id, form.get("archived") == "1")
    raise web.HTTPSeeOther(f"/properties/{prop_id}?notice=saved")


@allow()
async def search_json(request: web.Request) -> web.StreamResponse:
    """Quick search for the pop-up and the inquiry page: only properties within the caller's reach."""
    q = request.query.get("q", "")
    if len(q) > 200:
        return web.json_response({"error": "q: at most 200 characters"}, status=400)
    async with sessions(request)() as s:
        rows = await search_properties(s, request[ACTOR], q)
    items = [{"id": r.id, "address": r.address, "district": r.district, "metro": r.metro,
              "property_type": r.property_type, "deal_type": r.deal_type, "price": r.price,
              "liquidity": r.liquidity, "agent": r.agent_name, "archived": r.archived} for r in rows]
    return web.json_response({"q": q, "items": items}, dumps=_dumps)


def _property_id(form: dict[str, str]) -> int:
    raw = form.get("property_id", "").strip().lstrip("№#")
    if not raw.isdigit() or len(raw) > 12:
        raise web.HTTPUnprocessableEntity(text="property_id: a property number is required")
    return int(raw)


@allow(*WORKERS)
async def link_inquiry(request: web.Request) -> web.StreamResponse:
    inquiry_id = int_param(request)
    form = await form_of(request)
    await P.link_inquiry(sessions(request), request[ACTOR], inquiry_id, _property_id(form))
    if "application/json" in request.headers.get("Accept", ""):
        return web.json_response({"ok": True})
    raise web.HTTPSeeOther(f"/inquiries/{inquiry_id}/work?notice=linked")


@allow(*WORKERS)
async def link_call(request: web.Request) -> web.StreamResponse:
    """From the pop-up or the call log (JSON with the X-CSRF-Token header, or a form)."""
    call_id = int_param(request)
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "invalid JSON"}, status=400)
        form = {"property_id": str(body.get("property_id", "")) if isinstance(body, dict) else ""}
    else:
        form = await form_of(request)
    try:
        prop_id = _property_id(form)
    except web.HTTPUnprocessableEntity:
        return web.json_response({"error": "property_id: a property number is required"}, status=422)
    created = await P.link_call(sessions(request), request[ACTOR], call_id, prop_id)
    return web.json_response({"ok": True, "linked": created, "locale": request.get(LOCALE, "ru")})


# ---------------------------------------------------------------- owner leads and cold calls

def agency_settings(request: web.Request) -> AgencySettings:
    """The [agency] settings section."""
    return request.app[HUB].settings.agency


@allow(*WORKERS)
async def leads_page(request: web.Request) -> web.StreamResponse:
    actor = request[ACTOR]
    now = utcnow()
    async with sessions(request)() as s:
        rows = (await s.execute(
            select(Task, OwnerLead, Property.address, Property.district, Property.price, Client.name)
            .join(OwnerLead, OwnerLead.task_id == Task.id)
            .join(Property, Property.id == OwnerLead.property_id)
            .outerjoin(Client, Client.id == Task.client_id)
            .where(Task.kind == "cold_call", Task.status == "open", cold_task_scope(actor))
            .order_by(Task.due_at, Task.id).limit(200)
        )).all()
        viewings = (await s.execute(
            select(Task).outerjoin(Inquiry, Inquiry.id == Task.inquiry_id)
            .where(Task.kind == "viewing", Task.status == "open",
                   or_(Task.assignee_id == actor.user_id,
                       and_(Task.assignee_id.is_(None), Inquiry.owner_id == actor.user_id)))
            .order_by(Task.due_at).limit(100)
        )).scalars().all()
    return render(request, "agency_leads.html", {
        "rows": rows, "now": now, "viewings": viewings, "outcomes": COLD_OUTCOMES,
        "can_import": actor.role in MANAGERS, "notice": request.query.get("notice"),
    })


@allow(*WORKERS)
async def lead_outcome(request: web.Request) -> web.StreamResponse:
    task_id = int_param(request)
    form = await form_of(request)
    hub = request.app[HUB]
    try:
        out = await cold_call_result(hub.database.sessions, hub.bus, request[ACTOR], task_id,
                                     form.get("outcome", ""), settings=agency_settings(request),
                                     note=form.get("note"))
    except DealError as exc:
        raise web.HTTPUnprocessableEntity(text=str(exc)) from None
    raise web.HTTPSeeOther(f"/leads?notice={out.status}")


async def _departments(request: web.Request) -> list[tuple[int, str]]:
    actor = request[ACTOR]
    stmt = select(Department.id, Department.name).order_by(Department.name)
    if not actor.is_admin:
        stmt = stmt.where(Department.id == actor.department_id)
    async with sessions(request)() as s:
        return [(r[0], r[1]) for r in await s.execute(stmt)]


@allow(*MANAGERS)
async def leads_import_page(request: web.Request) -> web.StreamResponse:
    return render(request, "agency_leads_import.html", {"departments": await _departments(request),
                                                        "report": None, "error": None, "form": {}})


@allow(*MANAGERS)
async def leads_import(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    upload = form.get("file")
    departments = await _departments(request)
    raw = str(form.get("department", ""))
    department_id = int(raw) if raw.isdigit() else None
    fields = {"department": raw, "source": str(form.get("source", ""))[:200]}
    error = None
    if department_id not in {d for d, _ in departments}:
        error = "department: выберите отдел"
    elif not isinstance(upload, web.FileField):
        error = "file: выберите файл"
    if error:
        return render(request, "agency_leads_import.html", {"departments": departments, "report": None,
                                                            "error": error, "form": fields}, status=422)
    data = upload.file.read(MAX_FILE_BYTES + 1)
    try:
        report = await import_owner_leads(
            sessions(request), chunks_in_thread(read_lead_file(data, upload.filename or "")),
            department_id=department_id, source=fields["source"] or None,
            region=request.app[HUB].settings.phones.default_region, actor_id=request[ACTOR].user_id)
    except ImportFileError as exc:
        return render(request, "agency_leads_import.html", {"departments": departments, "report": None,
                                                            "error": f"file: {exc}", "form": fields}, status=422)
    log.info("owner leads uploaded by user=%s: %s", request[ACTOR].user_id, report.summary())
    return render(request, "agency_leads_import.html", {"departments": departments, "report": report,
                                                        "error": None, "form": fields})


@public
@csrf_exempt
async def leads_api(request: web.Request) -> web.StreamResponse:
    """POST /api/agency/owner-leads with ``Authorization: Bearer <token>``: {"items": [{address, phone, …}],
    "source": "…", "department_id": N}. Off (404) until a token is configured."""
    settings = agency_settings(request)
    token = settings.import_token.get_secret_value() if settings.import_token else ""
    if not token:
        raise web.HTTPNotFound()
    sent = request.headers.get("Authorization", "")
    if not sent.startswith("Bearer ") or not hmac.compare_digest(sent[7:].encode(), token.encode()):
        log.warning("owner-leads API: bad token from %s", request.remote)
        return web.json_response({"error": "invalid token"}, status=401, headers={"WWW-Authenticate": "Bearer"})
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"error": "body: not JSON"}, status=400)
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        return web.json_response({"error": "items: a non-empty list is required"}, status=422)
    if len(items) > MAX_API_ITEMS:
        return web.json_response({"error": f"items: at most {MAX_API_ITEMS} per request"}, status=413)
    department_id = body.get("department_id", settings.call_center_department)
    if department_id is not None:
        async with sessions(request)() as s:
            if not isinstance(department_id, int) or await s.get(Department, department_id) is None:
                return web.json_response({"error": "department_id: no such department"}, status=422)
    source = body.get("source")
    rows = [(n, {k: v for k, v in item.items() if k in LEAD_FIELDS} if isinstance(item, dict) else {})
            for n, item in enumerate(items, start=1)]
    report = await import_owner_leads(sessions(request), chunks_of(rows), department_id=department_id,
                                      source=str(source)[:200] if source else None,
                                      region=request.app[HUB].settings.phones.default_region)
    return web.json_response({"rows": report.rows, "created": report.created, "duplicates": report.duplicates,
                              "errors": [{"item": e.row, "field": e.field, "message": e.message}
                                         for e in report.errors[:1000]]}, dumps=_dumps)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/leads", leads_page)
    router.add_post(r"/leads/tasks/{id:\d+}", lead_outcome)
    router.add_get("/leads/import", leads_import_page)
    router.add_post("/leads/import", leads_import)
    router.add_post("/api/agency/owner-leads", leads_api)
    router.add_get("/properties", properties_page)
    router.add_get("/properties/search", search_json)
    router.add_get("/properties/new", new_property_page)
    router.add_post("/properties", create_property)
    router.add_get(r"/properties/{id:\d+}", property_page)
    router.add_post(r"/properties/{id:\d+}", update_property)
    router.add_post(r"/properties/{id:\d+}/archive", archive_property)
    router.add_post(r"/inquiries/{id:\d+}/property", link_inquiry)
    router.add_post(r"/calls/{id:\d+}/property", link_call)

