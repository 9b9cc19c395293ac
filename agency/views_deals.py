"""The deals pages: the list (with the funnel for managers), a deal's card with its stage and steps, recording a
step (viewing, contract, action; done or planned) and closing a planned one with a result.

Every handler declares its roles; every read and write goes through the access rules of ``agency.deals``
(out of reach → 404); forms carry the CSRF token.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import select

from agency import deal_queries, deals
from agency.deal_forms import STEP_KINDS, DealError, StepInput
from agency.views import WORKERS, field_errors, form_of, int_param, local_to_aware, render, zone_of
from crm_core.access import NotFound
from crm_core.models import Role, User
from crm_core.models.agency import DealStep
from web.features import NavItem
from web.guard import allow
from web.keys import ACTOR, HUB, sessions

NAV = [NavItem("/deals", "agency.nav_deals", order=22, group="work")]


@allow()
async def deals_page(request: web.Request) -> web.StreamResponse:
    actor = request[ACTOR]
    async with sessions(request)() as s:
        rows = await deal_queries.list_deals(s, actor)
        funnel = await deal_queries.funnel(s, actor) if actor.role != Role.AGENT else None
    return render(request, "agency_deals.html", {"rows": rows, "funnel": funnel})


async def _deal_page(request: web.Request, deal_id: int, *, errors: dict[str, str] | None = None,
                     form: dict[str, str] | None = None, status: int = 200) -> web.Response:
    actor = request[ACTOR]
    async with sessions(request)() as s:
        view = await deal_queries.deal_view(s, actor, deal_id)
        agents: list[tuple[int, str]] = []
        if view.can_write and actor.role != Role.AGENT:
            stmt = select(User.id, User.full_name).where(User.is_active.is_(True), User.role == Role.AGENT)
            if not actor.is_admin:
                stmt = stmt.where(User.department_id == actor.department_id)
            agents = [(r[0], r[1]) for r in await s.execute(stmt.order_by(User.full_name))]
    return render(request, "agency_deal.html", {
        "v": view, "errors": errors or {}, "form": form or {}, "agents": agents, "kinds": STEP_KINDS,
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
        await deals.set_stage(sessions(request), request[ACTOR], deal_id, int(stage), form.get("note"),
                              bus=request.app[HUB].bus)
    except DealError as exc:
        return await _deal_page(request, deal_id, errors={exc.field: str(exc)}, form=form, status=422)
    raise web.HTTPSeeOther(f"/deals/{deal_id}?notice=saved")


@allow(*WORKERS)
async def deal_step(request: web.Request) -> web.StreamResponse:
    deal_id = int_param(request)
    form = await form_of(request)
    data = {**form, "planned": form.get("planned") == "1"}
    if form.get("at"):
        data["at"] = local_to_aware(form["at"], zone_of(request))
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
        await deal_queries.get_deal(s, request[ACTOR], deal_id)  # out of reach: 404 before anything else
    result = form.get("result_id", "")
    try:
        await deals.close_step(sessions(request), request[ACTOR], step_id, int(result) if result.isdigit() else None,
                               form.get("note"))
    except DealError as exc:
        return await _deal_page(request, deal_id, errors={f"close_{step_id}": str(exc)}, form=form, status=422)
    raise web.HTTPSeeOther(f"/deals/{deal_id}?notice=saved")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/deals", deals_page)
    router.add_get(r"/deals/{id:\d+}", deal_page)
    router.add_post(r"/deals/{id:\d+}/stage", deal_stage)
    router.add_post(r"/deals/{id:\d+}/steps", deal_step)
    router.add_post(r"/deals/steps/{id:\d+}/close", close_step)
