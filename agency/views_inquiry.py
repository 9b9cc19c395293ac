"""An inquiry's side of the agency: its work page (the deal, the linked property, the advertising source),
opening a deal from it, correcting its source, and inquiries registered by hand (visit, mobile operator,
recommendation).

Every handler declares its roles; reads and writes go through the access rules of ``crm_core`` (out of
reach → 404); forms carry the CSRF token.
"""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import select

from agency import deals
from agency.property_access import get_property
from agency.property_queries import PropertyRow, search_properties
from agency.views import WORKERS, field_errors, form_of, int_param, render
from crm_core.access import Forbidden, NotFound, check_inquiry_write, get_inquiry
from crm_core.manual_intake import KINDS, ManualInquiry, SourceChange, register, set_source
from crm_core.models.agency import Deal
from web.features import NavItem
from web.guard import allow
from web.keys import ACTOR, HUB, sessions

NAV = [NavItem("/intake/manual", "agency.nav_manual", roles=frozenset(WORKERS), order=24, group="work")]


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


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(r"/inquiries/{id:\d+}/work", inquiry_work)
    router.add_post(r"/inquiries/{id:\d+}/deal", open_deal)
    router.add_post(r"/inquiries/{id:\d+}/source", inquiry_source)
    router.add_get("/intake/manual", manual_page)
    router.add_post("/intake/manual", manual_submit)
