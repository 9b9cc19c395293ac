"""``/api/v1/calls``: list with filters and cursor paging, one, a recording's audio (HTTP Range), the
transcript with word timings. An agent reaches their own calls, a manager their people's
(``crm_core.access.call_scope``), as on the calls pages."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Literal

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import select

from api.operations import Conflict, Ctx, Input, Op
from api.paging import PageQuery, cut, page
from api.problems import ApiProblem, FieldError
from api.shown import Numbers, numbers
from crm_core.access import NotFound, call_scope, get_client, get_inquiry
from crm_core.models import Call, Contact, ContactKind, Recording, Role, Transcript, User
from crm_core.models.speech import SpeechWord
from crm_core.phones import try_normalize_phone

log = logging.getLogger("hub.api")
AUDIO_TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".gsm": "audio/x-gsm"}
MAX_WORDS = 20000


class RecordingOut(BaseModel):
    id: int
    duration_s: float | None
    href: str = Field(description="The audio, with HTTP Range")


class CallOut(BaseModel):
    id: int
    uniqueid: str
    linkedid: str | None
    direction: str
    caller: str | None
    callee: str | None
    did: str | None
    queue: str | None
    agent_id: int | None
    client_id: int | None
    inquiry_id: int | None
    started_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    wait_s: float | None
    talk_s: float | None
    outcome: str | None
    recordings: list[RecordingOut]


class CallPage(BaseModel):
    items: list[CallOut]
    next_cursor: str | None


class CallQuery(PageQuery):
    started_from: AwareDatetime | None = Field(default=None, description="Calls begun from this moment")
    started_to: AwareDatetime | None = Field(default=None, description="Calls begun before this moment")
    direction: Literal["inbound", "outbound", "internal"] | None = None
    outcome: str | None = Field(default=None, max_length=30)
    agent_id: int | None = Field(default=None, ge=0, le=2**31 - 1)
    client_id: int | None = Field(default=None, ge=0, le=2**31 - 1)
    inquiry_id: int | None = Field(default=None, ge=0, le=2**31 - 1)


class WordOut(BaseModel):
    word: str
    start_s: float
    end_s: float
    speaker: str
    conf: float


class TranscriptOut(BaseModel):
    recording_id: int
    status: str = Field(description="queued, running, done or failed")
    text: str
    words: list[WordOut]


class Transcripts(BaseModel):
    call_id: int
    items: list[TranscriptOut]


async def _out(s, calls: list[Call], shown: Numbers) -> list[CallOut]:  # noqa: ANN001
    recs: dict[int, list[RecordingOut]] = {}
    if calls:
        for r in (await s.execute(select(Recording).where(Recording.call_id.in_([c.id for c in calls]))
                                  .order_by(Recording.id))).scalars():
            recs.setdefault(r.call_id, []).append(RecordingOut(
                id=r.id, duration_s=r.duration_s, href=f"/api/v1/calls/{r.call_id}/recordings/{r.id}"))
    out = []
    for c in calls:
        caller, callee = shown.call_sides(c.direction, c.caller, c.callee)
        out.append(CallOut(id=c.id, uniqueid=c.uniqueid, linkedid=c.linkedid, direction=c.direction, caller=caller,
                           callee=callee, did=c.did, queue=c.queue, agent_id=c.agent_id, client_id=c.client_id,
                           inquiry_id=c.inquiry_id, started_at=c.started_at, answered_at=c.answered_at,
                           ended_at=c.ended_at, wait_s=c.wait_s, talk_s=c.talk_s, outcome=c.outcome,
                           recordings=recs.get(c.id, [])))
    return out


async def list_calls(ctx: Ctx) -> CallPage:
    q: CallQuery = ctx.query
    stmt = select(Call).where(call_scope(ctx.actor))
    for col, value in ((Call.direction, q.direction), (Call.outcome, q.outcome), (Call.agent_id, q.agent_id),
                       (Call.client_id, q.client_id), (Call.inquiry_id, q.inquiry_id)):
        if value is not None:
            stmt = stmt.where(col == value)
    if q.started_from is not None:
        stmt = stmt.where(Call.started_at >= q.started_from)
    if q.started_to is not None:
        stmt = stmt.where(Call.started_at < q.started_to)
    async with ctx.sessions() as s:
        rows, cursor = cut(list((await s.execute(page(stmt, Call.id, q))).scalars()), q)
        return CallPage(items=await _out(s, rows, numbers(ctx)), next_cursor=cursor)


async def _call(s, ctx: Ctx) -> Call:  # noqa: ANN001
    call = (await s.execute(select(Call).where(Call.id == ctx.id(), call_scope(ctx.actor)))).scalar_one_or_none()
    if call is None:
        raise NotFound("call")
    return call


async def get_call(ctx: Ctx) -> CallOut:
    async with ctx.sessions() as s:
        return (await _out(s, [await _call(s, ctx)], numbers(ctx)))[0]


async def call_recording(ctx: Ctx) -> web.StreamResponse:
    async with ctx.sessions() as s:
        call = await _call(s, ctx)
        path = (await s.execute(select(Recording.path).where(Recording.id == ctx.id("rec"),
                                                             Recording.call_id == call.id))).scalar_one_or_none()
    if path is None:
        raise NotFound("recording")
    file = _file(ctx, path)
    if file is None:
        raise NotFound("recording file")
    # FileResponse answers Range (206 with the asked bytes, 416 beyond the end): a player seeks without the whole.
    return web.FileResponse(file, headers={"Content-Type": AUDIO_TYPES.get(file.suffix.lower(),
                                                                           "application/octet-stream"),
                                           "Cache-Control": "private, no-store"})


def _file(ctx: Ctx, path: str) -> Path | None:
    """As the speech pages find it: the stored path, or its name under the recordings folder."""
    stored = Path(path)
    speech = ctx.hub.connectors.get("speech")
    bases = [getattr(speech, "recordings_dir", None), ctx.hub.settings.asterisk.recordings_dir]
    candidates = [stored] if stored.is_absolute() else []
    candidates += [Path(b) / (stored.name if stored.is_absolute() else stored) for b in bases if b]
    return next((c for c in candidates if c.is_file()), None)


async def call_transcripts(ctx: Ctx) -> Transcripts:
    async with ctx.sessions() as s:
        call = await _call(s, ctx)
        rows = (await s.execute(select(Recording.id, Transcript)
                                .join(Transcript, Transcript.recording_id == Recording.id)
                                .where(Recording.call_id == call.id).order_by(Recording.id, Transcript.id))).all()
        items = []
        for rec_id, tr in rows:
            words = (await s.execute(select(SpeechWord).where(SpeechWord.transcript_id == tr.id)
                                     .order_by(SpeechWord.position).limit(MAX_WORDS))).scalars()
            items.append(TranscriptOut(recording_id=rec_id, status=tr.status, text=tr.text, words=[
                WordOut(word=w.word, start_s=w.start_s, end_s=w.end_s, speaker=w.speaker, conf=w.conf) for w in words]))
    return Transcripts(call_id=call.id, items=items)


class Originate(Input):
    contact_id: int | None = Field(default=None, ge=1, le=2**31 - 1,
                                   description="A phone contact of the client (callers with hidden numbers dial so)")
    phone: str | None = Field(default=None, min_length=1, max_length=40,
                              description="Instead of contact_id: a phone of the client, any format")
    client_id: int | None = Field(default=None, ge=1, le=2**31 - 1, description="Default: the contact's client")
    inquiry_id: int | None = Field(default=None, ge=1, le=2**31 - 1, description="Instead of client_id")


class Originated(BaseModel):
    ok: bool
    message: str = Field(description="sent, or the PBX's reason")


def _invalid(field: str, message: str) -> ApiProblem:
    return ApiProblem(400, "the request has invalid fields", errors=[FieldError(field=field, message=message)])


async def originate(ctx: Ctx) -> Originated:
    """Click-to-call as the calls pages do: the caller's own phone rings first, then the client's number —
    named by the contact's id (the caller never needs to see it) or by the number itself."""
    body: Originate = ctx.body
    region = ctx.hub.settings.phones.default_region
    if body.contact_id is None and body.phone is None:
        raise _invalid("contact_id", "contact_id or phone is required")
    phone = try_normalize_phone(body.phone, region) if body.contact_id is None and body.phone else None
    if body.contact_id is None and phone is None:
        raise _invalid("phone", "not a phone number")
    client_id = body.client_id
    async with ctx.sessions() as s:
        if body.inquiry_id is not None:
            client_id = (await get_inquiry(s, ctx.actor, body.inquiry_id)).client_id
        if body.contact_id is not None:
            contact = (await s.execute(select(Contact.client_id, Contact.value).where(
                Contact.id == body.contact_id, Contact.kind == ContactKind.PHONE))).first()
            if contact is None or (client_id is not None and contact.client_id != client_id):
                raise NotFound("contact")
            client_id, phone = contact.client_id, contact.value
        if client_id is None:
            raise _invalid("client_id", "required with phone and without inquiry_id")
        await get_client(s, ctx.actor, client_id)  # out of reach: 404, whichever way the client was named
        owned = (await s.execute(select(Contact.id).where(Contact.client_id == client_id, Contact.value == phone,
                                                          Contact.kind == ContactKind.PHONE))).first()
        extension = (await s.execute(select(User.extension).where(User.id == ctx.principal.user_id))).scalar()
    if owned is None or phone is None:
        raise NotFound("contact")
    if ctx.hub.telephony is None:
        raise ApiProblem(503, "no PBX is connected")
    if not extension:
        raise Conflict("the caller has no extension to ring first")
    result = await ctx.hub.telephony.originate(extension, phone, inquiry_id=body.inquiry_id, client_id=client_id,
                                               region=region)
    log.info("api click-to-call user=%s inquiry=%s client=%s contact=%s ok=%s", ctx.principal.user_id,
             body.inquiry_id, client_id, body.contact_id, result.ok)
    if not result.ok:
        raise ApiProblem(502, f"the PBX did not place the call: {result.message}")
    return Originated(ok=True, message=result.message)


class Transfer(Input):
    extension: str | None = Field(default=None, pattern=r"^[0-9]{1,10}$", description="Another agent's extension")
    queue: str | None = Field(default=None, min_length=1, max_length=80, description="Instead: a queue of the PBX")


async def transfer(ctx: Ctx) -> Originated:
    """Blind transfer of the caller's current call, as the pop-up's button (telephony's ``transfer``)."""
    body: Transfer = ctx.body
    if (body.extension is None) == (body.queue is None):
        raise _invalid("extension", "give either extension or queue")
    service = ctx.hub.telephony
    if service is not None and body.queue is not None and body.queue not in service.queues:
        raise _invalid("queue", "no such queue")
    async with ctx.sessions() as s:
        extension = (await s.execute(select(User.extension).where(User.id == ctx.principal.user_id))).scalar()
    call = service.call_of_agent(extension) if service is not None and extension else None
    if service is None or call is None:  # without a PBX no call is going on
        raise Conflict("the caller has no call going on" + ("" if service is not None else ": no PBX is connected"))
    target = body.extension or body.queue or ""
    result = await service.transfer(call.linkedid, target)
    log.info("api transfer user=%s linkedid=%s ok=%s", ctx.principal.user_id, call.linkedid, result.ok)
    if not result.ok:
        raise ApiProblem(502, f"the PBX did not transfer the call: {result.message}")
    return Originated(ok=True, message=result.message)


P = "/api/v1/calls"
CALLERS = frozenset({Role.AGENT, Role.DEPT_MANAGER, Role.DEPT_HEAD, Role.ADMIN})
OPS = [
    Op("GET", P, "Calls in reach, newest first, with filters", "calls", list_calls, query=CallQuery,
       response=CallPage),
    Op("GET", P + "/{id}", "One call with its recordings", "calls", get_call, response=CallOut),
    Op("GET", P + "/{id}/recordings/{rec}", "A recording's audio (Range requests answered with 206)", "calls",
       call_recording, binary="audio/*", errors=(416,)),
    Op("GET", P + "/{id}/transcript", "The call's transcripts with each word's time and speaker", "calls",
       call_transcripts, response=Transcripts),
    Op("POST", P + "/originate", "Click-to-call: ring the caller's phone, then the client's number", "calls",
       originate, write=True, body=Originate, response=Originated, errors=(409, 502, 503),
       roles=CALLERS, description="Name the number by contact_id (a client's phone contact, as GET "
       "/api/v1/clients/{id}/contacts lists it): callers who see numbers masked dial so."),
    Op("POST", P + "/transfer", "Blind transfer of the caller's current call to an extension or a queue", "calls",
       transfer, write=True, body=Transfer, response=Originated, errors=(409, 502), roles=CALLERS),
]
