"""Clients through the API: search ids, the details of a page of clients, create one, apply a change.

A client made here is the same as one the intake makes: contacts normalised (E.164 phones, lower-case
emails), one owner per contact (a phone that belongs to another client is refused), a timeline line."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.operations import Conflict, Ctx, Unprocessable
from api.problems import ApiProblem, FieldError
from crm_core.access import Actor, Forbidden, can_write_client
from crm_core.client_updates import ClientUpdate, ContactTaken
from crm_core.models import Client, Contact, ContactKind, MemorableDate, Role, Segment, TimelineEntry, User, utcnow
from crm_core.models import client_segments as cs
from crm_core.phones import BadPhone, normalize_email, normalize_phone, try_normalize_phone


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_ids(text: str, region: str) -> Select:
    """Client ids whose name or company holds the text, or whose phone or email it is (as the clients page)."""
    text = text.strip()
    phone = try_normalize_phone(text, region)
    by_contact = select(Contact.client_id).where(or_(
        (Contact.kind == ContactKind.PHONE) & (Contact.value == phone) if phone else False,
        (Contact.kind == ContactKind.EMAIL) & (Contact.value == text.lower())))
    pattern = f"%{_escape_like(text)}%"
    return select(Client.id).where(or_(Client.name.ilike(pattern, escape="\\"),
                                       Client.company_name.ilike(pattern, escape="\\"), Client.id.in_(by_contact)))


@dataclass
class Details:
    contacts: dict[int, list[Contact]]
    segments: dict[int, list[str]]
    dates: dict[int, list[MemorableDate]]


async def details(s: AsyncSession, ids: list[int]) -> Details:
    out = Details(defaultdict(list), defaultdict(list), defaultdict(list))
    if not ids:
        return out
    for c in (await s.execute(select(Contact).where(Contact.client_id.in_(ids)).order_by(Contact.id))).scalars():
        out.contacts[c.client_id].append(c)
    segments = (select(cs.c.client_id, Segment.name).join(Segment, Segment.id == cs.c.segment_id)
                .where(cs.c.client_id.in_(ids)).order_by(Segment.name))
    for client_id, name in await s.execute(segments):
        out.segments[client_id].append(name)
    for d in (await s.execute(select(MemorableDate).where(MemorableDate.client_id.in_(ids))
                              .order_by(MemorableDate.month, MemorableDate.day))).scalars():
        out.dates[d.client_id].append(d)
    return out


def _contacts(body, region: str) -> list[tuple[ContactKind, str, str]]:  # noqa: ANN001 - views_clients.ClientCreate
    found, errors = [], []
    for i, raw in enumerate(body.phones):
        try:
            found.append((ContactKind.PHONE, normalize_phone(raw, region), f"phones.{i}"))
        except BadPhone as exc:
            errors.append(FieldError(field=f"phones.{i}", message=str(exc)))
    for i, raw in enumerate(body.emails):
        try:
            found.append((ContactKind.EMAIL, normalize_email(raw), f"emails.{i}"))
        except ValueError as exc:
            errors.append(FieldError(field=f"emails.{i}", message=str(exc)))
    if errors:
        raise ApiProblem(400, "the request has invalid fields", errors=errors)
    return list({(k, v): (k, v, f) for k, v, f in found}.values())


async def create(sessions: async_sessionmaker[AsyncSession], actor: Actor, body, region: str) -> int:  # noqa: ANN001
    if actor.role in (Role.DIRECTOR, Role.SERVICE_ENGINEER):
        raise Forbidden("client")
    contacts = _contacts(body, region)
    owner_id = body.owner_id if body.owner_id is not None else actor.user_id
    async with sessions() as s, s.begin():
        owner = await s.get(User, owner_id)
        if owner is None or not owner.is_active:
            raise Unprocessable("owner_id: no such active user")
        department_id = owner.department_id
        probe = Client(owner_id=owner_id, department_id=department_id)
        if not can_write_client(actor, probe):
            raise Forbidden("client")
        for kind, value, field in contacts:
            taken = (await s.execute(select(Contact.client_id).where(Contact.kind == kind, Contact.value == value))
                     ).scalar()
            if taken is not None:
                raise Conflict(f"{field}: belongs to another client")
        client = Client(kind=body.kind, name=body.name.strip(), company_name=body.company_name, owner_id=owner_id,
                        department_id=department_id)
        s.add(client)
        await s.flush()
        s.add_all([Contact(client_id=client.id, kind=kind, value=value) for kind, value, _ in contacts])
        s.add(TimelineEntry(client_id=client.id, at=utcnow(), kind="client_updated", actor_id=actor.user_id,
                            summary="created through the API"))
        return client.id


Update = Callable[..., Awaitable[list[str]]]  # crm_core.client_updates.update_client


async def apply(ctx: Ctx, change: ClientUpdate, update: Update) -> None:
    try:
        await update(ctx.sessions, ctx.actor, ctx.id(), change, bus=ctx.hub.bus)  # webhooks see API changes too
    except ContactTaken as exc:
        raise Conflict(f"{exc.field}: belongs to another client") from None
    except ValueError as exc:  # the phone cannot be dialled
        raise ApiProblem(400, "the request has invalid fields",
                         errors=[FieldError(field="value", message=str(exc))]) from None
