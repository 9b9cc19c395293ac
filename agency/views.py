"""Agency workflow pages: deals (from an inquiry, stages, viewings/contracts/actions with results), the
administrator's funnel stages and results directory, inquiries registered by hand (visit, mobile operator,
recommendation) and the correction of an inquiry's advertising source.

The property base is in ``agency_properties``. Every handler declares its roles; every read and write goes
through the access rules of ``crm_core`` (out of reach → 404); forms carry the CSRF token.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import select

from agency import deals
from agency.deals import DealError, ResultInput, StepInput
from agency.properties import PropertyRow, get_property, search_properties
from crm_core.access import Forbidden, NotFound, check_inquiry_write, get_inquiry
from crm_core.manual_intake import KINDS, ManualInquiry, SourceChange, register, set_source
from crm_core.models import Department, Role, User, utcnow
from crm_core.models.agency import Deal, DealStep, FunnelStage
from web.features import NavItem
from web.guard import allow
from web.i18n import add_texts
from web.keys import ACTOR, HUB, sessions

log = logging.getLogger("hub.web.agency")

WORKERS = (Role.AGENT, Role.DEPT_MANAGER, Role.DEPT_HEAD, Role.ADMIN)

NAV = [
    NavItem("/deals", "agency.nav_deals", order=22),
    NavItem("/intake/manual", "agency.nav_manual", roles=frozenset(WORKERS), order=24),
    NavItem("/control", "agency.nav_control", roles=frozenset(deals.CONTROL_ROLES), order=28),
    NavItem("/admin/stages", "agency.nav_stages", roles=frozenset({Role.ADMIN}), order=62),
    NavItem("/admin/results", "agency.nav_results", roles=frozenset({Role.ADMIN}), order=63),
]

add_texts({
    "agency.nav_deals": ("Сделки", "Deals"),
    "agency.nav_manual": ("Новое обращение", "New inquiry"),
    "agency.nav_stages": ("Этапы воронки", "Funnel stages"),
    "agency.nav_results": ("Справочник результатов", "Results directory"),
    "agency.deals_title": ("Сделки", "Deals"),
    "agency.no_deals": ("Сделок нет", "No deals"),
    "agency.deal_title": ("Сделка №{id}", "Deal #{id}"),
    "agency.deal_of": ("Сделка по обращению №{id}", "Deal of inquiry #{id}"),
    "agency.inquiry_work": ("Работа с обращением №{id}", "Working on inquiry #{id}"),
    "agency.open_deal": ("Открыть сделку", "Open a deal"),
    "agency.no_deal_yet": ("Сделки по обращению ещё нет", "No deal for this inquiry yet"),
    "agency.stage": ("Этап", "Stage"),
    "agency.set_stage": ("Перевести на этап", "Move to stage"),
    "agency.positive": ("положительный результат", "positive result"),
    "agency.status": ("Статус", "Status"),
    "agency.deal_status.open": ("в работе", "open"),
    "agency.deal_status.won": ("успешна", "won"),
    "agency.deal_status.lost": ("закрыта без результата", "lost"),
    "agency.steps": ("Шаги сделки", "Deal steps"),
    "agency.no_steps": ("Шагов пока нет", "No steps yet"),
    "agency.new_step": ("Записать шаг", "Record a step"),
    "agency.kind": ("Что", "What"),
    "agency.kind.viewing": ("Просмотр", "Viewing"),
    "agency.kind.contract": ("Договор", "Contract"),
    "agency.kind.action": ("Действие", "Action"),
    "agency.kind.stage": ("Этап", "Stage"),
    "agency.when": ("Когда", "When"),
    "agency.planned": ("Запланировать (задача агенту)", "Plan it (a task for the agent)"),
    "agency.step_status.planned": ("запланирован", "planned"),
    "agency.step_status.done": ("проведён", "done"),
    "agency.step_status.cancelled": ("отменён", "cancelled"),
    "agency.property": ("Объект", "Property"),
    "agency.property_id": ("№ объекта", "Property #"),
    "agency.result": ("Результат", "Result"),
    "agency.pick_result": ("— выберите результат —", "— pick a result —"),
    "agency.agent": ("Агент", "Agent"),
    "agency.note": ("Комментарий", "Comment"),
    "agency.close_step": ("Закрыть с результатом", "Close with a result"),
    "agency.saved": ("Сохранено", "Saved"),
    "agency.client": ("Клиент", "Client"),
    "agency.inquiry": ("Обращение", "Inquiry"),
    "agency.updated": ("Изменено", "Updated"),
    "agency.funnel": ("Воронка", "Funnel"),
    "agency.received": ("Получено обращений", "Inquiries received"),
    "agency.deals_count": ("Сделок", "Deals"),
    "agency.positive_count": ("С положительным результатом", "With a positive result"),
    "agency.stages_title": ("Этапы воронки", "Funnel stages"),
    "agency.default_list": ("Общий список (для отделов без своего)", "Default list (departments without their own)"),
    "agency.department_list": ("Отдел", "Department"),
    "agency.uses_default": ("У отдела нет своего списка: действует общий.", "The department uses the default list."),
    "agency.copy_default": ("Сделать свой список отдела (копия общего)", "Give the department its own list (a copy)"),
    "agency.add_stage": ("Добавить этап", "Add a stage"),
    "agency.name": ("Название", "Name"),
    "agency.active": ("Действует", "Active"),
    "agency.on": ("да", "yes"),
    "agency.off": ("нет", "no"),
    "agency.toggle_positive": ("Положительный: да/нет", "Positive: on/off"),
    "agency.toggle_active": ("Вкл/выкл", "On/off"),
    "agency.rename": ("Переименовать", "Rename"),
    "agency.up": ("Выше", "Up"),
    "agency.down": ("Ниже", "Down"),
    "agency.results_title": ("Справочник результатов", "Results directory"),
    "agency.applies_to": ("Для", "For"),
    "agency.applies.any": ("любого шага", "any step"),
    "agency.applies.action": ("действия", "action"),
    "agency.applies.viewing": ("просмотра", "viewing"),
    "agency.applies.contract": ("договора", "contract"),
    "agency.applies.call": ("звонка", "call"),
    "agency.add_result": ("Добавить результат", "Add a result"),
    "agency.manual_title": ("Новое обращение вручную", "Register an inquiry by hand"),
    "agency.manual_kind": ("Откуда", "Where from"),
    "agency.manual.visit": ("Визит в офис", "Walk-in visit"),
    "agency.manual.mobile_operator": ("Лид от мобильного оператора", "Mobile operator lead"),
    "agency.manual.recommendation": ("Рекомендация", "Recommendation"),
    "agency.name_client": ("Имя клиента", "Client's name"),
    "agency.phone": ("Телефон", "Phone"),
    "agency.email": ("Email", "Email"),
    "agency.text": ("Что нужно клиенту", "What the client needs"),
    "agency.source": ("Рекламный источник", "Advertising source"),
    "agency.source_hint": ("пусто — по виду обращения", "empty — by the kind"),
    "agency.recommended_by": ("Кто рекомендовал", "Recommended by"),
    "agency.register": ("Зарегистрировать", "Register"),
    "agency.registered": ("Обращение №{id} зарегистрировано", "Inquiry #{id} registered"),
    "agency.registered_existing": (
        "Клиент уже известен: обращение №{id} зарегистрировано на него", "A known client: inquiry #{id} registered"),
    "agency.duplicate": ("Эта форма уже отправлена: обращение №{id}", "This form was already sent: inquiry #{id}"),
    "agency.routed": ("Обращение передано по правилам распределения.", "The inquiry went to routing."),
    "agency.open_inquiry": ("Открыть обращение", "Open the inquiry"),
    "agency.set_source": ("Изменить источник", "Change the source"),
    "agency.current_source": ("Сейчас", "Now"),
    "agency.link_property": ("Привязать объект", "Link a property"),
    "agency.search_hint": ("адрес, № объекта или цена", "address, property # or price"),
    "agency.link": ("Привязать", "Link"),
    "agency.linked": ("Объект привязан", "Property linked"),
    "agency.nothing_found": ("Ничего не найдено", "Nothing found"),
    "agency.work_link": ("Сделка, объект, источник", "Deal, property, source"),
    "agency.nav_control": ("Контроль", "Control"),
    "agency.control_title": ("Контроль: обращения отдела", "Control: the department's inquiries"),
    "agency.control_none": ("Открытых обращений нет", "No open inquiries"),
    "agency.overdue": ("просрочено", "overdue"),
    "agency.today": ("сегодня", "today"),
    "agency.no_plan": ("нет плана", "nothing planned"),
    "agency.next_action": ("Следующее действие", "Next action"),
    "agency.last_action": ("Последнее действие", "Last action"),
    "agency.set_next": ("Назначить", "Set"),
    "agency.max_ahead": ("не дальше чем на 2 месяца", "at most 2 months ahead"),
    "timeline.planned": ("Запланировано", "Planned"),
    "history.deal_opened": ("Открыта сделка", "Deal opened"),
    "history.deal_stage": ("Этап сделки", "Deal stage"),
    "history.viewing": ("Просмотр", "Viewing"),
    "history.viewing_planned": ("Назначен просмотр", "Viewing planned"),
    "history.contract": ("Договор", "Contract"),
    "history.contract_planned": ("Назначено подписание договора", "Contract signing planned"),
    "history.action": ("Действие", "Action"),
    "history.action_planned": ("Запланировано действие", "Action planned"),
    "history.property_linked": ("Привязан объект", "Property linked"),
    "history.source": ("Источник изменён", "Source changed"),
    "timeline.deal_opened": ("Открыта сделка", "Deal opened"),
    "timeline.deal_stage": ("Этап сделки", "Deal stage"),
    "timeline.viewing": ("Просмотр", "Viewing"),
    "timeline.viewing_planned": ("Назначен просмотр", "Viewing planned"),
    "timeline.contract": ("Договор", "Contract"),
    "timeline.contract_planned": ("Назначено подписание договора", "Contract signing planned"),
    "timeline.action": ("Действие", "Action"),
    "timeline.action_planned": ("Запланировано действие", "Action planned"),
    "timeline.property_linked": ("Привязан объект", "Property linked"),
    "timeline.property_added": ("Добавлен объект", "Property added"),
    "timeline.source": ("Источник изменён", "Source changed"),
})


def render(request: web.Request, name: str, context: dict[str, Any], status: int = 200) -> web.Response:
    from web.render import render as _render  # web.render imports web.features, which imports this module

    return _render(request, name, context, status)


def int_param(request: web.Request, name: str = "id") -> int:
    value = request.match_info[name]
    if not value.isdigit() or len(value) > 12:
        raise web.HTTPNotFound()
    return int(value)


async def form_of(request: web.Request) -> dict[str, str]:
    return {k: str(v) for k, v in (await request.post()).items() if k != "_csrf" and isinstance(v, str)}


def field_errors(exc: ValidationError) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in exc.errors(include_input=False):
        key = str(e["loc"][0]) if e["loc"] else e.get("type", "form")
        out.setdefault(key, e["msg"])
    return out


def local_to_aware(value: str, zone: str) -> str:
    """The browser's datetime-local field has no zone: it is the agency's local time."""
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        return value  # pydantic reports it
    return naive.replace(tzinfo=ZoneInfo(zone)).isoformat() if naive.tzinfo is None else value


def _zone(request: web.Request) -> str:
    return request.app[HUB].settings.time_zone


# ---------------------------------------------------------------- deals

@allow()
async def deals_page(request: web.Request) -> web.StreamResponse:
    actor = request[ACTOR]
    async with sessions(request)() as s:
        rows = await deals.list_deals(s, actor)
        funnel = await deals.funnel(s, actor) if actor.role != Role.AGENT else None
    return render(request, "agency_deals.html", {"rows": rows, "funnel": funnel})


async def _inquiry_work(request: web.Request, inquiry_id: int, *, notice: str | None = None,
                        errors: dict[str, str] | None = None, status: int = 200) -> web.Response:
    actor = request[ACTOR]
    q = request.query.get("q", "")[:200]
    async with sessions(request)() as s:
        inquiry = await get_inquiry(s, actor, inquiry_id)
        deal = (await s.execute(select(Deal.id).where(Deal.inquiry_id == inquiry.id))).scalar()
        found: list[PropertyRow] = await search_properties(s, actor, q) if q else []
        linked = None
        if inquiry.property_id is not None:
            try:
                linked = await get_property(s, actor, inquiry.property_id)
            except NotFound:
                linked = None
    try:
        check_inquiry_write(actor, inquiry)
        can_write = True
    except Forbidden:
        can_write = False
    return render(request, "agency_inquiry.html", {
        "inquiry": inquiry, "deal_id": deal, "can_write": can_write, "q": q, "found": found, "linked": linked,
        "notice": notice or request.query.get("notice"), "errors": errors or {},
    }, status=status)


@allow()
async def inquiry_work(request: web.Request) -> web.StreamResponse:
    return await _inquiry_work(request, int_param(request))


@allow(*WORKERS)
async def open_deal(request: web.Request) -> web.StreamResponse:
    deal_id = await deals.open_deal(sessions(request), request[ACTOR], int_param(request))
    raise web.HTTPSeeOther(f"/deals/{deal_id}")


async def _deal_page(request: web.Request, deal_id: int, *, errors: dict[str, str] | None = None,
                     form: dict[str, str] | None = None, status: int = 200) -> web.Response:
    actor = request[ACTOR]
    async with sessions(request)() as s:
        view = await deals.deal_view(s, actor, deal_id)
        agents: list[tuple[int, str]] = []
        if view.can_write and actor.role != Role.AGENT:
            stmt = select(User.id, User.full_name).where(User.is_active.is_(True), User.role == Role.AGENT)
            if not actor.is_admin:
                stmt = stmt.where(User.department_id == actor.department_id)
            agents = [(r[0], r[1]) for r in await s.execute(stmt.order_by(User.full_name))]
    return render(request, "agency_deal.html", {
        "v": view, "errors": errors or {}, "form": form or {}, "agents": agents, "kinds": deals.STEP_KINDS,
        "notice": request.query.get("notice"),
    }, status=status)


@allow()
async def deal_page(request: web.Request) -> web.StreamResponse:
    return await _deal_page(request, int_param(request))


@allow(*WORKERS)
async def deal_stage(request: web.Request) -> web.StreamResponse:
    deal_id = int_param(request)
    form = await form_of(request)
    stage = form.get("stage_id", "")
    try:
        if not stage.isdigit():
            raise DealError("stage_id", "pick a stage")
        await deals.set_stage(sessions(request), request[ACTOR], deal_id, int(stage), form.get("note"))
    except DealError as exc:
        return await _deal_page(request, deal_id, errors={exc.field: str(exc)}, form=form, status=422)
    raise web.HTTPSeeOther(f"/deals/{deal_id}?notice=saved")


@allow(*WORKERS)
async def deal_step(request: web.Request) -> web.StreamResponse:
    deal_id = int_param(request)
    form = await form_of(request)
    data = {**form, "planned": form.get("planned") == "1"}
    if form.get("at"):
        data["at"] = local_to_aware(form["at"], _zone(request))
    try:
        step = StepInput.model_validate(data)
        await deals.record_step(sessions(request), request[ACTOR], deal_id, step)
    except ValidationError as exc:
        return await _deal_page(request, deal_id, errors=field_errors(exc), form=form, status=422)
    except DealError as exc:
        return await _deal_page(request, deal_id, errors={exc.field: str(exc)}, form=form, status=422)
    raise web.HTTPSeeOther(f"/deals/{deal_id}?notice=saved")


@allow(*WORKERS)
async def close_step(request: web.Request) -> web.StreamResponse:
    step_id = int_param(request)
    form = await form_of(request)
    async with sessions(request)() as s:
        deal_id = (await s.execute(select(DealStep.deal_id).where(DealStep.id == step_id))).scalar()
        if deal_id is None:
            raise NotFound("step")
        await deals.get_deal(s, request[ACTOR], deal_id)  # out of reach: 404 before anything else
    result = form.get("result_id", "")
    try:
        await deals.close_step(sessions(request), request[ACTOR], step_id, int(result) if result.isdigit() else None,
                               form.get("note"))
    except DealError as exc:
        return await _deal_page(request, deal_id, errors={f"close_{step_id}": str(exc)}, form=form, status=422)
    raise web.HTTPSeeOther(f"/deals/{deal_id}?notice=saved")


# ---------------------------------------------------------------- administrator: stages and results

async def _stages_page(request: web.Request, *, errors: dict[str, str] | None = None, status: int = 200
                       ) -> web.Response:
    raw = request.query.get("department", "")
    department_id = int(raw) if raw.isdigit() else None
    await deals.ensure_defaults(sessions(request))
    async with sessions(request)() as s:
        departments = list((await s.execute(select(Department).order_by(Department.name))).scalars())
        if department_id is not None and department_id not in {d.id for d in departments}:
            raise web.HTTPNotFound()
        list_key = department_id if department_id is not None else deals.DEFAULT_LIST
        rows = await deals.stages(s, list_key, active_only=False)
    return render(request, "agency_stages.html", {
        "departments": departments, "department_id": department_id, "rows": rows,
        "own_list": department_id is None or bool(rows), "errors": errors or {},
        "notice": request.query.get("notice"),
    }, status=status)


@allow(Role.ADMIN)
async def stages_page(request: web.Request) -> web.StreamResponse:
    return await _stages_page(request)


def _back_to_stages(department_id: int | None, notice: str = "saved") -> web.HTTPSeeOther:
    suffix = f"department={department_id}&" if department_id else ""
    return web.HTTPSeeOther(f"/admin/stages?{suffix}notice={notice}")


@allow(Role.ADMIN)
async def stages_add(request: web.Request) -> web.StreamResponse:
    form = await form_of(request)
    raw = form.get("department", "")
    department_id = int(raw) if raw.isdigit() else None
    try:
        if form.get("copy") == "1":
            if department_id is None:
                raise DealError("department", "pick a department")
            await deals.copy_default_stages(sessions(request), request[ACTOR], department_id)
        else:
            await deals.add_stage(sessions(request), request[ACTOR], department_id or deals.DEFAULT_LIST,
                                  form.get("name", ""), form.get("positive") == "1")
    except DealError as exc:
        return await _stages_page(request, errors={exc.field: str(exc)}, status=422)
    raise _back_to_stages(department_id)


@allow(Role.ADMIN)
async def stage_change(request: web.Request) -> web.StreamResponse:
    stage_id = int_param(request)
    form = await form_of(request)
    action = form.get("action", "")
    async with sessions(request)() as s:
        stage = await s.get(FunnelStage, stage_id)
        if stage is None:
            raise NotFound("stage")
        list_key, positive, active = stage.list_key, stage.positive, stage.active
    try:
        if action == "rename":
            await deals.update_stage(sessions(request), request[ACTOR], stage_id, name=form.get("name", ""))
        elif action == "positive":
            await deals.update_stage(sessions(request), request[ACTOR], stage_id, positive=not positive)
        elif action == "active":
            await deals.update_stage(sessions(request), request[ACTOR], stage_id, active=not active)
        elif action in ("up", "down"):
            await deals.update_stage(sessions(request), request[ACTOR], stage_id, move=action)
        else:
            raise web.HTTPBadRequest(text="unknown action")
    except DealError as exc:
        return await _stages_page(request, errors={f"stage_{stage_id}": str(exc)}, status=422)
    raise _back_to_stages(list_key or None)


async def _results_page(request: web.Request, *, errors: dict[str, str] | None = None,
                        form: dict[str, str] | None = None, status: int = 200) -> web.Response:
    await deals.ensure_defaults(sessions(request))
    async with sessions(request)() as s:
        rows = await deals.results(s, active_only=False)
    return render(request, "agency_results.html", {
        "rows": rows, "scopes": deals.RESULT_SCOPES, "errors": errors or {}, "form": form or {},
        "notice": request.query.get("notice"),
    }, status=status)


@allow(Role.ADMIN)
async def results_page(request: web.Request) -> web.StreamResponse:
    return await _results_page(request)


@allow(Role.ADMIN)
async def results_save(request: web.Request) -> web.StreamResponse:
    form = await form_of(request)
    raw = form.get("id", "")
    result_id = int(raw) if raw.isdigit() else None
    data = {"name": form.get("name", ""), "applies_to": form.get("applies_to", "any"),
            "positive": form.get("positive") == "1", "active": form.get("active", "1") == "1"}
    prefix = f"r{result_id}_" if result_id else ""
    try:
        await deals.save_result(sessions(request), request[ACTOR], ResultInput.model_validate(data), result_id)
    except ValidationError as exc:
        errs = {prefix + k: v for k, v in field_errors(exc).items()}
        return await _results_page(request, errors=errs, form=form, status=422)
    except DealError as exc:
        return await _results_page(request, errors={prefix + exc.field: str(exc)}, form=form, status=422)
    raise web.HTTPSeeOther("/admin/results?notice=saved")


# ---------------------------------------------------------------- manual intake and the source

def _manual_form(request: web.Request, *, form: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                 result: Any = None, status: int = 200) -> web.Response:
    return render(request, "agency_manual.html", {
        "kinds": KINDS, "form": form or {"kind": request.query.get("kind", "visit")}, "errors": errors or {},
        "token": secrets.token_urlsafe(24), "result": result,
    }, status=status)


@allow(*WORKERS)
async def manual_page(request: web.Request) -> web.StreamResponse:
    return _manual_form(request)


@allow(*WORKERS)
async def manual_submit(request: web.Request) -> web.StreamResponse:
    form = await form_of(request)
    hub = request.app[HUB]
    try:
        data = ManualInquiry.model_validate({**form, "region": hub.settings.phones.default_region})
    except ValidationError as exc:
        return _manual_form(request, form=form, errors=field_errors(exc), status=422)
    result = await register(hub.intake, request[ACTOR], data)
    return _manual_form(request, result=result, status=200)


@allow(*WORKERS)
async def inquiry_source(request: web.Request) -> web.StreamResponse:
    inquiry_id = int_param(request)
    form = await form_of(request)
    try:
        change = SourceChange.model_validate({"source": form.get("source", "")})
    except ValidationError as exc:
        async with sessions(request)() as s:
            await get_inquiry(s, request[ACTOR], inquiry_id, write=True)
        return await _inquiry_work(request, inquiry_id, errors={"source": field_errors(exc).get("source", "")},
                                   status=422)
    await set_source(sessions(request), request[ACTOR], inquiry_id, change)
    raise web.HTTPSeeOther(f"/inquiries/{inquiry_id}/work?notice=saved")


# ---------------------------------------------------------------- «Контроль»

async def _control_page(request: web.Request, *, errors: dict[str, str] | None = None, status: int = 200
                        ) -> web.Response:
    actor = request[ACTOR]
    raw = request.query.get("department", "")
    async with sessions(request)() as s:
        rows = await deals.control_rows(s, actor, now=utcnow(), zone=_zone(request),
                                        department_id=int(raw) if raw.isdigit() else None)
    return render(request, "agency_control.html", {"rows": rows, "errors": errors or {},
                                                   "notice": request.query.get("notice")}, status=status)


@allow(*deals.CONTROL_ROLES)
async def control_page(request: web.Request) -> web.StreamResponse:
    return await _control_page(request)


@allow(*deals.CONTROL_ROLES)
async def control_set(request: web.Request) -> web.StreamResponse:
    inquiry_id = int_param(request)
    form = await form_of(request)
    try:
        when = datetime.fromisoformat(local_to_aware(form.get("planned_at", ""), _zone(request)))
    except ValueError:
        return await _control_page(request, errors={f"i{inquiry_id}": "planned_at: not a date"}, status=422)
    try:
        await deals.set_next_action(sessions(request), request[ACTOR], inquiry_id, form.get("planned_action", ""),
                                    when)
    except DealError as exc:
        return await _control_page(request, errors={f"i{inquiry_id}": f"{exc.field}: {exc}"}, status=422)
    raise web.HTTPSeeOther("/control?notice=saved")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/control", control_page)
    router.add_post(r"/control/{id:\d+}", control_set)
    router.add_get("/deals", deals_page)
    router.add_get(r"/deals/{id:\d+}", deal_page)
    router.add_post(r"/deals/{id:\d+}/stage", deal_stage)
    router.add_post(r"/deals/{id:\d+}/steps", deal_step)
    router.add_post(r"/deals/steps/{id:\d+}/close", close_step)
    router.add_get(r"/inquiries/{id:\d+}/work", inquiry_work)
    router.add_post(r"/inquiries/{id:\d+}/deal", open_deal)
    router.add_post(r"/inquiries/{id:\d+}/source", inquiry_source)
    router.add_get("/admin/stages", stages_page)
    router.add_post("/admin/stages", stages_add)
    router.add_post(r"/admin/stages/{id:\d+}", stage_change)
    router.add_get("/admin/results", results_page)
    router.add_post("/admin/results", results_save)
    router.add_get("/intake/manual", manual_page)
    router.add_post("/intake/manual", manual_submit)
