"""Recordings and transcripts in place: the calls of an inquiry (with the transcript's words, each of which
plays the recording from its moment) and of a client's timeline, as JSON for ``telephony/static/recordings.js``
(the inquiry page and the client card draw them where they are). The audio is served with HTTP Range by
``/calls/{id}/recordings/{rec}`` (speech pages); a record out of reach answers 404.
"""

from __future__ import annotations

import json

from aiohttp import web
from sqlalchemy import select

from crm_core.access import get_client, get_inquiry
from crm_core.models import Contact, ContactKind
from privacy.masking import mask_phone
from privacy.wiring import mask_policy
from telephony.recordings import calls_with_audio
from web.guard import allow
from web.i18n import add_texts, translator
from web.keys import ACTOR, HUB, LOCALE, USER, sessions, viewer_zone

SCRIPTS = ["/static/telephony/recordings.js"]

BLOCK_TEXTS = {
    "rec.title": ("Звонки и записи", "Calls and recordings"),
    "rec.none": ("Записанных звонков нет", "No recorded calls"),
    "rec.no_recording": ("без записи", "not recorded"),
    "rec.open_call": ("Открыть звонок", "Open the call"),
    "rec.recording": ("Запись разговора", "Recording"),
    "rec.click_word": ("Нажмите на слово, чтобы прослушать с этого места", "Click a word to play from there"),
    "rec.call": ("Позвонить", "Call"),
    "rec.phones": ("Телефоны клиента", "The client's phones"),
    "rec.agent": ("Агент", "Agent"),
    "rec.client": ("Клиент", "Client"),
    "rec.speaker": ("Запись", "Recording"),
}
add_texts(BLOCK_TEXTS)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(r"/inquiries/{id:\d+}/calls.json", inquiry_calls)
    router.add_get(r"/clients/{id:\d+}/calls.json", client_calls)


def _texts(request: web.Request) -> dict[str, str]:
    t = translator(request.get(LOCALE, "ru"))
    texts = {k.removeprefix("rec."): t(k) for k in BLOCK_TEXTS}
    for status in ("queued", "running", "done", "failed"):
        texts[f"status.{status}"] = t(f"speech.status.{status}")
    for outcome in ("answered", "abandoned", "no_answer", "failed", "transferred", "lost_track"):
        texts[f"outcome.{outcome}"] = t(f"calls.outcome.{outcome}")
    return texts


def _zone(request: web.Request) -> str:
    return viewer_zone(request)


def _dumps(o: object) -> str:
    return json.dumps(o, ensure_ascii=False)


@allow()
async def inquiry_calls(request: web.Request) -> web.StreamResponse:
    inquiry_id = int(request.match_info["id"])
    async with sessions(request)() as s:
        inquiry = await get_inquiry(s, request[ACTOR], inquiry_id)  # out of reach: 404
        calls = await calls_with_audio(s, request[ACTOR], inquiry_id=inquiry.id, words=True)
        rows = (await s.execute(select(Contact.id, Contact.value).where(
            Contact.client_id == inquiry.client_id, Contact.kind == ContactKind.PHONE).order_by(Contact.id))).all()
    phones, hidden = [r.value for r in rows], {}
    user = request[USER]
    if user is not None and mask_policy(request.app[HUB]).masks(user.role, user.department_id):
        phones, hidden = [mask_phone(p) for p in phones], {"contacts": [r.id for r in rows]}  # dialled by contact
    return web.json_response({"inquiry_id": inquiry_id, "texts": _texts(request), "phones": phones, **hidden,
                              "can_call": bool(getattr(request[USER], "extension", None)),
                              "calls": [c.as_json(_zone(request)) for c in calls]}, dumps=_dumps)


@allow()
async def client_calls(request: web.Request) -> web.StreamResponse:
    client_id = int(request.match_info["id"])
    async with sessions(request)() as s:
        await get_client(s, request[ACTOR], client_id)  # out of reach: 404
        calls = await calls_with_audio(s, request[ACTOR], client_id=client_id)
    return web.json_response({"client_id": client_id, "texts": _texts(request),
                              "calls": [c.as_json(_zone(request)) for c in calls]}, dumps=_dumps)
