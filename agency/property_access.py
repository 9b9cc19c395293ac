"""Who reads and who changes which property: the WHERE clauses by role (own, department, division, through a
readable inquiry) and ``get_property``, which answers "not found" for a property out of reach."""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.access import Actor, Forbidden, NotFound, inquiry_scope
from crm_core.models import Department, Inquiry, Property, Role, User


def _via_inquiry(actor: Actor) -> ColumnElement[bool]:
    linked = select(Inquiry.property_id).where(Inquiry.property_id.is_not(None), inquiry_scope(actor))
    return Property.id.in_(linked)


def department_clause(actor: Actor) -> ColumnElement[bool]:
    """The properties of the actor's department (by the property's department or its agent's)."""
    if actor.department_id is None:
        return false()
    staff = select(User.id).where(User.department_id == actor.department_id)
    return or_(Property.department_id == actor.department_id, Property.agent_id.in_(staff))


def division_clause(actor: Actor) -> ColumnElement[bool]:
    if actor.division_id is None:
        return false()
    departments = select(Department.id).where(Department.division_id == actor.division_id)
    staff = select(User.id).where(User.department_id.in_(departments))
    return or_(Property.department_id.in_(departments), Property.agent_id.in_(staff))


def property_scope(actor: Actor) -> ColumnElement[bool]:
    """A WHERE clause selecting the properties the actor may read."""
    if actor.is_admin:
        return true()
    if actor.role == Role.AGENT:
        return or_(Property.agent_id == actor.user_id, _via_inquiry(actor))
    if actor.manages_department:
        return or_(department_clause(actor), _via_inquiry(actor))
    if actor.role == Role.DIRECTOR:
        return or_(division_clause(actor), _via_inquiry(actor))
    return false()


async def _department_of(session: AsyncSession, user_id: int | None) -> int | None:
    if user_id is None:
        return None
    return (await session.execute(select(User.department_id).where(User.id == user_id))).scalar_one_or_none()


async def can_write_property(session: AsyncSession, actor: Actor, prop: Property) -> bool:
    if actor.is_admin:
        return True
    if actor.role == Role.AGENT:
        return prop.agent_id == actor.user_id
    if actor.manages_department and actor.department_id is not None:
        if prop.department_id == actor.department_id:
            return True
        return await _department_of(session, prop.agent_id) == actor.department_id
    return False


async def get_property(session: AsyncSession, actor: Actor, property_id: int, *, write: bool = False) -> Property:
    prop = (
        await session.execute(select(Property).where(Property.id == property_id, property_scope(actor)))
    ).scalar_one_or_none()
    if prop is None:
        raise NotFound("property")
    if write and not await can_write_property(session, actor, prop):
        # Readable through an inquiry, but not theirs to change.
        raise Forbidden("property")
    return prop

