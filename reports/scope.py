"""Whose figures a report may count, by the agency's rules (crm_core/access.py), for figures rather than records.

An agent sees their own figures (inquiries they own, calls they took); a department's manager or head the
department's (its inquiries, and its agents' calls and inquiries); a director the division's; the administrator
everything. Unlike the inbox, the common pool is not counted into anybody's figures: it belongs to no one.
A call nobody answered (missed, abandoned) counts for the department of the inquiry it opened.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, and_, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.access import Actor, Forbidden
from crm_core.models import Call, Department, Inquiry, Role, User


def _departments(actor: Actor) -> Select | list[int] | None:
    """The departments whose figures the actor reads (None: all of them)."""
    if actor.is_admin:
        return None
    if actor.manages_department:
        return list(actor.department_ids)
    if actor.role == Role.DIRECTOR:
        if actor.division_id is None:
            return []
        return select(Department.id).where(Department.division_id == actor.division_id)
    return []


def _empty(depts: Select | list[int] | None) -> bool:
    return isinstance(depts, list) and not depts


def user_scope(actor: Actor) -> ColumnElement[bool]:
    """The people whose own figures the actor may read."""
    if actor.is_admin:
        return true()
    if actor.role == Role.AGENT:
        return User.id == actor.user_id
    depts = _departments(actor)
    return false() if _empty(depts) else User.department_id.in_(depts)


def _users_of(actor: Actor) -> Select:
    return select(User.id).where(user_scope(actor))


def inquiry_scope(actor: Actor) -> ColumnElement[bool]:
    if actor.is_admin:
        return true()
    if actor.role == Role.AGENT:
        return Inquiry.owner_id == actor.user_id
    depts = _departments(actor)
    if _empty(depts):
        return false()
    return or_(Inquiry.department_id.in_(depts), Inquiry.owner_id.in_(_users_of(actor)))


def call_scope(actor: Actor) -> ColumnElement[bool]:
    if actor.is_admin:
        return true()
    if actor.role == Role.AGENT:
        return Call.agent_id == actor.user_id
    depts = _departments(actor)
    if _empty(depts):
        return false()
    unanswered_here = and_(Call.agent_id.is_(None),
                           Call.inquiry_id.in_(select(Inquiry.id).where(Inquiry.department_id.in_(depts))))
    return or_(Call.agent_id.in_(_users_of(actor)), unanswered_here)


async def check_reach(session: AsyncSession, actor: Actor, department_id: int | None, agent_id: int | None) -> None:
    """A department or agent filter out of the actor's reach is refused, not silently emptied."""
    if actor.is_admin:
        return
    if department_id is not None:
        depts = _departments(actor)
        if actor.role == Role.AGENT:
            ok = department_id == actor.department_id
        elif isinstance(depts, list):
            ok = department_id in depts
        else:
            ok = (await session.execute(depts.where(Department.id == department_id))).first() is not None
        if not ok:
            raise Forbidden("department")
    if agent_id is not None:
        ok = (await session.execute(select(User.id).where(User.id == agent_id, user_scope(actor)))).first()
        if ok is None:
            raise Forbidden("agent")
