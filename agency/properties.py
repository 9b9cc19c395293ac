"""The property base (объекты): creating and editing a property, archiving it, and its links from inquiries
and calls. Who sees and edits which property is agency.property_access; the tabs, quick search and
per-property statistics are agency.property_queries; the form is agency.property_forms.

Access, in the agency's terms: an agent has their own objects (and reads the object of an inquiry they may
read); a department manager or head has the department's; a director reads the division's; an
administrator has all. Out of reach is "not found" (404), as everywhere.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agency.property_access import _department_of, get_property
from agency.property_forms import FieldError, PropertyInput, address_key
from crm_core.access import Actor, Forbidden, NotFound, call_scope, get_client, get_inquiry
from crm_core.models import Call, InquiryEvent, Property, Role, TimelineEntry, User, utcnow
from crm_core.models.agency import PropertyLink

log = logging.getLogger("hub.properties")


async def _check_refs(session: AsyncSession, actor: Actor, data: PropertyInput, current_agent: int | None
                      ) -> tuple[int | None, int | None]:
    """The agent and department the property will have; the owner client must be within reach."""
    if data.owner_client_id is not None:
        try:
            await get_client(session, actor, data.owner_client_id)
        except NotFound:
            raise FieldError("owner_client_id", "no such client") from None
    agent_id = data.agent_id if data.agent_id is not None else (current_agent or actor.user_id)
    if agent_id != current_agent and agent_id != actor.user_id:
        if actor.role == Role.AGENT:
            raise FieldError("agent_id", "an agent can only keep objects themselves")
        department = await _department_of(session, agent_id)
        exists = (await session.execute(select(User.id).where(User.id == agent_id, User.is_active.is_(True)))
                  ).scalar_one_or_none()
        if exists is None or (not actor.is_admin and department != actor.department_id):
            raise FieldError("agent_id", "no such agent in your department")
    department_id = await _department_of(session, agent_id)
    return agent_id, department_id


def _apply(prop: Property, data: PropertyInput) -> None:
    prop.address = data.address
    prop.address_key = address_key(data.address)
    prop.district, prop.metro = data.district, data.metro
    prop.lat, prop.lon = data.lat, data.lon
    prop.property_type, prop.deal_type = data.property_type, data.deal_type
    prop.price = data.price  # type: ignore[assignment]
    prop.liquidity = data.liquidity
    prop.owner_client_id = data.owner_client_id
    prop.avito_item_id = data.avito_item_id


async def _check_listing(session: AsyncSession, data: PropertyInput, property_id: int | None) -> None:
    """One Avito listing is one property (the column is unique): say which one already has it."""
    if data.avito_item_id is None:
        return
    other = (await session.execute(select(Property.id).where(
        Property.avito_item_id == data.avito_item_id, Property.id != (property_id or 0)))).scalar()
    if other is not None:
        raise FieldError("avito_item_id", f"это объявление Avito уже у объекта №{other} / "
                                          f"this Avito listing belongs to property #{other}")


async def create_property(sessions: async_sessionmaker[AsyncSession], actor: Actor, data: PropertyInput) -> int:
    if actor.role == Role.DIRECTOR:
        raise Forbidden("property")
    async with sessions() as s, s.begin():
        agent_id, department_id = await _check_refs(s, actor, data, None)
        await _check_listing(s, data, None)
        prop = Property(address=data.address, agent_id=agent_id, department_id=department_id)
        _apply(prop, data)
        s.add(prop)
        await s.flush()
        if prop.owner_client_id is not None:
            s.add(TimelineEntry(client_id=prop.owner_client_id, kind="property_added", ref_id=prop.id,
                                actor_id=actor.user_id, summary=prop.address[:200]))
        log.info("property=%s created by user=%s", prop.id, actor.user_id)
        return prop.id


async def update_property(sessions: async_sessionmaker[AsyncSession], actor: Actor, property_id: int,
                          data: PropertyInput) -> None:
    async with sessions() as s, s.begin():
        prop = await get_property(s, actor, property_id, write=True)
        agent_id, department_id = await _check_refs(s, actor, data, prop.agent_id)
        await _check_listing(s, data, prop.id)
        _apply(prop, data)
        prop.agent_id, prop.department_id = agent_id, department_id
    log.info("property=%s updated by user=%s", property_id, actor.user_id)


async def set_archived(sessions: async_sessionmaker[AsyncSession], actor: Actor, property_id: int,
                       archived: bool) -> None:
    async with sessions() as s, s.begin():
        prop = await get_property(s, actor, property_id, write=True)
        prop.archived = archived
    log.info("property=%s archived=%s by user=%s", property_id, archived, actor.user_id)


async def link_inquiry(sessions: async_sessionmaker[AsyncSession], actor: Actor, inquiry_id: int,
                       property_id: int) -> bool:
    """The property the client asks about: set on the inquiry (routing reads it) and counted; idempotent.

    Returns False when it was already linked.
    """
    now = utcnow()
    async with sessions() as s, s.begin():
        inquiry = await get_inquiry(s, actor, inquiry_id, write=True)
        prop = await get_property(s, actor, property_id)
        exists = (await s.execute(select(PropertyLink.id).where(
            PropertyLink.property_id == prop.id, PropertyLink.inquiry_id == inquiry.id))).first()
        changed = inquiry.property_id != prop.id
        inquiry.property_id = prop.id
        if exists is None:
            try:
                async with s.begin_nested():
                    s.add(PropertyLink(property_id=prop.id, inquiry_id=inquiry.id, at=now, linked_by=actor.user_id))
            except IntegrityError:
                exists = True  # the same link made a moment ago by another request
        if changed or exists is None:
            s.add(InquiryEvent(inquiry_id=inquiry.id, at=now, actor_id=actor.user_id, kind="property_linked",
                               note=prop.address, data={"property_id": prop.id}))
            s.add(TimelineEntry(client_id=inquiry.client_id, at=now, kind="property_linked",
                                inquiry_id=inquiry.id, ref_id=prop.id, actor_id=actor.user_id,
                                summary=prop.address[:200]))
            inquiry.last_action_at = now
            log.info("property=%s linked to inquiry=%s by user=%s", prop.id, inquiry.id, actor.user_id)
            return True
    return False


async def link_call(sessions: async_sessionmaker[AsyncSession], actor: Actor, call_id: int,
                    property_id: int) -> bool:
    """The property a call was about (from the pop-up or the call log); counted in the property's stats."""
    now = utcnow()
    async with sessions() as s, s.begin():
        call = (await s.execute(select(Call).where(Call.id == call_id, call_scope(actor)))).scalar_one_or_none()
        if call is None:
            raise NotFound("call")
        prop = await get_property(s, actor, property_id)
        try:
            async with s.begin_nested():
                s.add(PropertyLink(property_id=prop.id, call_id=call.id, at=now, linked_by=actor.user_id))
        except IntegrityError:
            return False
        if call.client_id is not None:
            s.add(TimelineEntry(client_id=call.client_id, at=now, kind="property_linked", channel="call",
                                inquiry_id=call.inquiry_id, ref_id=prop.id, actor_id=actor.user_id,
                                summary=prop.address[:200]))
    log.info("property=%s linked to call=%s by user=%s", property_id, call_id, actor.user_id)
    return True
