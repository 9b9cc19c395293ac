"""The agent workspace: inbox, inquiry page, client card, language switch."""

from __future__ import annotations

import logging
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import select

from channels.outbox import queue_reply, reply_channels
from channels.sms.service import opted_out
from crm_core import inbox as inbox_query
from crm_core import queries
from crm_core.access import Forbidden, NotFound, can_claim, can_write_client, check_inquiry_write
from crm_core.client_updates import ClientUpdate, ContactTaken, update_client
from crm_core.inquiries import AlreadyTaken, claim_inquiry
from crm_core.inquiry_updates import InquiryUpdate, update_inquiry
from crm_core.models import Channel, User, utcnow
from web import labels
from web.guard import allow
from web.i18n import LOCALES, one_language, translator
from web.keys import ACTOR, HUB, LOCALE, USER, sessions, viewer_zone
from web.render import render

log = logging.getLogger("hub.web")


def _int_param(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise web.HTTPNotFound() from None


@allow()
async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/inbox")


@allow()
async def inbox(request: web.Request) -> web.StreamResponse:
    actor = request[ACTOR]
    wanted = inbox_query.InboxFilter.from_query(actor, dict(request.query))
    async with sessions(request)() as s:
        page = await inbox_query.inbox_page(s, actor, wanted, now=utcnow(),
                                            zone=viewer_zone(request))
        sources, departments = await inbox_query.filter_choices(s, actor)
    return render(request, "inbox.html", {
        "page": page, "f": page.filter, "rows": page.rows, "box": page.filter.box,
        "boxes": inbox_query.boxes_for(actor), "sources": sources, "departments": departments,
        "channels": [c.value for c in Channel], "statuses": inbox_query.STATUS_FILTERS, "sorts": inbox_query.SORTS,
        "link": lambda **change: "/inbox?" + urlencode(page.filter.params(**change)),
        "notice": request.query.get("notice")})


@allow()
async def inquiry_page(request: web.Request) -> web.StreamResponse:
    inquiry_id = _int_param(request, "id")
    actor = request[ACTOR]
    async with sessions(request)() as s:
        view = await queries.inquiry_view(s, actor, inquiry_id)
        author_ids = {e.actor_id for e in view.history if e.actor_id} | {m.author_id for m in view.messages
                                                                         if m.author_id}
        names = dict((await s.execute(select(User.id, User.full_name).where(User.id.in_(author_ids)))).all())
        channels = await reply_channels(s, view.client.id)
    try:
        check_inquiry_write(actor, view.inquiry)
        can_write = True
    except Forbidden:
        can_write = False
    return render(request, "inquiry.html", {
        "v": view, "can_claim": can_claim(actor, view.inquiry), "can_write": can_write, "names": names,
        "notice": request.query.get("notice"), "errors": {}, "channels": channels,
        "channels_off": channels_off(request),
    })


def channels_off(request: web.Request) -> set[str]:
    """The reply channels switched off in the settings: a reply on one is refused, never left queued."""
    settings = request.app[HUB].settings
    return {c for c, on in ((Channel.EMAIL.value, settings.email.enabled),
                            (Channel.TELEGRAM.value, settings.telegram.enabled),
                            (Channel.VK.value, settings.vk.enabled),
                            (Channel.WHATSAPP.value, settings.whatsapp.enabled)) if not on}


@allow()
async def claim(request: web.Request) -> web.StreamResponse:
    inquiry_id = _int_param(request, "id")
    hub = request.app[HUB]
    try:
        await claim_inquiry(hub.database.sessions, hub.bus, request[ACTOR], inquiry_id)
        notice = "claimed"
    except AlreadyTaken:
        notice = "already_taken"
    except NotFound:
        # Someone took it from the pool a moment ago, so it is out of this agent's sight now.
        raise web.HTTPSeeOther("/inbox?notice=already_taken") from None
    raise web.HTTPSeeOther(f"/inquiries/{inquiry_id}?notice={notice}")


@allow()
async def inquiry_update(request: web.Request) -> web.StreamResponse:
    inquiry_id = _int_param(request, "id")
    form = {k: str(v) for k, v in (await request.post()).items() if k != "_csrf"}
    if form.get("planned_at"):
        form["planned_at"] = _local_to_aware(form["planned_at"], viewer_zone(request))
    try:
        change = InquiryUpdate.model_validate(form)
    except ValidationError as exc:
        async with sessions(request)() as s:
            view = await queries.inquiry_view(s, request[ACTOR], inquiry_id)
        errors = labels.field_errors(exc, request[LOCALE])
        return render(request, "inquiry.html", {"v": view, "can_claim": False, "can_write": True, "names": {},
                                                "notice": None, "errors": errors}, status=422)
    await update_inquiry(sessions(request), request[ACTOR], inquiry_id, change, bus=request.app[HUB].bus)
    raise web.HTTPSeeOther(f"/inquiries/{inquiry_id}?notice=saved")


def _local_to_aware(value: str, zone: str) -> str:
    """The browser's datetime-local field has no zone: it is the agency's local time."""
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        return value  # pydantic reports it
    return naive.replace(tzinfo=ZoneInfo(zone)).isoformat() if naive.tzinfo is None else value


@allow()
async def inquiry_reply(request: web.Request) -> web.StreamResponse:
    inquiry_id = _int_param(request, "id")
    hub = request.app[HUB]
    form = await request.post()
    text = str(form.get("text", ""))
    channel = str(form.get("channel", "email"))
    domain = hub.settings.email.from_address.partition("@")[2] or "localhost"
    t = translator(request[LOCALE])
    try:
        if channel in channels_off(request):
            raise ValueError(t("reply.channel_off", channel=t(f"channel.{channel}")))
        await queue_reply(sessions(request), request[ACTOR], inquiry_id, text, channel=channel, domain=domain)
    except ValueError as exc:  # the channel is off, empty, too long, or no email to answer to
        async with sessions(request)() as s:
            view = await queries.inquiry_view(s, request[ACTOR], inquiry_id)
            check_inquiry_write(request[ACTOR], view.inquiry)
            channels = await reply_channels(s, view.client.id)
        log.info("reply refused inquiry=%s channel=%s user=%s", inquiry_id, channel, request[ACTOR].user_id)
        return render(request, "inquiry.html", {
            "v": view, "can_claim": False, "can_write": True, "names": {}, "notice": None, "reply_text": text,
            "errors": {"text": one_language(str(exc), request[LOCALE])}, "channels": channels,
            "channels_off": channels_off(request)}, status=422)
    hub.outbox_wakeup.set()
    raise web.HTTPSeeOther(f"/inquiries/{inquiry_id}?notice=reply_queued")


@allow()
async def clients_page(request: web.Request) -> web.StreamResponse:
    q = request.query.get("q", "")[:200]
    async with sessions(request)() as s:
        found = await queries.search_clients(s, request[ACTOR], q)
    return render(request, "clients.html", {"clients": found, "q": q})


@allow()
async def client_page(request: web.Request) -> web.StreamResponse:
    client_id = _int_param(request, "id")
    async with sessions(request)() as s:
        view = await queries.client_view(s, request[ACTOR], client_id)
        sms_out = await opted_out(s, client_id)
    return render(request, "client.html", {"v": view, "can_write": can_write_client(request[ACTOR], view.client),
                                           "errors": {}, "form": {}, "notice": request.query.get("notice"),
                                           "sms_opted_out": sms_out})


@allow()
async def client_update(request: web.Request) -> web.StreamResponse:
    client_id = _int_param(request, "id")
    form = {k: str(v) for k, v in (await request.post()).items() if k != "_csrf"}
    errors: dict[str, str] = {}
    try:
        change = ClientUpdate.model_validate({**form, "region": request.app[HUB].settings.phones.default_region})
        await update_client(sessions(request), request[ACTOR], client_id, change, bus=request.app[HUB].bus)
    except ValidationError as exc:
        errors = labels.field_errors(exc, request[LOCALE])
    except ValueError as exc:  # a bad phone, or a contact of another client
        field = exc.field if isinstance(exc, ContactTaken) else "add_phone"
        errors = {field: labels.message("уже у другого клиента / belongs to another client"
                                        if isinstance(exc, ContactTaken) else str(exc), request[LOCALE])}
    if not errors:
        raise web.HTTPSeeOther(f"/clients/{client_id}?notice=saved")
    async with sessions(request)() as s:
        view = await queries.client_view(s, request[ACTOR], client_id)
        sms_out = await opted_out(s, client_id)
    return render(request, "client.html", {"v": view, "can_write": True, "errors": errors, "form": form,
                                           "notice": None, "sms_opted_out": sms_out}, status=422)


@allow()
async def set_language(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    locale = str(form.get("locale", "ru"))
    if locale not in LOCALES:
        raise web.HTTPBadRequest(text="unknown language")
    async with sessions(request)() as s, s.begin():
        user = await s.get(User, request[USER].id)
        assert user is not None
        user.locale = locale
    back = str(form.get("next", "/inbox"))
    raise web.HTTPSeeOther(back if back.startswith("/") and not back.startswith("//") else "/inbox")
