"""The department call feed (live cards at the bottom of every page) and the call bin.

``/static/callfeed/callfeed.js`` asks ``GET /callfeed/feed`` for the feed when a page opens, then follows the
``callfeed`` pushes. «В корзину» on a card posts ``/callfeed/{call}/bin``; the bin page lists binned calls
and lets a supervisor take one back out.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from aiohttp import web

from callfeed import queries
from callfeed.wiring import service_of
from crm_core import audit
from crm_core.models import Role, utcnow
from web import labels
from web.features import NavItem
from web.guard import allow
from web.i18n import add_texts, translator
from web.keys import ACTOR, HUB, LOCALE, sessions
from web.render import render

log = logging.getLogger("hub.web.callfeed")

SCRIPTS = ["/static/callfeed/callfeed.js"]
NAV = [NavItem("/callfeed/bin", "callfeed.nav", order=32, group="calls")]
BINNERS = (Role.AGENT, Role.DEPT_MANAGER, Role.DEPT_HEAD, Role.ADMIN)
SUPERVISORS = (Role.DEPT_MANAGER, Role.DEPT_HEAD, Role.ADMIN)

add_texts({
    "callfeed.nav": ("Корзина звонков", "Call bin"),
    "callfeed.title": ("Звонки отдела", "Department calls"),
    "callfeed.waiting": ("ждёт", "waiting"),
    "callfeed.ringing": ("звонит у", "ringing at"),
    "callfeed.owner": ("Ответственный", "Owner"),
    "callfeed.no_owner": ("без ответственного", "no owner"),
    "callfeed.unknown": ("Новый номер", "New number"),
    "callfeed.open": ("Открыть", "Open"),
    "callfeed.to_bin": ("В корзину", "To the bin"),
    "callfeed.hide": ("Свернуть", "Collapse"),
    "callfeed.show": ("Звонки отдела: {n}", "Department calls: {n}"),
    "callfeed.in_bin_before": ("номер уже в корзине", "number already in the bin"),
    "callfeed.reason.spam": ("спам", "spam"),
    "callfeed.reason.wrong_number": ("ошиблись номером", "wrong number"),
    "callfeed.binned": ("Звонок отправлен в корзину", "The call went to the bin"),
    "callfeed.no_call": ("Такого звонка в ленте отдела нет", "No such call on your department's feed"),
    "callfeed.bin.title": ("Корзина звонков", "Call bin"),
    "callfeed.bin.help": ("Звонки из корзины не попадают в холодный список и в отчёты по звонкам. "
                          "Вернуть звонок может руководитель отдела.",
                          "Calls in the bin stay out of the cold list and the call reports. "
                          "A department's supervisor can take a call back out."),
    "callfeed.bin.empty": ("Корзина пуста", "The bin is empty"),
    "callfeed.bin.restored_list": ("Возвращённые из корзины", "Taken out of the bin"),
    "callfeed.bin.restore": ("Вернуть", "Restore"),
    "callfeed.bin.restored": ("Звонок возвращён из корзины", "The call is out of the bin"),
    "callfeed.col.when": ("Когда", "When"),
    "callfeed.col.number": ("Номер", "Number"),
    "callfeed.col.name": ("Имя", "Name"),
    "callfeed.col.queue": ("Очередь", "Queue"),
    "callfeed.col.department": ("Отдел", "Department"),
    "callfeed.col.reason": ("Причина", "Reason"),
    "callfeed.col.who": ("Кто", "Who"),
    "callfeed.col.restored": ("Вернул", "Restored by"),
    "callfeed.confirm": ("В корзину как «{reason}»?", "To the bin as «{reason}»?"),
    "callfeed.yes": ("Да, в корзину", "Yes, bin it"),
    "callfeed.no": ("Отмена", "Cancel"),
    "callfeed.undo": ("Вернуть", "Undo"),
    "callfeed.bin.undo_late": ("Вернуть уже нельзя: прошло больше 10 минут или звонок уже вернули",
                               "Too late to undo: more than 10 minutes passed, or the call is already out"),
})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/callfeed/feed", feed)
    router.add_post("/callfeed/{call}/bin", put_in_bin)
    router.add_get("/callfeed/bin", bin_page)
    router.add_post(r"/callfeed/bin/{id:\d+}/restore", restore)
    router.add_post(r"/callfeed/bin/{id:\d+}/undo", undo)


def _json(data: dict, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def _labels(locale: str) -> dict[str, object]:
    t = translator(locale)
    keys = ("title", "waiting", "ringing", "owner", "no_owner", "unknown", "open", "to_bin", "hide", "show",
            "in_bin_before", "binned", "undo", "yes", "no")
    return {**{k: t(f"callfeed.{k}", n="{n}") for k in keys},
            "confirm": t("callfeed.confirm", reason="{reason}"),
            "queue_unnamed": t("queue.unnamed", name="{name}"),
            "reasons": {r: t(f"callfeed.reason.{r}") for r in queries.REASONS}}


@allow()
async def feed(request: web.Request) -> web.StreamResponse:
    """The watcher's feed now (cards of their departments' waiting calls); everybody else gets ``off``."""
    service, scope = service_of(request.app[HUB]), queries.scope_of(request[ACTOR])
    if service is None or not scope:
        return _json({"off": True, "cards": []})
    service.watch(request[ACTOR].user_id, scope)
    data, locale = service.feed(scope), request.get(LOCALE, "ru")
    named = request.app[HUB].settings.asterisk.queue_names
    cards = data.get("cards")
    queues = {str(c["queue"]) for c in (cards if isinstance(cards, list) else []) if isinstance(c, dict)
              and c.get("queue")}
    return _json({**data, "labels": {**_labels(locale), "queues": {q: labels.queue(q, locale, named)
                                                                  for q in queues | set(named)}},
                  "can_bin": request[ACTOR].role in BINNERS})


@allow(*BINNERS)
async def put_in_bin(request: web.Request) -> web.StreamResponse:
    """A call of the actor's departments goes to the bin: its card leaves every feed of the department."""
    t = translator(request.get(LOCALE, "ru"))
    call_id = request.match_info["call"][:64]
    form = await request.post()
    reason = str(form.get("reason") or "spam")
    if reason not in queries.REASONS:
        raise web.HTTPBadRequest(text="unknown reason")
    service, actor = service_of(request.app[HUB]), request[ACTOR]
    card = service.card(call_id) if service is not None else None
    scope = queries.scope_of(actor)
    departments = card.departments if card is not None else frozenset()
    if card is None or not (actor.is_admin or departments & scope):
        return _json({"ok": False, "message": t("callfeed.no_call")}, status=404)
    department = min(departments & scope) if departments & scope else min(departments)
    async with sessions(request)() as s, s.begin():
        row = await queries.put_in_bin(s, actor, linkedid=card.id, number=card.number or None,
                                       caller_name=card.caller_name or None, queue=card.queue or None,
                                       department_id=department, reason=reason)
        await audit.record(s, actor.user_id, "callfeed.bin", f"call:{card.id}",
                           {"number": card.number, "reason": reason, "department_id": department})
        bin_id = row.id
    service.put_in_bin(card.id)  # type: ignore[union-attr]
    log.info("call %s to the bin by user=%s reason=%s", card.id, actor.user_id, reason)
    return _json({"ok": True, "id": bin_id, "message": t("callfeed.binned")})


@allow()
async def bin_page(request: web.Request) -> web.StreamResponse:
    actor = request[ACTOR]
    async with sessions(request)() as s:
        rows = await queries.bin_rows(s, actor)
        restored = await queries.bin_rows(s, actor, restored=True, limit=50)
    undo_after = utcnow() - timedelta(seconds=queries.UNDO_S)
    return render(request, "callfeed_bin.html", {"rows": rows, "restored": restored,
                                                 "can_restore": actor.role in SUPERVISORS,
                                                 "can_undo": lambda r: r.binned_by_id == actor.user_id
                                                 and r.binned_at >= undo_after,
                                                 "done": request.query.get("done", "")})


@allow(*BINNERS)
async def undo(request: web.Request) -> web.StreamResponse:
    """Whoever binned a call takes it back out within a few minutes (from the feed, or the bin page)."""
    actor, t = request[ACTOR], translator(request.get(LOCALE, "ru"))
    wants_json = "application/json" in request.headers.get("Accept", "")
    async with sessions(request)() as s, s.begin():
        row = await queries.undo(s, actor, int(request.match_info["id"]))
        linkedid = row.linkedid if row is not None else None
        if row is not None:
            await audit.record(s, actor.user_id, "callfeed.undo", f"call:{linkedid}", {"number": row.number})
    if linkedid is None:
        if wants_json:
            return _json({"ok": False, "message": t("callfeed.bin.undo_late")}, status=409)
        raise web.HTTPSeeOther("/callfeed/bin?done=late")
    service = service_of(request.app[HUB])
    if service is not None:
        service.taken_out_of_bin(linkedid)
    log.info("call %s out of the bin (undo) by user=%s", linkedid, actor.user_id)
    if wants_json:
        return _json({"ok": True, "message": t("callfeed.bin.restored")})
    raise web.HTTPSeeOther("/callfeed/bin?done=restored")


@allow(*SUPERVISORS)
async def restore(request: web.Request) -> web.StreamResponse:
    actor = request[ACTOR]
    async with sessions(request)() as s, s.begin():
        row = await queries.restore(s, actor, int(request.match_info["id"]))
        if row is None:
            raise web.HTTPNotFound()
        linkedid = row.linkedid
        await audit.record(s, actor.user_id, "callfeed.restore", f"call:{linkedid}", {"number": row.number})
    service = service_of(request.app[HUB])
    if service is not None:
        service.taken_out_of_bin(linkedid)
    log.info("call %s out of the bin by user=%s", linkedid, actor.user_id)
    raise web.HTTPSeeOther("/callfeed/bin?done=restored")
