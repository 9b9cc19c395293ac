"""Calls in the workspace: the call log, callbacks to make, click-to-call and blind transfer."""

from __future__ import annotations

import json
import logging

from aiohttp import web
from sqlalchemy import select

from crm_core.access import NotFound, get_client, get_inquiry
from crm_core.caller_card import create_caller
from crm_core.models import Contact, ContactKind, Role
from crm_core.phones import try_normalize_phone
from telephony.queries import get_callback, open_callbacks, recent_calls
from telephony.recordings import recorded_call_ids
from web.features import NavItem
from web.guard import allow
from web.i18n import add_texts
from web.keys import ACTOR, HUB, LOCALE, USER, sessions
from web.render import render

log = logging.getLogger("hub.web.calls")

NAV = [NavItem("/calls", "nav.calls", order=30, group="calls")]

add_texts({
    "nav.calls": ("Звонки", "Calls"),
    "calls.title": ("Звонки", "Calls"),
    "calls.callbacks": ("Перезвонить", "Call back"),
    "calls.no_callbacks": ("Перезванивать некому", "No callbacks"),
    "calls.recent": ("Последние звонки", "Recent calls"),
    "calls.none": ("Звонков нет", "No calls"),
    "calls.call": ("Позвонить", "Call"),
    "calls.transfer": ("Перевести", "Transfer"),
    "calls.col.when": ("Когда", "When"),
    "calls.col.direction": ("Направление", "Direction"),
    "calls.col.number": ("Номер", "Number"),
    "calls.col.agent": ("Агент", "Agent"),
    "calls.col.outcome": ("Итог", "Outcome"),
    "calls.col.wait": ("Ожидание, с", "Wait, s"),
    "calls.col.talk": ("Разговор, с", "Talk, s"),
    "calls.col.due": ("Срок", "Due"),
    "calls.col.attempts": ("Попыток", "Attempts"),
    "calls.col.note": ("Причина", "Reason"),
    "calls.col.recording": ("Запись", "Recording"),
    "calls.listen": ("Слушать", "Listen"),
    "calls.search": ("Поиск по расшифровкам", "Search the transcripts"),
    "calls.search_words": ("Слова из разговора", "Words from the conversation"),
    "calls.search_go": ("Найти", "Search"),
    "calls.dir.inbound": ("входящий", "inbound"),
    "calls.dir.outbound": ("исходящий", "outbound"),
    "calls.dir.internal": ("внутренний", "internal"),
    "calls.outcome.answered": ("принят", "answered"),
    "calls.outcome.abandoned": ("не дождался", "abandoned"),
    "calls.outcome.no_answer": ("без ответа", "no answer"),
    "calls.outcome.failed": ("не состоялся", "failed"),
    "calls.outcome.transferred": ("переведён", "transferred"),
    "calls.outcome.lost_track": ("связь с АТС терялась", "PBX link lost"),
    "calls.cut.pbx_restart": ("прерван перезапуском АТС", "cut by a PBX restart"),
    "calls.cut.pbx_down": ("прерван: АТС остановилась", "cut: the PBX went down"),
    "calls.cut.link_lost": ("связь с АТС прерывалась", "the PBX link dropped"),
    "calls.result.queued": ("Звоним: сначала зазвонит ваш телефон", "Calling: your phone rings first"),
    "calls.result.sent": ("Звонок переведён", "Call transferred"),
    "calls.result.no_pbx": ("АТС не подключена", "No PBX connected"),
    "calls.result.no_extension": ("У вас нет внутреннего номера", "You have no extension"),
    "calls.result.invalid_number": ("Неверный номер", "Invalid number"),
    "calls.result.no_such_call": ("Звонок уже завершён", "The call has ended"),
    "calls.result.failed": ("АТС отказала: {reason}", "The PBX refused: {reason}"),
})

RESULT_KEYS = {"queued", "sent", "no_pbx", "no_extension", "invalid_number", "no_such_call"}


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/calls", calls_page)
    router.add_post("/calls/originate", originate)
    router.add_post("/calls/transfer", transfer)
    router.add_post("/callbacks/{id}/call", call_back)
    router.add_post("/calls/{linkedid}/client", create_client_from_call)


@allow()
async def calls_page(request: web.Request) -> web.StreamResponse:
    actor = request[ACTOR]
    async with sessions(request)() as s:
        calls = await recent_calls(s, actor)
        callbacks = await open_callbacks(s, actor)
        recorded = await recorded_call_ids(s, (c.id for c in calls))
    return render(request, "telephony_calls.html", {"calls": calls, "callbacks": callbacks, "recorded": recorded,
                                                    "has_extension": bool(request[USER].extension)})


def _answer(request: web.Request, ok: bool, result: str, reason: str = "", status: int = 200) -> web.Response:
    from web.i18n import translator

    t = translator(request.get(LOCALE, "ru"))
    text = t(f"calls.result.{result}") if result in RESULT_KEYS else t("calls.result.failed", reason=reason or result)
    return web.json_response({"ok": ok, "result": result, "message": text}, status=status,
                             dumps=lambda o: json.dumps(o, ensure_ascii=False))


def _service(request: web.Request):  # noqa: ANN202
    return request.app[HUB].telephony


async def _int_field(form, name: str) -> int | None:  # noqa: ANN001
    value = str(form.get(name) or "").strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > 12:
        raise web.HTTPBadRequest(text=f"{name} must be a number")
    return int(value)


@allow(Role.AGENT, Role.DEPT_MANAGER, Role.DEPT_HEAD, Role.ADMIN)
async def originate(request: web.Request) -> web.StreamResponse:
    """Click-to-call a number of a client (or an inquiry's client) the agent may see."""
    form = await request.post()
    client_id, inquiry_id = await _int_field(form, "client_id"), await _int_field(form, "inquiry_id")
    contact_id = await _int_field(form, "contact_id")  # pages with hidden numbers dial the contact, not a number
    raw = str(form.get("phone") or "")[:40]
    region = request.app[HUB].settings.phones.default_region
    phone = try_normalize_phone(raw, region) if contact_id is None else None
    if phone is None and contact_id is None:
        return _answer(request, False, "invalid_number", status=422)
    async with sessions(request)() as s:
        if inquiry_id is not None:
            client_id = (await get_inquiry(s, request[ACTOR], inquiry_id)).client_id
        if client_id is None:
            raise web.HTTPBadRequest(text="client_id or inquiry_id is required")
        await get_client(s, request[ACTOR], client_id)
        if contact_id is not None:
            phone = (await s.execute(select(Contact.value).where(
                Contact.id == contact_id, Contact.client_id == client_id, Contact.kind == ContactKind.PHONE))).scalar()
            if phone is None:
                raise NotFound("contact")
        owned = (await s.execute(select(Contact.id).where(
            Contact.client_id == client_id, Contact.kind == ContactKind.PHONE, Contact.value == phone))).first()
        if owned is None:
            raise NotFound("contact")
    return await _dial(request, phone or "", inquiry_id=inquiry_id, client_id=client_id)


@allow(Role.AGENT, Role.DEPT_MANAGER, Role.DEPT_HEAD, Role.ADMIN)
async def call_back(request: web.Request) -> web.StreamResponse:
    task_id = int(request.match_info["id"]) if request.match_info["id"].isdigit() else -1
    async with sessions(request)() as s:
        task = await get_callback(s, request[ACTOR], task_id)
        phone, inquiry_id, client_id = task.phone or "", task.inquiry_id, task.client_id
    return await _dial(request, phone, inquiry_id=inquiry_id, task_id=task_id, client_id=client_id)


async def _dial(request: web.Request, phone: str, *, inquiry_id: int | None, task_id: int | None = None,
                client_id: int | None = None) -> web.StreamResponse:
    service, user = _service(request), request[USER]
    if service is None:
        return _answer(request, False, "no_pbx", status=503)
    if not user.extension:
        return _answer(request, False, "no_extension", status=409)
    result = await service.originate(user.extension, phone, inquiry_id=inquiry_id, task_id=task_id,
                                     client_id=client_id, region=request.app[HUB].settings.phones.default_region)
    log.info("click-to-call user=%s ext=%s inquiry=%s task=%s ok=%s", user.id, user.extension, inquiry_id,
             task_id, result.ok)
    return _answer(request, result.ok, result.message, reason=result.message, status=200 if result.ok else 502)


@allow(Role.AGENT, Role.DEPT_MANAGER, Role.DEPT_HEAD, Role.ADMIN)
async def transfer(request: web.Request) -> web.StreamResponse:
    """Blind transfer of the agent's current call to another extension, or to a queue the PBX reported
    (the transfer context's extension of that name: ``exten => sales,1,Queue(sales)``, docs/asterisk.md)."""
    form = await request.post()
    target = str(form.get("extension") or "").strip()
    queue = str(form.get("queue") or "").strip()[:80]
    service, user = _service(request), request[USER]
    if queue and not target:
        if service is not None and queue not in service.queues:
            raise web.HTTPBadRequest(text="no such queue")
        target = queue
    elif not target.isdigit() or len(target) > 10:
        raise web.HTTPBadRequest(text="extension must be digits")
    if service is None:
        return _answer(request, False, "no_pbx", status=503)
    call = service.call_of_agent(user.extension or "")
    if call is None:
        return _answer(request, False, "no_such_call", status=409)
    result = await service.transfer(call.linkedid, target)
    log.info("transfer user=%s linkedid=%s to=%s ok=%s", user.id, call.linkedid, target, result.ok)
    return _answer(request, result.ok, result.message, reason=result.message, status=200 if result.ok else 502)


@allow(Role.AGENT, Role.DEPT_MANAGER, Role.DEPT_HEAD, Role.ADMIN)
async def create_client_from_call(request: web.Request) -> web.StreamResponse:
    """«Создать клиента» on a new number's pop-up: only the agent whose phone rings or who talks."""
    service, user = _service(request), request[USER]
    call = service.calls.calls.get(request.match_info["linkedid"]) if service is not None else None
    extension = user.extension or ""
    if call is None or not extension or (extension not in call.ringing and call.answered_by != extension
                                         and call.transferred_to != extension):
        raise NotFound("call")
    region = request.app[HUB].settings.phones.default_region
    phone = try_normalize_phone(call.caller or "", region)
    if phone is None:
        return _answer(request, False, "invalid_number", status=422)
    hub = request.app[HUB]
    result = await create_caller(hub.database.sessions, hub.intake, linkedid=call.linkedid, phone=phone,
                                 name=call.caller_name, did=call.did, agent_id=user.id)
    log.info("client from call linkedid=%s client=%s inquiry=%s user=%s", call.linkedid, result.client_id,
             result.inquiry_id, user.id)
    raise web.HTTPSeeOther(f"/clients/{result.client_id}")
