"""Reads of the property base: the tabs (mine, team, archive, all), quick search for linking, and a
property's counts of inquiries, calls and viewings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from agency.property_access import department_clause, division_clause, property_scope
from agency.property_forms import address_key
from crm_core.access import Actor
from crm_core.models import Client, Inquiry, Property, Role, User
from crm_core.models.agency import PropertyLink

TABS = ("mine", "team", "archive", "all")
SEARCH_LIMIT = 20


@dataclass(frozen=True, slots=True)
class PropertyRow:
    id: int
    address: str
    district: str | None
    metro: str | None
    property_type: str | None
    deal_type: str | None
    price: Decimal | None
    liquidity: str | None
    agent_id: int | None
    agent_name: str | None
    owner_client_id: int | None
    owner_name: str | None
    archived: bool
    created_at: datetime


def _tab_filter(actor: Actor, tab: str) -> ColumnElement[bool]:
    active = Property.archived.is_(False)
    if tab == "mine":
        return and_(active, Property.agent_id == actor.user_id)
    if tab == "archive":
        return Property.archived.is_(True)
    if tab == "team":
        # "My subordinates' objects": the department's (head/manager), the division's (director), everyone's
        # (administrator) — never the actor's own.
        not_mine = or_(Property.agent_id.is_(None), Property.agent_id != actor.user_id)
        if actor.is_admin:
            return and_(active, not_mine)
        if actor.manages_department:
            return and_(active, not_mine, department_clause(actor))
        if actor.role == Role.DIRECTOR:
            return and_(active, not_mine, division_clause(actor))
        return false()
    return active


def tabs_for(actor: Actor) -> tuple[str, ...]:
    return TABS if actor.role != Role.AGENT else ("mine", "archive", "all")


async def list_properties(session: AsyncSession, actor: Actor, tab: str = "mine", limit: int = 300
                          ) -> list[PropertyRow]:
    if tab not in TABS:
        raise ValueError(f"unknown tab {tab!r}")
    agent = aliased(User)
    stmt = (
        select(Property.id, Property.address, Property.district, Property.metro, Property.property_type,
               Property.deal_type, Property.price, Property.liquidity, Property.agent_id,
               agent.full_name.label("agent_name"), Property.owner_client_id, Client.name.label("owner_name"),
               Property.archived, Property.created_at)
        .outerjoin(agent, agent.id == Property.agent_id)
        .outerjoin(Client, Client.id == Property.owner_client_id)
        .where(property_scope(actor), _tab_filter(actor, tab))
        .order_by(Property.id.desc())
        .limit(limit)
    )
    return [PropertyRow(**row._mapping) for row in await session.execute(stmt)]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _number(query: str) -> int | None:
    digits = re.sub(r"[\s\u00a0]", "", query).lstrip("№#")
    return int(digits) if digits.isdigit() and len(digits) <= 13 else None


async def search_properties(session: AsyncSession, actor: Actor, query: str, limit: int = SEARCH_LIMIT
                            ) -> list[PropertyRow]:
    """Quick search for linking: an id (№12), a price (±5 %) or a fragment of the address; archived last."""
    query = (query or "").strip()[:200]
    if not query:
        return []
    conditions = []
    number = _number(query)
    if number is not None:
        conditions.append(Property.id == number)
        if number >= 1000:
            conditions.append(Property.price.between(Decimal(number) * Decimal("0.95"),
                                                     Decimal(number) * Decimal("1.05")))
    fragment = address_key(query)
    if fragment and number is None:
        pattern = f"%{_escape_like(fragment)}%"
        conditions.append(Property.address_key.like(pattern, escape="\\"))
        conditions.append(Property.address.ilike(f"%{_escape_like(query)}%", escape="\\"))
    agent = aliased(User)
    stmt = (
        select(Property.id, Property.address, Property.district, Property.metro, Property.property_type,
               Property.deal_type, Property.price, Property.liquidity, Property.agent_id,
               agent.full_name.label("agent_name"), Property.owner_client_id, Client.name.label("owner_name"),
               Property.archived, Property.created_at)
        .outerjoin(agent, agent.id == Property.agent_id)
        .outerjoin(Client, Client.id == Property.owner_client_id)
        .where(property_scope(actor), or_(*conditions))
        .order_by(Property.archived, (Property.id == (number if number is not None else -1)).desc(),
                  Property.id.desc())
        .limit(limit)
    )
    return [PropertyRow(**row._mapping) for row in await session.execute(stmt)]


@dataclass(frozen=True, slots=True)
class PropertyStats:
    inquiries: int
    calls: int
    viewings: int


async def property_stats(session: AsyncSession, property_id: int) -> PropertyStats:
    """Counts of the inquiries and calls linked to the property (from links and inquiries' own field)."""
    from crm_core.models.agency import Deal, DealStep

    inquiry_ids = select(PropertyLink.inquiry_id).where(
        PropertyLink.property_id == property_id, PropertyLink.inquiry_id.is_not(None)
    ).union(select(Inquiry.id).where(Inquiry.property_id == property_id)).subquery()
    inquiries = (await session.execute(select(func.count()).select_from(inquiry_ids))).scalar_one()
    calls = (await session.execute(select(func.count(PropertyLink.id)).where(
        PropertyLink.property_id == property_id, PropertyLink.call_id.is_not(None)))).scalar_one()
    viewings = (await session.execute(
        select(func.count(DealStep.id)).join(Deal, Deal.id == DealStep.deal_id)
        .where(DealStep.property_id == property_id, DealStep.kind == "viewing", DealStep.status == "done")
    )).scalar_one()
    return PropertyStats(inquiries, calls, viewings)

