"""«Контроль»: the department's open inquiries with their last and next actions (overdue, today, nothing
planned) for the roles that control them, and setting an inquiry's next action from that list.
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from agency import control
from agency.deal_forms import DealError
from agency.views import form_of, int_param, local_to_aware, render, zone_of
from crm_core.models import utcnow
from web.features import NavItem
from web.guard import allow
from web.keys import ACTOR, sessions

NAV = [NavItem("/control", "agency.nav_control", roles=frozenset(control.CONTROL_ROLES), order=28, group="team")]


async def _control_page(request: web.Request, *, errors: dict[str, str] | None = None, status: int = 200
                        ) -> web.Response:
    actor = request[ACTOR]
    raw = request.query.get("department", "")
    async with sessions(request)() as s:
        rows = await control.control_rows(s, actor, now=utcnow(), zone=zone_of(request),
                                          department_id=int(raw) if raw.isdigit() else None)
    return render(request, "agency_control.html", {"rows": rows, "errors": errors or {},
                                                   "notice": request.query.get("notice")}, status=status)


@allow(*control.CONTROL_ROLES)
async def control_page(request: web.Request) -> web.StreamResponse:
    return await _control_page(request)


@allow(*control.CONTROL_ROLES)
async def control_set(request: web.Request) -> web.StreamResponse:
    inquiry_id = int_param(request)
    form = await form_of(request)
    try:
        when = datetime.fromisoformat(local_to_aware(form.get("planned_at", ""), zone_of(request)))
    except ValueError:
        return await _control_page(request, errors={f"i{inquiry_id}": "planned_at: not a date"}, status=422)
    try:
        await control.set_next_action(sessions(request), request[ACTOR], inquiry_id, form.get("planned_action", ""),
                                      when)
    except DealError as exc:
        return await _control_page(request, errors={f"i{inquiry_id}": f"{exc.field}: {exc}"}, status=422)
    raise web.HTTPSeeOther("/control?notice=saved")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/control", control_page)
    router.add_post(r"/control/{id:\d+}", control_set)
