"""Inquiries through the API: the list's query, a new inquiry through the intake (as every channel); claim,
refuse, assign and reply through the same functions as the pages, the routing pages and the wallboard."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select
from sqlalchemy.orm import aliased

from api.operations import Conflict, Ctx, Unprocessable
from api.problems import ApiProblem, FieldError
from channels.outbox import QueuedReply, queue_reply
from crm_core.access import Forbidden, NotFound, get_inquiry, inquiry_scope
from crm_core.inquiries import AlreadyTaken, claim_inquiry
from crm_core.intake import IntakeRequest, IntakeResult
from crm_core.models import Channel, Client, Inquiry, User
from crm_core.phones import normalize_email, try_normalize_phone
from crm_core.queries import _box_filter
from routing.views import service as routing_service
from wallboard.actions import reassign, staff_member
from wallboard.queries import ACT_ROLES
from web.views.pages import channels_off

CHANNELS = {"webform": Channel.WEBFORM, "manual": Channel.MANUAL, "visit": Channel.VISIT}


def listing(ctx: Ctx) -> Select:
    q = ctx.query
    owner = aliased(User)
    stmt = (select(Inquiry, Client.name, owner.full_name).join(Client, Client.id == Inquiry.client_id)
            .outerjoin(owner, owner.id == Inquiry.owner_id).where(inquiry_scope(ctx.actor)))
    box = _box_filter(ctx.actor, q.box)
    if box is not None:
        stmt = stmt.where(box)
    for col, value in ((Inquiry.status, q.status), (Inquiry.channel, q.channel), (Inquiry.owner_id, q.owner_id),
                       (Inquiry.department_id, q.department_id), (Inquiry.client_id, q.client_id),
                       (Inquiry.pool, q.pool)):
        if value is not None:
            stmt = stmt.where(col == value)
    if q.created_from is not None:
        stmt = stmt.where(Inquiry.created_at >= q.created_from)
    if q.created_to is not None:
        stmt = stmt.where(Inquiry.created_at < q.created_to)
    return stmt


def intake_request(ctx: Ctx) -> IntakeRequest:
    body = ctx.body
    region = ctx.hub.settings.phones.default_region
    errors = []
    if body.phone is not None and try_normalize_phone(body.phone, region) is None:
        errors.append(FieldError(field="phone", message="not a phone number"))
    if body.email is not None:
        try:
            normalize_email(body.email)
        except ValueError:
            errors.append(FieldError(field="email", message="not an email address"))
    if not (body.phone or body.email):
        errors.append(FieldError(field="phone", message="a phone or an email is required to know the client"))
    if errors:
        raise ApiProblem(400, "the request has invalid fields", errors=errors)
    # The key makes the intake itself idempotent too: a repeat names the same outside id.
    ref = ctx.idempotency_key or uuid.uuid4().hex
    text = body.text or ""
    subject = body.subject or (text.splitlines()[0][:200] if text.strip() else None)
    return IntakeRequest(channel=CHANNELS[body.channel], external_id=f"api:{ctx.principal.key}:{ref}", text=text,
                         subject=subject, name=body.name, phone=body.phone, email=body.email, source=body.source,
                         utm=dict(body.utm), meta={"api_token": ctx.principal.token_id,
                                                   "registered_by": ctx.principal.user_id})


async def create(ctx: Ctx) -> IntakeResult:
    return await ctx.hub.intake.accept(intake_request(ctx))


async def claim(ctx: Ctx) -> None:
    try:
        await claim_inquiry(ctx.sessions, ctx.hub.bus, ctx.actor, ctx.id())
    except AlreadyTaken:
        raise Conflict("someone else took the inquiry first") from None


async def assign(ctx: Ctx, to_user_id: int) -> None:
    if ctx.actor.role not in ACT_ROLES:  # the wallboard's rule: supervisors give inquiries to their staff
        raise Forbidden("assign")
    async with ctx.sessions() as s:
        try:
            await staff_member(s, ctx.actor, to_user_id)
        except NotFound:
            raise Unprocessable("user_id: no such active person among your staff") from None
    outcome = await reassign(ctx.hub, ctx.actor, ctx.id(), to_user_id)
    if outcome.ok:
        return
    if outcome.result == "conflict":
        raise Conflict("the inquiry changed meanwhile: read it again")
    if outcome.result == "closed":
        raise Unprocessable("the inquiry is closed")
    raise Forbidden(outcome.result)



async def refuse(ctx: Ctx) -> str | None:
    """The owner gives the inquiry back, as the page's «Отказаться»: "archived" at the refusal limit."""
    async with ctx.sessions() as s:
        await get_inquiry(s, ctx.actor, ctx.id())  # out of reach: 404
    outcome = await routing_service(ctx.request).refuse(ctx.id(), ctx.principal.user_id)
    if outcome is None:
        raise Conflict("only the inquiry's owner can give back an open inquiry")
    return outcome if isinstance(outcome, str) else None


async def reply(ctx: Ctx, text: str, channel: str) -> QueuedReply:
    """Queued as the page's reply (``channels.outbox.queue_reply``); the outbox is woken to send it."""
    if channel in channels_off(ctx.request):
        raise Unprocessable(f"channel: {channel} is switched off in the settings")
    domain = ctx.hub.settings.email.from_address.partition("@")[2] or "localhost"
    try:
        queued = await queue_reply(ctx.sessions, ctx.actor, ctx.id(), text, channel=channel, domain=domain)
    except ValueError as exc:  # empty, too long, no address on this channel, the channel's own rule
        raise Unprocessable(str(exc)) from None
    ctx.hub.outbox_wakeup.set()
    return queued
