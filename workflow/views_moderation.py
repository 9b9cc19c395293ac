"""Moderation pages: requests waiting for a moderator (accept → routing, reject as spam with a reason), the
searchable list of rejected ones, and the administrator's choice of which sources need moderation.

Reach is ``workflow.moderation.moderation_scope``: managers and heads see requests of their departments and
those not yet in a department, the administrator all; a director reads, and only they who manage decide."""

from __future__ import annotations

import logging

from aiohttp import web

from crm_core.models import Channel, Role
from web.features import NavItem
from web.guard import allow
from web.i18n import add_texts
from web.keys import ACTOR, sessions
from web.render import render
from workflow import moderation
from workflow.settings import ModerationRules
from workflow.webutil import int_param, service

log = logging.getLogger("hub.web.moderation")
READERS = (Role.DEPT_MANAGER, Role.DEPT_HEAD, Role.DIRECTOR, Role.ADMIN)
MODERATORS = (Role.DEPT_MANAGER, Role.DEPT_HEAD, Role.ADMIN)
NAV = [NavItem("/moderation", "mod.nav", roles=frozenset(READERS), order=25, group="work")]
CHANNELS = [c.value for c in Channel]

add_texts({
    "mod.nav": ("Модерация", "Moderation"),
    "mod.title": ("Заявки на модерации", "Requests awaiting moderation"),
    "mod.none": ("Заявок на модерации нет", "No requests awaiting moderation"),
    "mod.rejected_title": ("Отклонённые заявки", "Rejected requests"),
    "mod.rejected_none": ("Отклонённых заявок не найдено", "No rejected requests found"),
    "mod.search": ("Найти", "Search"),
    "mod.query": ("Имя, телефон, текст, источник или причина", "Name, phone, text, source or reason"),
    "mod.accept": ("Принять в работу", "Accept"),
    "mod.reject": ("Спам", "Spam"),
    "mod.restore": ("Вернуть в работу", "Restore"),
    "mod.reason": ("Причина", "Reason"),
    "mod.reason_default": ("спам", "spam"),
    "mod.col.when": ("Поступила", "Received"),
    "mod.col.client": ("Клиент", "Client"),
    "mod.col.channel": ("Канал", "Channel"),
    "mod.col.source": ("Источник", "Source"),
    "mod.col.text": ("Текст", "Text"),
    "mod.col.decided": ("Отклонена", "Rejected"),
    "mod.col.by": ("Кем", "By"),
    "mod.accepted": ("Заявка №{id} принята и передана в распределение", "Request №{id} accepted and sent to routing"),
    "mod.rejected": ("Заявка №{id} отклонена и сохранена в списке отклонённых",
                     "Request №{id} rejected and kept in the rejected list"),
    "mod.taken": ("Заявку №{id} уже обработал другой модератор", "Request №{id} was already handled"),
    "mod.settings": ("Что модерировать", "What to moderate"),
    "mod.settings_hint": ("Новые заявки из отмеченных каналов, источников и сайтов сначала попадают к модератору.",
                          "New requests from these channels, sources and sites first go to a moderator."),
    "mod.channels": ("Каналы", "Channels"),
    "mod.sources": ("Источники (utm_source, по одному в строке)", "Sources (utm_source, one a line)"),
    "mod.sites": ("Сайты (по одному в строке)", "Sites (one a line)"),
    "mod.saved": ("Сохранено", "Saved"),
    "mod.save": ("Сохранить", "Save"),
    "mod.channel.call": ("звонок", "call"),
    "mod.channel.email": ("почта", "email"),
    "mod.channel.telegram": ("Telegram", "Telegram"),
    "mod.channel.webform": ("форма на сайте", "web form"),
    "mod.channel.visit": ("визит", "visit"),
    "mod.channel.manual": ("вручную", "manual"),
})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/moderation", waiting_page)
    router.add_get("/moderation/rejected", rejected_page)
    router.add_get("/moderation/settings", settings_page)
    router.add_post("/moderation/settings", save_settings)
    router.add_post("/moderation/{id}/accept", accept)
    router.add_post("/moderation/{id}/reject", reject)


def _notice(request: web.Request) -> dict:
    kind, ident = request.query.get("done", ""), request.query.get("id", "")
    if kind in ("accepted", "rejected", "taken") and ident.isdigit():
        return {"notice": kind, "notice_id": int(ident)}
    return {"notice": None, "notice_id": None}


@allow(*READERS)
async def waiting_page(request: web.Request) -> web.StreamResponse:
    actor = request[ACTOR]
    async with sessions(request)() as s:
        rows = await moderation.waiting(s, actor)
    return render(request, "workflow_moderation.html", {
        "rows": rows, "can_decide": moderation.can_moderate(actor), **_notice(request)})


@allow(*READERS)
async def rejected_page(request: web.Request) -> web.StreamResponse:
    actor, q = request[ACTOR], request.query.get("q", "")[:200]
    async with sessions(request)() as s:
        rows = await moderation.rejected(s, actor, q)
    return render(request, "workflow_rejected.html", {
        "rows": rows, "q": q, "can_decide": moderation.can_moderate(actor), **_notice(request)})


@allow(*MODERATORS)
async def accept(request: web.Request) -> web.StreamResponse:
    inquiry_id = int_param(request.match_info["id"])
    await request.post()
    try:
        await moderation.accept(sessions(request), request[ACTOR], inquiry_id, service(request).route)
    except moderation.AlreadyDecided:
        raise web.HTTPSeeOther(f"/moderation?done=taken&id={inquiry_id}") from None
    raise web.HTTPSeeOther(f"/moderation?done=accepted&id={inquiry_id}")


@allow(*MODERATORS)
async def reject(request: web.Request) -> web.StreamResponse:
    inquiry_id = int_param(request.match_info["id"])
    form = await request.post()
    try:
        await moderation.reject(sessions(request), request[ACTOR], inquiry_id, str(form.get("reason") or ""))
    except moderation.AlreadyDecided:
        raise web.HTTPSeeOther(f"/moderation?done=taken&id={inquiry_id}") from None
    raise web.HTTPSeeOther(f"/moderation?done=rejected&id={inquiry_id}")


@allow(Role.ADMIN)
async def settings_page(request: web.Request) -> web.StreamResponse:
    rules = service(request).gate.rules
    return render(request, "workflow_moderation_settings.html", {
        "rules": rules, "channels": CHANNELS, "saved": request.query.get("saved") == "1"})


def _lines(value: object) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for line in str(value or "").replace(",", "\n").splitlines():
        if line.strip():
            seen[line.strip()[:200]] = None
    return tuple(seen)[:200]


@allow(Role.ADMIN)
async def save_settings(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    rules = ModerationRules(channels=tuple(c for c in form.getall("channel", []) if c in CHANNELS),
                            sources=_lines(form.get("sources")), sites=_lines(form.get("sites")))
    async with sessions(request)() as s, s.begin():
        await moderation.save_rules(s, rules)
    service(request).set_rules(rules=rules)
    log.info("moderation rules saved by user=%s: %s", request[ACTOR].user_id, rules.model_dump())
    raise web.HTTPSeeOther("/moderation/settings?saved=1")
