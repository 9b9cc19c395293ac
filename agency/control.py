"""«Контроль», the department head's view: the department's open inquiries with their next action (overdue
first), and the head setting that next action by hand."""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from agency.deal_forms import DealError
from crm_core.access import Actor, Forbidden, get_inquiry, inquiry_scope
from crm_core.intake import OPEN_STATUSES
from crm_core.models import Client, Inquiry, InquiryEvent, Role, TimelineEntry, User, utcnow

log = logging.getLogger("hub.deals")

CONTROL_ROLES = (Role.DEPT_HEAD, Role.DEPT_MANAGER, Role.ADMIN)


@dataclass(frozen=True, slots=True)
class ControlRow:
    id: int
    client_name: str
    owner_name: str | None
    status: str
    planned_action: str | None
    planned_at: datetime | None
    last_action_at: datetime | None
    overdue: bool
    today: bool


def add_months(when: datetime, months: int) -> datetime:
    """The same day ``months`` later (the last day of a shorter month)."""
    month0 = when.month - 1 + months
    year, month = when.year + month0 // 12, month0 % 12 + 1
    return when.replace(year=year, month=month, day=min(when.day, calendar.monthrange(year, month)[1]))


async def control_rows(session: AsyncSession, actor: Actor, *, now: datetime, zone: str = "Europe/Moscow",
                       department_id: int | None = None, limit: int = 500) -> list[ControlRow]:
    """Open inquiries of the department with their next action: overdue first, then none planned, then by date."""
    if actor.role not in CONTROL_ROLES:
        raise Forbidden("control")
    department = actor.department_id if not actor.is_admin else department_id
    owner = aliased(User)
    stmt = (
        select(Inquiry.id, Client.name, owner.full_name, Inquiry.status, Inquiry.planned_action, Inquiry.planned_at,
               Inquiry.last_action_at)
        .join(Client, Client.id == Inquiry.client_id)
        .outerjoin(owner, owner.id == Inquiry.owner_id)
        .where(inquiry_scope(actor), Inquiry.status.in_(OPEN_STATUSES))
        .order_by(case((Inquiry.planned_at < now, 0), (Inquiry.planned_at.is_(None), 1), else_=2),
                  Inquiry.planned_at, Inquiry.id)
        .limit(limit)
    )
    if department is not None:
        stmt = stmt.where(Inquiry.department_id == department)
    local = ZoneInfo(zone)
    today = now.astimezone(local).date()
    return [ControlRow(r[0], r[1], r[2], str(r[3]), r[4], r[5], r[6], r[5] is not None and r[5] < now,
                       r[5] is not None and r[5].astimezone(local).date() == today)
            for r in await session.execute(stmt)]


async def set_next_action(sessions: async_sessionmaker[AsyncSession], actor: Actor, inquiry_id: int, action: str,
                          when: datetime, *, now: datetime | None = None) -> None:
    """The head sets the next action by hand, up to 2 months ahead (further is refused, as is the past)."""
    now = now or utcnow()
    if actor.role not in CONTROL_ROLES:
        raise Forbidden("control")
    action = " ".join((action or "").split())[:300]
    if not action:
        raise DealError("planned_action", "say what is to be done")
    if when.tzinfo is None:
        raise DealError("planned_at", "the date needs a time zone")
    if when < now:
        raise DealError("planned_at", "the date is in the past")
    if when > add_months(now, 2):
        raise DealError("planned_at", "at most 2 months ahead")
    async with sessions() as s, s.begin():
        inquiry = await get_inquiry(s, actor, inquiry_id, write=True)
        inquiry.planned_action, inquiry.planned_at = action, when
        s.add(InquiryEvent(inquiry_id=inquiry.id, at=now, actor_id=actor.user_id, kind="planned", note=action,
                           data={"at": when.isoformat(), "control": True}))
        s.add(TimelineEntry(client_id=inquiry.client_id, at=now, kind="planned", inquiry_id=inquiry.id,
                            actor_id=actor.user_id, summary=action[:200]))
    log.info("inquiry=%s next action set to %s by head user=%s", inquiry_id, when.isoformat(), actor.user_id)
