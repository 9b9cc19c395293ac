"""Reads for the workspace and the API. Every query starts from an access-scoped select."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from crm_core.access import Actor, can_write_client, client_scope, get_client, get_inquiry, inquiry_scope
from crm_core.models import (
    Client,
    Contact,
    ContactKind,
    Department,
    Inquiry,
    InquiryEvent,
    Message,
    Pool,
    RoutingDecision,
    TimelineEntry,
    User,
)
from crm_core.phones import try_normalize_phone

BOXES = ("mine", "department", "common", "all")


@dataclass(frozen=True, slots=True)
class InquiryRow:
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


def _box_filter(actor: Actor, box: str):  # noqa: ANN202
    if box == "mine":
        return Inquiry.owner_id == actor.user_id
    if box == "department":
        return (Inquiry.pool == Pool.DEPARTMENT) & (Inquiry.department_id == actor.department_id)
    if box == "common":
        return Inquiry.pool == Pool.COMMON
    return None


async def inbox(session: AsyncSession, actor: Actor, box: str = "mine", limit: int = 200) -> list[InquiryRow]:
    if box not in BOXES:
        raise ValueError(f"unknown box {box!r}")
    owner = aliased(User)
    stmt = (
        select(
            Inquiry.id, Inquiry.client_id, Client.name.label("client_name"), Inquiry.channel, Inquiry.subject,
            Inquiry.source, Inquiry.status, Inquiry.pool, Inquiry.owner_id, owner.full_name.label("owner_name"),
            Inquiry.created_at, Inquiry.planned_at,
        )
        .join(Client, Client.id == Inquiry.client_id)
        .outerjoin(owner, owner.id == Inquiry.owner_id)
        .where(inquiry_scope(actor))
        .order_by(Inquiry.id.desc())
        .limit(limit)
    )
    box_filter = _box_filter(actor, box)
    if box_filter is not None:
        stmt = stmt.where(box_filter)
    return [InquiryRow(**row._mapping) for row in await session.execute(stmt)]


@dataclass(frozen=True, slots=True)
class InquiryView:
    inquiry: Inquiry
    client: Client
    owner: User | None
    messages: list[Message]
    history: list[InquiryEvent]
    decisions: list[RoutingDecision]


async def inquiry_view(session: AsyncSession, actor: Actor, inquiry_id: int) -> InquiryView:
    inquiry = await get_inquiry(session, actor, inquiry_id)
    client = await session.get(Client, inquiry.client_id)
    owner = await session.get(User, inquiry.owner_id) if inquiry.owner_id else None
    messages = (
        await session.execute(select(Message).where(Message.inquiry_id == inquiry.id).order_by(Message.id))
    ).scalars().all()
    history = (
        await session.execute(
            select(InquiryEvent).where(InquiryEvent.inquiry_id == inquiry.id).order_by(InquiryEvent.id)
        )
    ).scalars().all()
    decisions = (
        await session.execute(
            select(RoutingDecision).where(RoutingDecision.inquiry_id == inquiry.id).order_by(RoutingDecision.id)
        )
    ).scalars().all()
    assert client is not None
    return InquiryView(inquiry, client, owner, list(messages), list(history), list(decisions))


@dataclass(frozen=True, slots=True)
class ClientView:
    client: Client
    owner: User | None
    contacts: list[Contact]
    inquiries: list[InquiryRow]
    timeline: list[TimelineEntry]


async def client_view(session: AsyncSession, actor: Actor, client_id: int) -> ClientView:
    client = await get_client(session, actor, client_id)
    owner = await session.get(User, client.owner_id) if client.owner_id else None
    contacts = (
        await session.execute(select(Contact).where(Contact.client_id == client.id).order_by(Contact.id))
    ).scalars().all()
    inquiries = [r for r in await inbox(session, actor, "all", 1000) if r.client_id == client.id]
    stmt = select(TimelineEntry).where(TimelineEntry.client_id == client.id)
    if not can_write_client(actor, client):
        # Whoever answers for the client sees all of it; others only the inquiries within their reach.
        visible_inquiries = select(Inquiry.id).where(inquiry_scope(actor))
        stmt = stmt.where(or_(TimelineEntry.inquiry_id.is_(None), TimelineEntry.inquiry_id.in_(visible_inquiries)))
    timeline = (
        await session.execute(
            stmt
            .order_by(TimelineEntry.at.desc(), TimelineEntry.id.desc())
            .limit(500)
        )
    ).scalars().all()
    return ClientView(client, owner, list(contacts), inquiries, list(timeline))


async def search_clients(session: AsyncSession, actor: Actor, query: str, limit: int = 50) -> list[Client]:
    stmt = select(Client).where(client_scope(actor)).order_by(Client.id.desc()).limit(limit)
    query = (query or "").strip()
    if query:
        phone = try_normalize_phone(query)
        by_contact = select(Contact.client_id).where(
            or_(
                (Contact.kind == ContactKind.PHONE) & (Contact.value == phone) if phone else False,
                (Contact.kind == ContactKind.EMAIL) & (Contact.value == query.lower()),
            )
        )
        pattern = f"%{_escape_like(query)}%"
        stmt = stmt.where(
            or_(
                Client.name.ilike(pattern, escape="\\"),
                Client.company_name.ilike(pattern, escape="\\"),
                Client.id.in_(by_contact),
            )
        )
    return list((await session.execute(stmt)).scalars().all())


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def departments(session: AsyncSession) -> list[Department]:
    return list((await session.execute(select(Department).order_by(Department.name))).scalars().all())


async def users(session: AsyncSession) -> list[User]:
    return list((await session.execute(select(User).order_by(User.full_name))).scalars().all())
