"""Routing pages: the administrator's rules (edit, order, enable, import/export TOML), the decision log,
an agent's team offers (claim), and the owner's accept/refuse on the inquiry page."""

from __future__ import annotations

import logging
import tomllib
import weakref
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import aliased

from crm_core.access import inquiry_scope
from crm_core.models import Department, Inquiry, Role, RoutingDecision, User
from crm_core.models.routing import TeamOffer
from routing.queries import load_rule_data, parse_rules_toml, rules_to_toml
from routing.rule_problems import toml_problem
from routing.rule_versions import publish
from routing.rules import RuleProblem, RuleSetError
from routing.service import RoutingService
from routing.views_rule_problems import shown
from web.features import NavItem
from web.guard import allow
from web.i18n import add_texts, translator
from web.keys import ACTOR, HUB, LOCALE, USER, sessions

log = logging.getLogger("hub.web.routing")
SCRIPTS = ["/static/routing/routing.js"]  # live team offers: «Беру работу на себя» on every page
MAX_RULES_FILE = 1024 * 1024
_services: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

NAV = [
    NavItem("/routing/offers", "routing.nav_offers", order=40, group="work"),
]

add_texts({
    "routing.nav_offers": ("Предложения", "Offers"),
    "routing.nav_rules": ("Маршрутизация", "Routing"),
    "routing.rules_title": ("Правила маршрутизации", "Routing rules"),
    "routing.priority": ("Приоритет", "Priority"),
    "routing.rule": ("Правило", "Rule"),
    "routing.enabled": ("Включено", "Enabled"),
    "routing.strategy": ("Стратегия", "Strategy"),
    "routing.target": ("Кому", "Target"),
    "routing.target.agents": ("сотрудники", "agents"),
    "routing.target.teams": ("группы", "teams"),
    "routing.target.departments": ("отделы", "departments"),
    "routing.target.skills": ("навыки", "skills"),
    "routing.target.require_skills": ("обязательные навыки", "required skills"),
    "routing.target.inquiry_department": ("отдел обращения", "the inquiry's department"),
    "routing.target.pool": ("аукцион", "pool"),
    "routing.on": ("да", "yes"),
    "routing.off": ("нет", "no"),
    "routing.toggle": ("Вкл/выкл", "On/off"),
    "routing.up": ("Выше", "Up"),
    "routing.down": ("Ниже", "Down"),
    "routing.delete": ("Удалить", "Delete"),
    "routing.edit": ("Изменить", "Edit"),
    "routing.edit_rule": ("Правило (TOML)", "Rule (TOML)"),
    "routing.default_rule": ("Правило по умолчанию (ловит всё остальное)", "Default rule (catches everything else)"),
    "routing.import": ("Импорт правил из TOML (заменяет все правила)", "Import rules from TOML (replaces all rules)"),
    "routing.import_file": ("Файл", "File"),
    "routing.import_text": ("или текст", "or text"),
    "routing.export": ("Экспорт в TOML", "Export as TOML"),
    "routing.saved": ("Правила сохранены", "Rules saved"),
    "routing.rejected": ("Правила не приняты, действующие не изменены:", "Rules rejected, the running ones unchanged:"),
    "routing.decisions": ("Журнал решений", "Decision log"),
    "routing.inquiry": ("Обращение", "Inquiry"),
    "routing.agent": ("Агент", "Agent"),
    "routing.pool": ("Пул", "Pool"),
    "routing.why": ("Почему", "Why"),
    "routing.at": ("Когда", "When"),
    "routing.offers_title": ("Предложенные мне обращения", "Inquiries offered to me"),
    "routing.deadline": ("Взять до", "Claim by"),
    "routing.claim": ("Беру работу на себя", "I'll take it"),
    "routing.claimed": ("Обращение ваше", "The inquiry is yours"),
    "routing.too_late": ("Опоздали: обращение уже взял другой или срок вышел", "Too late: taken or expired"),
    "routing.no_offers": ("Сейчас предложений нет", "No offers right now"),
    "routing.why_title": ("Почему этот агент", "Why this agent"),
    "routing.eligible": ("Подходили", "Eligible"),
    "routing.not_eligible": ("Не подходили", "Not eligible"),
    "routing.load": ("Загрузка", "Load"),
    "routing.why_more": ("и ещё {n}", "and {n} more"),
    "routing.rules_tried": ("Сначала проверены правила без подходящих агентов", "Rules tried first, nobody eligible"),
    "routing.accept": ("Принять", "Accept"),
    "routing.refuse": ("Отказаться", "Refuse"),
    "routing.accepted": ("Обращение принято", "Inquiry accepted"),
    "routing.refused": ("Вы отказались; обращение передано дальше", "Refused; the inquiry has moved on"),
    "routing.not_yours": ("Обращение уже не ваше", "The inquiry is no longer yours"),
    "routing.unknown_rule": ("Нет такого правила", "No such rule"),
    "history.routed": ("Маршрутизировано", "Routed"),
    "history.sla": ("Эскалация по сроку", "SLA escalation"),
    "history.refused": ("Отказ", "Refused"),
    "history.accepted": ("Принято", "Accepted"),
    "history.rerouted": ("Передано другому", "Re-routed"),
})


def render(request: web.Request, name: str, context: dict[str, Any], status: int = 200) -> web.Response:
    from web.render import render as _render  # web.render imports web.features, which imports this module

    return _render(request, name, context, status)


def service(request: web.Request) -> RoutingService:
    """The hub's routing service when it is wired (bootstrap), else one made for this hub on first use."""
    hub = request.app[HUB]
    wired = hub.connectors.get("routing") if hasattr(hub, "connectors") else None
    wired = getattr(wired, "connector", wired)
    if isinstance(wired, RoutingService):
        return wired
    svc = _services.get(hub.database.sessions)
    if svc is None:
        svc = _services[hub.database.sessions] = RoutingService(hub.database.sessions, hub.bus)
    return svc


def _int(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise web.HTTPNotFound() from None


def _target_text(target: dict[str, Any], locale: str = "ru", names: dict[str, dict[int, str]] | None = None) -> str:
    """«Кому» in words: departments and agents by name, flags and pools by their labels."""
    t, names = translator(locale), names or {}

    def value(key: str, v: Any) -> str:
        if isinstance(v, bool):
            return t("routing.yes") if v else t("routing.no")
        if key == "pool":
            return t(f"pool.{v}")
        return names.get(key, {}).get(v, str(v)) if isinstance(v, int) else str(v)

    parts = [f"{t('routing.target.' + k)}: {', '.join(value(k, x) for x in (v if isinstance(v, list) else [v]))}"
             for k, v in target.items()]
    return "; ".join(parts) or "—"


async def _rules_page(request: web.Request, *, problems: list[RuleProblem] | None = None, notice: str | None = None,
                      edit_text: str = "", edit_key: str = "", import_text: str = "", status: int = 200
                      ) -> web.StreamResponse:
    async with sessions(request)() as s:
        data = await load_rule_data(s)
    if not edit_text and request.query.get("edit"):
        key = request.query["edit"]
        rule = next((r for r in data["rules"] if r["id"] == key), None)
        if rule is None:
            raise web.HTTPNotFound(text="no such rule")
        edit_text, edit_key = rules_to_toml({"rules": [rule]}).split("[[rules]]\n", 1)[1], key
    async with sessions(request)() as s:
        names = {"departments": dict((await s.execute(select(Department.id, Department.name))).all()),
                 "agents": dict((await s.execute(select(User.id, User.full_name))).all())}
    rows = [{"id": r["id"], "priority": r["priority"], "enabled": r.get("enabled", True), "name": r.get("name", ""),
             "strategy": r.get("strategy", "least_loaded"),
             "target": _target_text(r.get("target", {}), request[LOCALE], names)} for r in data["rules"]]
    default = data.get("default", {})
    return render(request, "routing_rules.html", {
        "rows": rows, "default_text": rules_to_toml({"default": default}).replace("version = 1\nrules = []\n", "")
        if default else "", "problems": shown(problems or [], request[LOCALE]), "notice": notice,
        "edit_text": edit_text, "edit_key": edit_key, "import_text": import_text,
        "calendar_warning": _calendar_warning(request),
    }, status=status)


def _calendar_warning(request: web.Request) -> str | None:
    from routing.views_calendar import missing_warning  # it imports this module's render

    return missing_warning(request)


@allow(Role.ADMIN)
async def rules_page(request: web.Request) -> web.StreamResponse:
    return await _rules_page(request, notice=request.query.get("notice"))


async def _save(request: web.Request, data: dict[str, Any], kind: str = "save", **page: Any) -> web.StreamResponse:
    """Every save is a new version of the rules (routing/rule_versions.py: who, when, what changed)."""
    try:
        await publish(sessions(request), data, request[USER].id, kind)
    except RuleSetError as exc:
        return await _rules_page(request, problems=list(exc.problems), status=422, **page)
    raise web.HTTPSeeOther("/admin/routing?notice=saved")


async def _stored(request: web.Request) -> dict[str, Any]:
    async with sessions(request)() as s:
        return await load_rule_data(s)


@allow(Role.ADMIN)
async def rule_save(request: web.Request) -> web.StreamResponse:
    """Add or replace one rule from its TOML fields; the whole set is validated before anything is stored."""
    form = await request.post()
    text, original = str(form.get("rule", "")), str(form.get("original", ""))
    page = {"edit_text": text, "edit_key": original}
    try:
        rule = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return await _rules_page(request, problems=[toml_problem(exc)], status=422, **page)
    data = await _stored(request)
    rules = [r for r in data["rules"] if r["id"] != original] if original else data["rules"]
    data["rules"] = [*rules, rule]
    return await _save(request, data, **page)


async def _change(request: web.Request, how: str) -> web.StreamResponse:
    key = request.match_info["key"]
    data = await _stored(request)
    rules = data["rules"]
    at = next((n for n, r in enumerate(rules) if r["id"] == key), None)
    if at is None:
        raise web.HTTPNotFound(text="no such rule")
    if how == "toggle":
        rules[at]["enabled"] = not rules[at].get("enabled", True)
    elif how == "delete":
        del rules[at]
    else:
        other = at - 1 if how == "up" else at + 1
        if 0 <= other < len(rules):
            rules[at]["priority"], rules[other]["priority"] = rules[other]["priority"], rules[at]["priority"]
    return await _save(request, data)


@allow(Role.ADMIN)
async def rule_toggle(request: web.Request) -> web.StreamResponse:
    return await _change(request, "toggle")


@allow(Role.ADMIN)
async def rule_move(request: web.Request) -> web.StreamResponse:
    direction = str((await request.post()).get("direction", ""))
    if direction not in ("up", "down"):
        raise web.HTTPBadRequest(text="direction must be up or down")
    return await _change(request, direction)


@allow(Role.ADMIN)
async def rule_delete(request: web.Request) -> web.StreamResponse:
    return await _change(request, "delete")


@allow(Role.ADMIN)
async def rules_import(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    upload = form.get("file")
    text = str(form.get("text", ""))
    if upload is not None and not isinstance(upload, str) and upload.filename:
        raw = upload.file.read(MAX_RULES_FILE + 1)
        if len(raw) > MAX_RULES_FILE:
            too_big = RuleProblem(None, "file", "the file is over 1 MB", "file_too_big")
            return await _rules_page(request, problems=[too_big], status=422)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            not_text = RuleProblem(None, "file", "the file is not UTF-8 text", "not_utf8")
            return await _rules_page(request, problems=[not_text], status=422)
    try:
        data = parse_rules_toml(text)
    except RuleSetError as exc:
        return await _rules_page(request, problems=list(exc.problems), import_text=text, status=422)
    return await _save(request, data, "import", import_text=text)


@allow(Role.ADMIN)
async def rules_export(request: web.Request) -> web.StreamResponse:
    text = rules_to_toml(await _stored(request))
    return web.Response(text=text, content_type="application/toml", charset="utf-8",
                        headers={"Content-Disposition": 'attachment; filename="routing-rules.toml"'})


@allow(Role.ADMIN, Role.DIRECTOR, Role.DEPT_HEAD)
async def decision_log(request: web.Request) -> web.StreamResponse:
    agent = aliased(User)
    stmt = (select(RoutingDecision, agent.full_name, Inquiry.department_id)
            .join(Inquiry, Inquiry.id == RoutingDecision.inquiry_id)
            .outerjoin(agent, agent.id == RoutingDecision.agent_id)
            .order_by(RoutingDecision.id.desc()).limit(200))
    stmt = stmt.where(inquiry_scope(request[ACTOR]))  # a head sees their department, a director their division
    inquiry = request.query.get("inquiry", "")
    if inquiry.isdigit():
        stmt = stmt.where(RoutingDecision.inquiry_id == int(inquiry))
    async with sessions(request)() as s:
        rows = (await s.execute(stmt)).all()
    return render(request, "routing_decisions.html", {"rows": rows, "inquiry": inquiry})


@allow()
async def offers_page(request: web.Request) -> web.StreamResponse:
    offers = await service(request).open_offers_for(request[USER].id)
    return render(request, "routing_offers.html", {"offers": offers, "notice": request.query.get("notice")})


@allow()
async def offer_claim(request: web.Request) -> web.StreamResponse:
    offer_id = _int(request, "id")
    svc = service(request)
    async with sessions(request)() as s:
        inquiry_id = (await s.execute(select(TeamOffer.inquiry_id).where(TeamOffer.id == offer_id))).scalar()
    won = inquiry_id is not None and await svc.claim_offer(offer_id, request[USER].id)
    if "application/json" in request.headers.get("Accept", ""):  # routing.js, from the live offer card
        t = translator(request.get(LOCALE, "ru"))
        return web.json_response({"ok": won, "inquiry_id": inquiry_id if won else None,
                                  "url": f"/inquiries/{inquiry_id}" if won else None,
                                  "message": t("routing.claimed" if won else "routing.too_late")})
    if won:
        raise web.HTTPSeeOther(f"/inquiries/{inquiry_id}?notice=claimed")
    raise web.HTTPSeeOther("/routing/offers?notice=too_late")


@allow()
async def inquiry_accept(request: web.Request) -> web.StreamResponse:
    inquiry_id = _int(request, "id")
    ok = await service(request).accept(inquiry_id, request[USER].id)
    raise web.HTTPSeeOther(f"/inquiries/{inquiry_id}?notice={'saved' if ok else 'already_taken'}")


@allow()
async def inquiry_refuse(request: web.Request) -> web.StreamResponse:
    inquiry_id = _int(request, "id")
    result = await service(request).refuse(inquiry_id, request[USER].id)
    if result is None:
        raise web.HTTPSeeOther(f"/inquiries/{inquiry_id}?notice=already_taken")
    raise web.HTTPSeeOther("/inbox?notice=refused")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/admin/routing", rules_page)
    router.add_post("/admin/routing/rules", rule_save)
    router.add_post("/admin/routing/rules/{key}/toggle", rule_toggle)
    router.add_post("/admin/routing/rules/{key}/move", rule_move)
    router.add_post("/admin/routing/rules/{key}/delete", rule_delete)
    router.add_post("/admin/routing/import", rules_import)
    router.add_get("/admin/routing/export", rules_export)
    router.add_get("/admin/routing/decisions", decision_log)
    router.add_get("/routing/offers", offers_page)
    router.add_post("/routing/offers/{id}/claim", offer_claim)
    router.add_post("/routing/inquiries/{id}/accept", inquiry_accept)
    router.add_post("/routing/inquiries/{id}/refuse", inquiry_refuse)
