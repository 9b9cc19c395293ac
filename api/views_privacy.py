"""``/api/v1/clients/{id}/consents``: a client's consents (152-ФЗ) — to processing, call recording, marketing —
read and recorded through ``privacy.queries`` (the latest word per purpose wins; a recording that changes
nothing stores nothing). The same reach as the client card's personal-data page."""

from __future__ import annotations

import logging
from datetime import datetime

from pydantic import BaseModel, Field

from api.operations import Ctx, Input, Op
from crm_core.access import get_client
from privacy import queries
from privacy.consent import PURPOSES

log = logging.getLogger("hub.api")


class ConsentOut(BaseModel):
    purpose: str = Field(description="processing, recording or marketing")
    granted: bool = Field(description="False: withdrawn")
    source: str = Field(description="webform, bot, agent, import or api")
    source_ref: str | None
    at: datetime


class ConsentRecord(ConsentOut):
    actor_id: int | None
    note: str | None


class Consents(BaseModel):
    client_id: int
    current: list[ConsentOut] = Field(description="The latest word per purpose; a purpose not listed: not recorded")
    history: list[ConsentRecord] = Field(description="Every grant and withdrawal, newest first")


class ConsentsIn(Input):
    processing: bool | None = Field(default=None, description="True: given, False: withdrawn, absent: unchanged")
    recording: bool | None = None
    marketing: bool | None = None
    source_ref: str | None = Field(default=None, min_length=1, max_length=300,
                                   description="Where it was given (the site's form, the document); default: the token")
    note: str | None = Field(default=None, max_length=500)


class Recorded(Consents):
    recorded: int = Field(description="How many purposes changed (what repeats the current state is not stored)")


async def _consents(s, client_id: int) -> Consents:  # noqa: ANN001
    state = await queries.consents_of(s, client_id)
    history = await queries.consent_history(s, client_id)
    return Consents(
        client_id=client_id,
        current=[ConsentOut(purpose=p, granted=c.granted, source=c.source, source_ref=c.source_ref, at=c.at)
                 for p in PURPOSES if (c := state.get(p)) is not None],
        history=[ConsentRecord(purpose=r.purpose, granted=r.granted, source=r.source, source_ref=r.source_ref,
                               at=r.at, actor_id=r.actor_id, note=r.note) for r in history])


async def client_consents(ctx: Ctx) -> Consents:
    async with ctx.sessions() as s:
        await get_client(s, ctx.actor, ctx.id())  # out of reach: 404
        return await _consents(s, ctx.id())


async def record_client_consents(ctx: Ctx) -> Recorded:
    body: ConsentsIn = ctx.body
    given = {p: v for p in PURPOSES if (v := getattr(body, p)) is not None}
    p = ctx.principal
    ref = body.source_ref or (f"token:{p.token_id}" if p.token_id is not None else f"user:{p.user_id}")
    async with ctx.sessions() as s, s.begin():
        await get_client(s, ctx.actor, ctx.id())
        n = await queries.record_consents(s, ctx.id(), given, source="api", source_ref=ref, actor_id=p.user_id,
                                          note=body.note)
    log.info("consents of client %s recorded through the API user=%s token=%s changes=%d", ctx.id(), p.user_id,
             p.token_id, n)
    async with ctx.sessions() as s:
        return Recorded(**(await _consents(s, ctx.id())).model_dump(), recorded=n)


P = "/api/v1/clients/{id}/consents"
OPS = [
    Op("GET", P, "A client's consents (processing, call recording, marketing) and their history", "clients",
       client_consents, response=Consents),
    Op("POST", P, "Record a client's consents or their withdrawal (source: api)", "clients",
       record_client_consents, write=True, body=ConsentsIn, response=Recorded,
       description="Only what changes the current state is stored. Marketing messages (greetings) go only to "
                   "clients whose latest word on marketing is a grant."),
]
