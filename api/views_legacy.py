"""The first API's five reads (``/api/me``, ``/api/inquiries``, …), kept where integrations found them, with
their old answers' shapes. They now go through the same operations as ``/api/v1`` (tokens, scopes, problem
details) and are marked deprecated in the document: new integrations use ``/api/v1``."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, RootModel

from api.operations import Ctx, Op, Query
from api.shown import numbers
from crm_core import queries
from crm_core.models import ContactKind, User


class Me(BaseModel):
    id: int
    login: str
    full_name: str
    role: str
    department_id: int | None
    locale: str


class InquiryItem(BaseModel):
    id: int
    client_id: int
    client_name: str
    channel: str
    subject: str | None
    source: str | None
    status: str
    pool: str
    owner_id: int | None
    owner_name: str | None
    created_at: datetime
    planned_at: datetime | None


class InquiryItems(RootModel[list[InquiryItem]]):
    pass


class MessageItem(BaseModel):
    id: int
    direction: str
    channel: str
    subject: str | None
    body: str
    created_at: datetime


class InquiryDetail(InquiryItem):
    did: str | None
    utm: dict
    refusals: int
    messages: list[MessageItem]


class ContactItem(BaseModel):
    kind: str
    value: str


class ClientItem(BaseModel):
    id: int
    kind: str
    name: str
    company_name: str | None
    owner_id: int | None


class ClientItems(RootModel[list[ClientItem]]):
    pass


class TimelineItem(BaseModel):
    at: datetime
    kind: str
    channel: str | None
    inquiry_id: int | None
    summary: str


class ClientDetail(ClientItem):
    contacts: list[ContactItem]
    timeline: list[TimelineItem]


class BoxQuery(Query):
    box: Literal["mine", "department", "common", "all"] = "mine"


class SearchQuery(Query):
    q: str = Field(default="", max_length=200)


async def legacy_me(ctx: Ctx) -> Me:
    async with ctx.sessions() as s:
        user = await s.get(User, ctx.principal.user_id)
    assert user is not None
    return Me(id=user.id, login=user.login, full_name=user.full_name, role=str(user.role),
              department_id=user.department_id, locale=user.locale)


async def legacy_inquiries(ctx: Ctx) -> InquiryItems:
    async with ctx.sessions() as s:
        rows = await queries.inbox(s, ctx.actor, ctx.query.box)
    return InquiryItems([InquiryItem(**asdict(r)) for r in rows])


async def legacy_inquiry(ctx: Ctx) -> InquiryDetail:
    async with ctx.sessions() as s:
        v = await queries.inquiry_view(s, ctx.actor, ctx.id())
    i = v.inquiry
    return InquiryDetail(
        id=i.id, client_id=i.client_id, client_name=v.client.name, channel=i.channel, subject=i.subject,
        source=i.source, status=i.status, pool=i.pool, owner_id=i.owner_id,
        owner_name=v.owner.full_name if v.owner else None, created_at=i.created_at, planned_at=i.planned_at,
        did=i.did, utm=i.utm, refusals=i.refusals,
        messages=[MessageItem(id=m.id, direction=m.direction, channel=m.channel, subject=m.subject, body=m.body,
                              created_at=m.created_at) for m in v.messages])


async def legacy_clients(ctx: Ctx) -> ClientItems:
    async with ctx.sessions() as s:
        found = await queries.search_clients(s, ctx.actor, ctx.query.q)
    return ClientItems([ClientItem(id=c.id, kind=c.kind, name=c.name, company_name=c.company_name,
                                   owner_id=c.owner_id) for c in found])


async def legacy_client(ctx: Ctx) -> ClientDetail:
    async with ctx.sessions() as s:
        v = await queries.client_view(s, ctx.actor, ctx.id())
    c, shown = v.client, numbers(ctx)
    return ClientDetail(
        id=c.id, kind=c.kind, name=c.name, company_name=c.company_name, owner_id=c.owner_id,
        contacts=[ContactItem(kind=ContactKind(x.kind), value=shown.contact(x.kind, x.value)) for x in v.contacts],
        timeline=[TimelineItem(at=e.at, kind=e.kind, channel=e.channel, inquiry_id=e.inquiry_id, summary=e.summary)
                  for e in v.timeline])


OPS = [
    Op("GET", "/api/me", "The logged-in user (use /api/v1/me)", "users", legacy_me, response=Me, deprecated=True,
       tag="legacy"),
    Op("GET", "/api/inquiries", "Inquiries of a box (use /api/v1/inquiries)", "inquiries", legacy_inquiries,
       query=BoxQuery, response=InquiryItems, deprecated=True, tag="legacy"),
    Op("GET", "/api/inquiries/{id}", "One inquiry with its messages (use /api/v1/inquiries/{id})", "inquiries",
       legacy_inquiry, response=InquiryDetail, deprecated=True, tag="legacy"),
    Op("GET", "/api/clients", "Clients found by name, phone or email (use /api/v1/clients)", "clients",
       legacy_clients, query=SearchQuery, response=ClientItems, deprecated=True, tag="legacy"),
    Op("GET", "/api/clients/{id}", "One client with contacts and timeline (use /api/v1/clients/{id})", "clients",
       legacy_client, response=ClientDetail, deprecated=True, tag="legacy"),
]
