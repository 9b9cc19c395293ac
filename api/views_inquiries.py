"""``/api/v1/inquiries``: list with filters and cursor paging, one, create through the intake (idempotent by
``Idempotency-Key``), change status and next action, claim, refuse, assign, reply through the inquiry's channel.
Reach and rights: ``crm_core.access``."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field, ValidationError
from sqlalchemy import select

from api import inquiries as service
from api.operations import Ctx, Input, Op, Reply
from api.paging import PageQuery, cut, page
from api.problems import bad_request
from api.shown import numbers
from crm_core.access import get_inquiry
from crm_core.inquiry_updates import InquiryUpdate, update_inquiry
from crm_core.models import Channel, Client, Inquiry, InquiryStatus, Message, Role, User

WRITERS = frozenset({Role.AGENT, Role.DEPT_MANAGER, Role.DEPT_HEAD, Role.ADMIN})


class InquiryOut(BaseModel):
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
    department_id: int | None
    planned_action: str | None
    planned_at: datetime | None
    did: str | None
    utm: dict
    created_at: datetime
    closed_at: datetime | None


class MessageOut(BaseModel):
    id: int
    direction: str
    channel: str
    subject: str | None
    body: str
    delivery: str | None
    created_at: datetime


class InquiryFull(InquiryOut):
    messages: list[MessageOut]


class InquiryPage(BaseModel):
    items: list[InquiryOut]
    next_cursor: str | None


class InquiryQuery(PageQuery):
    box: Literal["mine", "department", "common", "all"] = Field(default="all", description="As the inbox's tabs")
    status: InquiryStatus | None = None  # the core's own lists: a channel added there is filterable here
    channel: Channel | None = None
    pool: Literal["none", "department", "common"] | None = None
    owner_id: int | None = Field(default=None, ge=0, le=2**31 - 1)
    department_id: int | None = Field(default=None, ge=0, le=2**31 - 1)
    client_id: int | None = Field(default=None, ge=0, le=2**31 - 1)
    created_from: AwareDatetime | None = Field(default=None, description="From this moment (ISO 8601 with zone)")
    created_to: AwareDatetime | None = Field(default=None, description="Before this moment")


class InquiryCreate(Input):
    channel: Literal["webform", "manual", "visit"] = Field(default="webform",
                                                          description="webform: a site's form; visit: the office")
    name: str | None = Field(default=None, max_length=300)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=320)
    subject: str | None = Field(default=None, max_length=500)
    text: str | None = Field(default=None, max_length=20000)
    source: str | None = Field(default=None, max_length=200, description="The advertising source")
    utm: dict[str, str] = Field(default_factory=dict, max_length=20)


class Intake(BaseModel):
    inquiry_id: int
    client_id: int
    new_inquiry: bool = Field(description="False: joined the client's open inquiry")
    new_client: bool
    duplicate: bool = Field(description="True: this outside id was taken in before")


class InquiryPatch(Input):
    status: Literal["in_work", "done"] | None = None
    planned_action: str | None = Field(default=None, min_length=1, max_length=300)
    planned_at: AwareDatetime | None = Field(default=None, description="At most 7 days ahead")
    note: str | None = Field(default=None, min_length=1, max_length=5000)


class Assign(Input):
    user_id: int = Field(ge=1, le=2**31 - 1)


class Refused(BaseModel):
    inquiry_id: int
    archived: bool = Field(description="True: the refusal limit was reached and the inquiry went to the archive; "
                           "else routing gave it to the next eligible agent or a pool")


class ReplyIn(Input):
    text: str = Field(min_length=1, max_length=20000)
    channel: Literal["email", "telegram", "vk", "whatsapp"] = Field(
        default="email", description="One the client can be answered on (an email, a Telegram, VK or WhatsApp id)")


class Queued(BaseModel):
    message_id: int
    channel: str
    to: str = Field(description="The address it goes to (a number masked for callers who see numbers masked)")


def _out(i: Inquiry, client_name: str, owner_name: str | None) -> InquiryOut:
    return InquiryOut(id=i.id, client_id=i.client_id, client_name=client_name, channel=str(i.channel),
                      subject=i.subject, source=i.source, status=str(i.status), pool=str(i.pool), owner_id=i.owner_id,
                      owner_name=owner_name, department_id=i.department_id, planned_action=i.planned_action,
                      planned_at=i.planned_at, did=i.did, utm=i.utm or {}, created_at=i.created_at,
                      closed_at=i.closed_at)


async def list_inquiries(ctx: Ctx) -> InquiryPage:
    q: InquiryQuery = ctx.query
    async with ctx.sessions() as s:
        rows, cursor = cut(list(await s.execute(page(service.listing(ctx), Inquiry.id, q))), q,
                           lambda r: r[0].id)
    return InquiryPage(items=[_out(*r) for r in rows], next_cursor=cursor)


async def get_inquiry_full(ctx: Ctx) -> InquiryFull:
    async with ctx.sessions() as s:
        i = await get_inquiry(s, ctx.actor, ctx.id())
        client_name = (await s.execute(select(Client.name).where(Client.id == i.client_id))).scalar() or ""
        owner = (await s.execute(select(User.full_name).where(User.id == i.owner_id))).scalar() if i.owner_id else None
        messages = (await s.execute(select(Message).where(Message.inquiry_id == i.id).order_by(Message.id))).scalars()
        return InquiryFull(**_out(i, client_name, owner).model_dump(), messages=[
            MessageOut(id=m.id, direction=m.direction, channel=str(m.channel), subject=m.subject, body=m.body,
                       delivery=m.delivery, created_at=m.created_at) for m in messages])


async def create_inquiry(ctx: Ctx) -> Reply:
    result = await service.create(ctx)
    out = Intake(inquiry_id=result.inquiry_id, client_id=result.client_id, new_inquiry=result.new_inquiry,
                 new_client=result.new_client, duplicate=result.duplicate)
    return Reply(out, 200 if result.duplicate else 201, {"Location": f"/api/v1/inquiries/{result.inquiry_id}"})


async def update_inquiry_fields(ctx: Ctx) -> InquiryFull:
    ctx.check_etag(await get_inquiry_full(ctx))
    body: InquiryPatch = ctx.body
    try:
        change = InquiryUpdate(status=body.status, planned_action=body.planned_action, planned_at=body.planned_at,
                               note=body.note)
    except ValidationError as exc:  # the page's rules: a date at most 7 days ahead
        raise bad_request(exc) from None
    await update_inquiry(ctx.sessions, ctx.actor, ctx.id(), change, bus=ctx.hub.bus)
    return await get_inquiry_full(ctx)


async def claim(ctx: Ctx) -> InquiryFull:
    await service.claim(ctx)
    return await get_inquiry_full(ctx)


async def assign(ctx: Ctx) -> InquiryOut:
    await service.assign(ctx, ctx.body.user_id)
    full = await get_inquiry_full(ctx)
    return InquiryOut(**full.model_dump(exclude={"messages"}))


async def refuse(ctx: Ctx) -> Refused:
    outcome = await service.refuse(ctx)
    return Refused(inquiry_id=ctx.id(), archived=outcome == "archived")


async def reply(ctx: Ctx) -> Reply:
    body: ReplyIn = ctx.body
    queued = await service.reply(ctx, body.text, body.channel)
    to = numbers(ctx).contact("whatsapp" if body.channel == "whatsapp" else "other", queued.to)
    return Reply(Queued(message_id=queued.message_id, channel=body.channel, to=to), 202)


P = "/api/v1/inquiries"
OPS = [
    Op("GET", P, "Inquiries in reach, newest first, with filters", "inquiries", list_inquiries, query=InquiryQuery,
       response=InquiryPage),
    Op("POST", P, "A new inquiry through the intake, as from any channel", "inquiries", create_inquiry, write=True,
       body=InquiryCreate, response=Intake, status=201, idempotent=True, roles=WRITERS,
       description="The client is found by phone or email (or made); the inquiry joins the client's open one or "
                   "opens and is routed. Send an Idempotency-Key: a repeat gives the same answer and one inquiry."),
    Op("GET", P + "/{id}", "One inquiry with its messages", "inquiries", get_inquiry_full, response=InquiryFull,
       etag=True),
    Op("PATCH", P + "/{id}", "Set the status (in_work, done), the next action and its date, add a note",
       "inquiries", update_inquiry_fields, write=True, body=InquiryPatch, response=InquiryFull, etag=True),
    Op("POST", P + "/{id}/claim", "Take an inquiry from a pool («Беру»)", "inquiries", claim, write=True,
       response=InquiryFull, errors=(409,)),
    Op("POST", P + "/{id}/assign", "Give the inquiry to one of your staff (managers, administrator)", "inquiries",
       assign, write=True, body=Assign, response=InquiryOut, errors=(409, 422)),
    Op("POST", P + "/{id}/refuse", "Give back an inquiry routing gave you («Отказаться»): the next agent gets it",
       "inquiries", refuse, write=True, response=Refused, errors=(409,), roles=WRITERS),
    Op("POST", P + "/{id}/reply", "Answer the client through the inquiry's channel (queued, sent by the outbox)",
       "inquiries", reply, write=True, body=ReplyIn, response=Queued, status=202, errors=(422,), roles=WRITERS),
]
