"""The routing rules editor: the rules in order (drag to reorder, or the buttons up/down), a form per rule
(conditions, the territory drawn on a map, whom, strategy, SLA), saved at once as a new version or kept in a
draft for the what-if replay; the versions with what changed and a one-click rollback.

The administrator edits every rule; a department head sees and edits the rules for their department's
inquiries only (``when.departments = [their department]``), giving them to their own people or pools.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy import select

from crm_core.models import Department, Role, Segment, Team, User
from crm_core.models.routing_versions import RuleVersion
from routing import rule_versions as versions
from routing.editor_summary import summary
from routing.places import load_places
from routing.queries import load_rule_data
from routing.rule_form import MULTI, RuleForm, error_text, form_values, head_scope, validate_rule_form
from routing.rules import STRATEGIES, RuleSetError
from routing.views import render
from routing.views_editor_texts import FIELD_OF_PROBLEM
from routing.views_rule_problems import EDITOR_FIELDS, problem_line, problem_message
from web.features import NavItem
from web.guard import allow
from web.i18n import translator
from web.keys import ACTOR, LOCALE, USER, sessions
from web.middleware import CSP

log = logging.getLogger("hub.web.routing")
EDITORS = (Role.ADMIN, Role.DEPT_HEAD)
BASE = "/admin/routing/editor"
TILES = "https://tile.openstreetmap.org"
NAV = [NavItem(BASE, "editor.nav", roles=frozenset(EDITORS), order=60, group="settings",
               also=("/admin/routing/replay", "/admin/routing/versions", "/admin/routing/places",
                     "/admin/routing/decisions", "/admin/routing"))]


def me(request: web.Request) -> int:
    user = request[USER]
    assert user is not None  # every handler here is behind @allow
    return int(user.id)


def _own(request: web.Request, rule: dict[str, Any]) -> bool:
    actor = request[ACTOR]
    if actor.role == Role.ADMIN:
        return True
    return (rule.get("when") or {}).get("departments") == [actor.department_id] and actor.department_id is not None


async def _working(request: web.Request, draft_id: int | None) -> dict[str, Any]:
    async with sessions(request)() as s:
        if draft_id is None:
            return await load_rule_data(s)
        row = await s.get(RuleVersion, draft_id)
        if row is None or row.state != versions.DRAFT:
            raise web.HTTPNotFound(text="no such draft")
        data = dict(row.data)
    data.setdefault("rules", [])
    data.setdefault("territories", [])
    return data


def _draft_id(request: web.Request, form: MultiDictProxy | None = None) -> int | None:
    raw = str((form.get("draft", "") if form is not None else "") or request.query.get("draft", ""))
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


async def _choices(request: web.Request) -> dict[str, Any]:
    actor = request[ACTOR]
    async with sessions(request)() as s:
        departments = (await s.execute(select(Department.id, Department.name).order_by(Department.name))).all()
        users = select(User.id, User.full_name, User.department_id).where(User.is_active.is_(True))
        if actor.role != Role.ADMIN:
            users = users.where(User.department_id == actor.department_id)
            departments = [d for d in departments if d.id == actor.department_id]
        agents = (await s.execute(users.order_by(User.full_name))).all()
        teams = (await s.execute(select(Team.id, Team.name).order_by(Team.name))).all() \
            if actor.role == Role.ADMIN else []
        segments = (await s.execute(select(Segment.name).order_by(Segment.name))).scalars().all()
        places = await load_places(s)
    return {"departments": departments, "agents": agents, "teams": teams, "segments": segments,
            "stations": sorted(places["stations"], key=lambda p: (p["city"], p["name"])),
            "districts": places["districts"], "strategies": STRATEGIES}


async def _page(request: web.Request, *, draft_id: int | None, editing: dict[str, Any] | None = None,
                original: str = "", errors: dict[str, str] | None = None, status: int = 200) -> web.Response:
    data = await _working(request, draft_id)
    rules = sorted((r for r in data["rules"] if _own(request, r)), key=lambda r: r["priority"])
    key = request.query.get("rule", "")
    if editing is None and key:
        rule = next((r for r in rules if r["id"] == key), None)
        if rule is None:
            raise web.HTTPNotFound(text="no such rule")
        editing, original = form_values(rule), key
    if editing is None and request.query.get("new"):
        editing = form_values({"id": "", "enabled": True, "owner_first": True})
        if request[ACTOR].role != Role.ADMIN:
            editing["departments"] = [request[ACTOR].department_id]
    async with sessions(request)() as s:
        drafts = (await s.execute(select(RuleVersion.id, RuleVersion.note, RuleVersion.created_at)
                                  .where(RuleVersion.state == versions.DRAFT)
                                  .order_by(RuleVersion.id.desc()).limit(20))).all()
    choices = await _choices(request)
    names = {"departments": dict(choices["departments"]), "agents": {a.id: a.full_name for a in choices["agents"]},
             "teams": dict(choices["teams"])}
    t = translator(request[LOCALE])
    return with_tiles(render(request, "routing_editor.html", {
        "summaries": {r["id"]: summary(r, t, names) for r in rules}, "rules": rules, "draft_id": draft_id,
        "drafts": drafts, "f": editing, "original": original,
        "errors": errors or {}, "territories": data.get("territories", []), "notice": request.query.get("notice"),
        "is_admin": request[ACTOR].role == Role.ADMIN, **choices,
    }, status=status))


def with_tiles(response: web.Response) -> web.Response:
    """The map pages may load OpenStreetMap's tiles (the rest of the policy stays the hub's)."""
    response.headers["Content-Security-Policy"] = CSP.replace("img-src 'self' data:", f"img-src 'self' data: {TILES}")
    return response


@allow(*EDITORS)
async def editor_page(request: web.Request) -> web.StreamResponse:
    return await _page(request, draft_id=_draft_id(request))


def _form_dict(form: MultiDictProxy) -> dict[str, Any]:
    out: dict[str, Any] = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    for key in MULTI:
        out[key] = [str(v) for v in form.getall(key, []) if isinstance(v, str)]
    return out


async def _store(request: web.Request, data: dict[str, Any], draft_id: int | None, as_draft: bool,
                 note: str = "") -> int | None:
    """Publish (a new version) or keep in the draft; returns the draft's id, None when published."""
    actor_id = me(request)
    if draft_id is not None or as_draft:
        return await versions.save_draft(sessions(request), data, actor_id, draft_id, note)
    await versions.publish(sessions(request), data, actor_id, "save", note)
    return None


def _where(draft_id: int | None, notice: str) -> str:
    return f"{BASE}?draft={draft_id}&notice={notice}" if draft_id is not None else f"{BASE}?notice={notice}"


@allow(*EDITORS)
async def rule_save(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    draft_id = _draft_id(request, form)
    values = _form_dict(form)
    original = str(form.get("original", ""))
    locale = request[LOCALE]
    parsed, errors = validate_rule_form(values, locale)
    actor = request[ACTOR]
    if parsed is not None and actor.role != Role.ADMIN:
        async with sessions(request)() as s:
            own = set((await s.execute(select(User.id).where(User.department_id == actor.department_id)))
                      .scalars().all())
        errors = {k: error_text(v, locale) for k, v in head_scope(parsed, actor.department_id, own).items()}
    data = await _working(request, draft_id)
    if parsed is not None and not errors:
        assert isinstance(parsed, RuleForm)
        old = next((r for r in data["rules"] if r["id"] == original), None) if original else None
        if old is not None and not _own(request, old):
            raise web.HTTPNotFound(text="no such rule")
        if parsed.id != original and any(r["id"] == parsed.id for r in data["rules"]):
            errors = {"id": error_text("rule_id_taken", locale)}
        else:
            priority = old["priority"] if old else max((r["priority"] for r in data["rules"]), default=0) + 10
            data["rules"] = [r for r in data["rules"] if r["id"] != original] + [parsed.to_rule(priority)]
            try:
                kept = await _store(request, data, draft_id, form.get("mode") == "draft",
                                    str(form.get("note", ""))[:200])
            except RuleSetError as exc:
                errors = {FIELD_OF_PROBLEM(p.field): problem_message(p, locale) for p in exc.problems}
                if not EDITOR_FIELDS.issuperset(errors):  # a problem with no field of its own on the form
                    errors["form"] = problem_line(exc.problems[0], locale)
            else:
                raise web.HTTPSeeOther(_where(kept, "saved"))
    return await _page(request, draft_id=draft_id, editing=values, original=original, errors=errors, status=422)


async def _reorder(request: web.Request, wanted: list[str], draft_id: int | None) -> web.StreamResponse:
    data = await _working(request, draft_id)
    mine = sorted((r for r in data["rules"] if _own(request, r)), key=lambda r: r["priority"])
    if sorted(wanted) != sorted(r["id"] for r in mine):
        raise web.HTTPBadRequest(text="the order must name each rule once")
    slots = [r["priority"] for r in mine]
    by_id = {r["id"]: r for r in mine}
    for key, slot in zip(wanted, slots, strict=True):
        by_id[key]["priority"] = slot
    try:
        kept = await _store(request, data, draft_id, False, "")
    except RuleSetError as exc:
        first = problem_line(exc.problems[0], request[LOCALE])
        return await _page(request, draft_id=draft_id, errors={"form": first}, status=422)
    if "application/json" in request.headers.get("Accept", ""):
        return web.json_response({"ok": True, "draft": kept})
    raise web.HTTPSeeOther(_where(kept, "saved"))


@allow(*EDITORS)
async def rules_order(request: web.Request) -> web.StreamResponse:
    """Drag and drop: the rules' ids in their new order (only the rules this editor sees change places)."""
    form = await request.post()
    wanted = [k for k in str(form.get("order", "")).split(",") if k]
    return await _reorder(request, wanted, _draft_id(request, form))


@allow(*EDITORS)
async def rule_move(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    draft_id = _draft_id(request, form)
    data = await _working(request, draft_id)
    order = [r["id"] for r in sorted((r for r in data["rules"] if _own(request, r)), key=lambda r: r["priority"])]
    key = request.match_info["key"]
    if key not in order:
        raise web.HTTPNotFound(text="no such rule")
    at = order.index(key)
    other = at - 1 if form.get("direction") == "up" else at + 1
    if 0 <= other < len(order):
        order[at], order[other] = order[other], order[at]
    return await _reorder(request, order, draft_id)


@allow(*EDITORS)
async def rule_delete(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    draft_id = _draft_id(request, form)
    data = await _working(request, draft_id)
    key = request.match_info["key"]
    rule = next((r for r in data["rules"] if r["id"] == key), None)
    if rule is None or not _own(request, rule):
        raise web.HTTPNotFound(text="no such rule")
    data["rules"] = [r for r in data["rules"] if r["id"] != key]
    kept = await _store(request, data, draft_id, False)
    raise web.HTTPSeeOther(_where(kept, "saved"))


@allow(Role.ADMIN)
async def draft_new(request: web.Request) -> web.StreamResponse:
    """A draft that starts as a copy of the running rules."""
    form = await request.post()
    data = await _working(request, None)
    draft_id = await versions.save_draft(sessions(request), data, me(request), None,
                                         str(form.get("note", ""))[:200])
    raise web.HTTPSeeOther(f"{BASE}?draft={draft_id}")


@allow(Role.ADMIN)
async def draft_publish(request: web.Request) -> web.StreamResponse:
    try:
        await versions.publish_draft(sessions(request), int(request.match_info["id"]), me(request))
    except LookupError:
        raise web.HTTPNotFound(text="no such draft") from None
    except RuleSetError as exc:
        return await _page(request, draft_id=int(request.match_info["id"]),
                           errors={"form": problem_line(exc.problems[0], request[LOCALE])}, status=422)
    raise web.HTTPSeeOther(f"{BASE}?notice=published")


@allow(Role.ADMIN)
async def draft_delete(request: web.Request) -> web.StreamResponse:
    async with sessions(request)() as s, s.begin():
        row = await s.get(RuleVersion, int(request.match_info["id"]))
        if row is None or row.state != versions.DRAFT:
            raise web.HTTPNotFound(text="no such draft")
        await s.delete(row)
    raise web.HTTPSeeOther(f"{BASE}?notice=draft_deleted")


@allow(Role.ADMIN)
async def versions_page(request: web.Request) -> web.StreamResponse:
    async with sessions(request)() as s:
        rows = await versions.history(s)
    return render(request, "routing_versions.html", {"rows": rows, "notice": request.query.get("notice")})


@allow(Role.ADMIN)
async def version_rollback(request: web.Request) -> web.StreamResponse:
    try:
        number = await versions.rollback(sessions(request), int(request.match_info["id"]), me(request))
    except LookupError:
        raise web.HTTPNotFound(text="no such version") from None
    except RuleSetError:
        raise web.HTTPSeeOther("/admin/routing/versions?notice=rollback_refused") from None
    raise web.HTTPSeeOther(f"/admin/routing/versions?notice=rolled_back&v={number}")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(BASE, editor_page)
    router.add_post(BASE + "/rule", rule_save)
    router.add_post(BASE + "/order", rules_order)
    router.add_post(BASE + "/rules/{key}/move", rule_move)
    router.add_post(BASE + "/rules/{key}/delete", rule_delete)
    router.add_post("/admin/routing/drafts", draft_new)
    router.add_post("/admin/routing/drafts/{id}/publish", draft_publish)
    router.add_post("/admin/routing/drafts/{id}/delete", draft_delete)
    router.add_get("/admin/routing/versions", versions_page)
    router.add_post("/admin/routing/versions/{id}/rollback", version_rollback)
