"""The call card as the agent's cockpit (``telephony/static/card.js``): what it needs to draw its buttons, and
the actions it takes without leaving the page — link a property to the call, set an inquiry's next action.

Transfer goes through ``POST /calls/transfer`` and click-to-call through ``POST /calls/originate``
(``telephony/views.py``); the script opens from ``/scripts/for-call/…`` (workflow). Every action answers JSON
``{"ok", "message"}`` in the agent's language; every POST carries the CSRF token (the X-CSRF-Token header).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import ValidationError

from agency.properties import link_call
from agency.property_access import get_property
from crm_core.access import Forbidden, NotFound
from crm_core.inquiry_updates import InquiryUpdate, update_inquiry
from crm_core.models import Role
from telephony.card import stored_call_id, transfer_targets
from web.guard import allow
from web.i18n import add_texts, translator
from web.keys import ACTOR, HUB, LOCALE, USER, sessions, viewer_zone

log = logging.getLogger("hub.web.calls")
WORKERS = (Role.AGENT, Role.DEPT_MANAGER, Role.DEPT_HEAD, Role.ADMIN)
SCRIPTS = ["/static/telephony/card.js"]

CARD_TEXTS = {
    "card.call": ("Позвонить", "Call"),
    "card.transfer": ("Перевести", "Transfer"),
    "card.transfer_to": ("Кому перевести звонок", "Transfer the call to"),
    "card.agents": ("Сотрудники", "Colleagues"),
    "card.queues": ("Очереди", "Queues"),
    "card.send": ("Перевести звонок", "Transfer the call"),
    "card.property": ("Объект", "Property"),
    "card.property_search": ("Адрес или № объекта", "Address or property number"),
    "card.find": ("Найти", "Find"),
    "card.link": ("Привязать", "Link"),
    "card.nothing_found": ("Объекты не найдены", "No properties found"),
    "card.next_action": ("Следующее действие", "Next action"),
    "card.next_when": ("Когда", "When"),
    "card.save": ("Сохранить", "Save"),
    "card.script": ("Скрипт разговора", "Call script"),
    "card.open_inquiry": ("Открытое обращение", "Open inquiry"),
    "card.no_next_action": ("не назначено", "not set"),
    "card.failed": ("Не получилось, попробуйте ещё раз", "That did not work, try again"),
    "card.status.available": ("доступен", "available"),
    "card.status.on_call": ("на звонке", "on a call"),
    "card.status.wrap_up": ("пост-обработка", "wrap-up"),
    "card.status.break": ("перерыв", "on a break"),
    "card.status.offline": ("не в сети", "offline"),
}
add_texts({
    **CARD_TEXTS,
    "card.linked": ("Объект №{id} привязан к звонку: {address}", "Property #{id} is linked to the call: {address}"),
    "card.linked_after": ("Объект №{id} будет привязан к звонку, когда он завершится: {address}",
                          "Property #{id} will be linked to the call when it ends: {address}"),
    "card.already_linked": ("Объект №{id} уже привязан к этому звонку", "Property #{id} is already linked"),
    "card.no_property": ("Укажите номер объекта", "Give the property's number"),
    "card.no_call": ("Звонок не найден", "The call is not found"),
    "card.planned": ("Следующее действие: {action}, {when}", "Next action: {action}, {when}"),
    "card.plan_missing": ("Укажите, что сделать, и когда", "Say what to do and when"),
    "card.plan_invalid": ("Неверная дата или слишком длинный текст", "A wrong date or too long a text"),
    "card.not_yours": ("Это обращение вы не можете менять", "You cannot change this inquiry"),
})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/calls/card.json", card_setup)
    router.add_post("/calls/live/{linkedid}/property", link_property)
    router.add_post(r"/inquiries/{id:\d+}/next-action", next_action)


def _json(request: web.Request, ok: bool, key: str, status: int = 200, **extra: object) -> web.Response:
    t = translator(request.get(LOCALE, "ru"))
    fields = {k: v for k, v in extra.items() if isinstance(v, str | int)}
    return web.json_response({"ok": ok, "message": t(key, **fields), **extra}, status=status,
                             dumps=lambda o: json.dumps(o, ensure_ascii=False, default=str))


@allow(*WORKERS)
async def card_setup(request: web.Request) -> web.StreamResponse:
    """The card's words, the colleagues and queues a call can go to, and whether this agent can dial."""
    t = translator(request.get(LOCALE, "ru"))
    async with sessions(request)() as s:
        targets = await transfer_targets(s, request[ACTOR].user_id)
    service = request.app[HUB].telephony
    queues = sorted(getattr(service, "queues", {}) or {}) if service is not None else []
    return web.json_response({
        "texts": {k.removeprefix("card."): t(k) for k in CARD_TEXTS},
        "agents": [{"extension": x.extension, "name": x.name, "status": x.status} for x in targets],
        "queues": queues, "can_call": bool(_extension(request)),
    }, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def _extension(request: web.Request) -> str:
    user = request[USER]
    return (user.extension or "") if user is not None else ""


def _on_the_call(request: web.Request, linkedid: str) -> bool:
    """The same test as «create client» on the pop-up: the agent's phone rings, or they talk."""
    state, extension = getattr(request.app[HUB].telephony, "calls", None), _extension(request)
    call = state.calls.get(linkedid) if state is not None else None
    return call is not None and bool(extension) and (
        extension in call.ringing or call.answered_by == extension or call.transferred_to == extension)


@allow(*WORKERS)
async def link_property(request: web.Request) -> web.StreamResponse:
    """Link a property to the call on the card: at once if the call is stored, else when it ends."""
    linkedid = request.match_info["linkedid"][:64]
    form = await request.post()
    raw = str(form.get("property_id") or "").strip().lstrip("№#")
    if not raw.isdigit() or len(raw) > 12:
        return _json(request, False, "card.no_property", 422)
    property_id, actor = int(raw), request[ACTOR]
    async with sessions(request)() as s:
        prop = await get_property(s, actor, property_id)  # out of reach: 404
        address = prop.address
        call_id = await stored_call_id(s, linkedid)
    if call_id is not None:
        try:
            created = await link_call(sessions(request), actor, call_id, property_id)
        except NotFound:
            return _json(request, False, "card.no_call", 404)
        log.info("card: property=%s to call=%s user=%s", property_id, call_id, actor.user_id)
        key = "card.linked" if created else "card.already_linked"
        return _json(request, True, key, id=property_id, address=address, property_id=property_id)
    links = getattr(request.app[HUB].telephony, "card_links", None)
    if links is None or not _on_the_call(request, linkedid):
        return _json(request, False, "card.no_call", 404)
    added = links.add(linkedid, actor, property_id)
    log.info("card: property=%s waits for linkedid=%s user=%s", property_id, linkedid, actor.user_id)
    key = "card.linked_after" if added else "card.already_linked"
    return _json(request, True, key, id=property_id, address=address, property_id=property_id)


def _aware(value: str, zone: str) -> str:
    """The browser's datetime-local value is the agency's local time."""
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        return value  # the model reports it
    return naive.replace(tzinfo=ZoneInfo(zone)).isoformat() if naive.tzinfo is None else value


@allow(*WORKERS)
async def next_action(request: web.Request) -> web.StreamResponse:
    """The inquiry's next action (what and when), through the same change as the inquiry page's form."""
    inquiry_id = int(request.match_info["id"])
    form = await request.post()
    action = str(form.get("planned_action") or "").strip()
    when = str(form.get("planned_at") or "").strip()
    if not action or not when:
        return _json(request, False, "card.plan_missing", 422)
    zone = viewer_zone(request)
    try:
        change = InquiryUpdate.model_validate({"planned_action": action, "planned_at": _aware(when, zone)})
    except ValidationError:
        return _json(request, False, "card.plan_invalid", 422)
    try:
        await update_inquiry(sessions(request), request[ACTOR], inquiry_id, change)
    except Forbidden:
        return _json(request, False, "card.not_yours", 403)
    assert change.planned_at is not None
    local = change.planned_at.astimezone(ZoneInfo(zone))
    log.info("card: next action of inquiry=%s set by user=%s", inquiry_id, request[ACTOR].user_id)
    return _json(request, True, "card.planned", action=action, when=local.strftime("%d.%m.%Y %H:%M"),
                 planned_action=action, planned_at=local.isoformat())
