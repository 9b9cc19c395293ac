"""The administrator's funnel pages: the stages (the default list and a department's own, a copy of the
default to start from; add, rename, reorder, switch on/off, mark positive) and the results directory.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import select

from agency import deal_directories as directories
from agency.deal_forms import RESULT_SCOPES, DealError, ResultInput
from agency.views import field_errors, form_of, int_param, render
from crm_core.access import NotFound
from crm_core.models import Department, Role
from crm_core.models.agency import FunnelStage
from web.features import NavItem
from web.guard import allow
from web.keys import ACTOR, sessions

NAV = [
    NavItem("/admin/stages", "agency.nav_stages", roles=frozenset({Role.ADMIN}), order=62, group="settings"),
    NavItem("/admin/results", "agency.nav_results", roles=frozenset({Role.ADMIN}), order=63, group="settings"),
]


async def _stages_page(request: web.Request, *, errors: dict[str, str] | None = None, status: int = 200
                       ) -> web.Response:
    raw = request.query.get("department", "")
    department_id = int(raw) if raw.isdigit() else None
    await directories.ensure_defaults(sessions(request))
    async with sessions(request)() as s:
        departments = list((await s.execute(select(Department).order_by(Department.name))).scalars())
        if department_id is not None and department_id not in {d.id for d in departments}:
            raise web.HTTPNotFound()
        list_key = department_id if department_id is not None else directories.DEFAULT_LIST
        rows = await directories.stages(s, list_key, active_only=False)
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
            await directories.copy_default_stages(sessions(request), request[ACTOR], department_id)
        else:
            await directories.add_stage(sessions(request), request[ACTOR], department_id or directories.DEFAULT_LIST,
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
            await directories.update_stage(sessions(request), request[ACTOR], stage_id, name=form.get("name", ""))
        elif action == "positive":
            await directories.update_stage(sessions(request), request[ACTOR], stage_id, positive=not positive)
        elif action == "active":
            await directories.update_stage(sessions(request), request[ACTOR], stage_id, active=not active)
        elif action in ("up", "down"):
            await directories.update_stage(sessions(request), request[ACTOR], stage_id, move=action)
        else:
            raise web.HTTPBadRequest(text="unknown action")
    except DealError as exc:
        return await _stages_page(request, errors={f"stage_{stage_id}": str(exc)}, status=422)
    raise _back_to_stages(list_key or None)


async def _results_page(request: web.Request, *, errors: dict[str, str] | None = None,
                        form: dict[str, str] | None = None, status: int = 200) -> web.Response:
    await directories.ensure_defaults(sessions(request))
    async with sessions(request)() as s:
        rows = await directories.results(s, active_only=False)
    return render(request, "agency_results.html", {
        "rows": rows, "scopes": RESULT_SCOPES, "errors": errors or {}, "form": form or {},
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
        await directories.save_result(sessions(request), request[ACTOR], ResultInput.model_validate(data), result_id)
    except ValidationError as exc:
        errs = {prefix + k: v for k, v in field_errors(exc).items()}
        return await _results_page(request, errors=errs, form=form, status=422)
    except DealError as exc:
        return await _results_page(request, errors={prefix + exc.field: str(exc)}, form=form, status=422)
    raise web.HTTPSeeOther("/admin/results?notice=saved")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/admin/stages", stages_page)
    router.add_post("/admin/stages", stages_add)
    router.add_post(r"/admin/stages/{id:\d+}", stage_change)
    router.add_get("/admin/results", results_page)
    router.add_post("/admin/results", results_save)
