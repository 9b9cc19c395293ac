"""A call is a turn in the client's conversation, not a record of its own.

``conversation_to_join`` is the one rule that decides whether a finished inbound call joins an inquiry the
client already has open, or opens one:

- the caller is a known client (by phone; an unknown caller's first call made them one, so their repeated
  calls join that first inquiry);
- the inquiry is open (new, offered or in work) and was active (its last action, else its opening) within
  ``[asterisk] join_window_days`` of the call (0 turns joining off);
- it is of the call's department — the department of the agent who took the call (or, unanswered, of the
  first agent it rang) — or of none yet; a call no agent touched joins any department's;
- of several, the one of the call's own department first, then a call inquiry, then the oldest.

A joined call is a message and a timeline entry on that inquiry (with its outcome and recording), and a
line in the inquiry's history: «Звонок добавлен к открытому обращению №…». A missed call joins the same way
and becomes the callback task of that inquiry. The database migration ``0008c`` folded the repeated open
call inquiries that existed before this rule into the oldest one of each client and department.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from crm_core.intake import OPEN_STATUSES
from crm_core.models import Channel, Contact, ContactKind, Inquiry, InquiryEvent

JOINED = "call_joined"
"""The inquiry history's kind for a call added to an open inquiry."""


@dataclass(frozen=True, slots=True)
class Conversation:
    inquiry_id: int
    thread_key: str


async def conversation_to_join(s: AsyncSession, phone: str, department_id: int | None, at: datetime,
                               window: timedelta) -> Conversation | None:
    """The open inquiry a call from ``phone`` at ``at`` joins, or None: the call opens one (see the module)."""
    if window <= timedelta(0):
        return None
    client_id = (await s.execute(select(Contact.client_id).where(
        Contact.kind == ContactKind.PHONE, Contact.value == phone))).scalar()
    if client_id is None:
        return None
    active = func.coalesce(Inquiry.last_action_at, Inquiry.created_at)
    stmt = select(Inquiry.id, Inquiry.thread_key).where(
        Inquiry.client_id == client_id, Inquiry.status.in_(OPEN_STATUSES), active >= at - window,
        Inquiry.thread_key.is_not(None))
    order: list[ColumnElement[Any] | InstrumentedAttribute[Any]] = []
    if department_id is not None:
        stmt = stmt.where(or_(Inquiry.department_id == department_id, Inquiry.department_id.is_(None)))
        order.append(case((Inquiry.department_id == department_id, 0), else_=1))
    order += [case((Inquiry.channel == Channel.CALL, 0), else_=1), Inquiry.created_at, Inquiry.id]
    row = (await s.execute(stmt.order_by(*order).limit(1))).first()
    return Conversation(row[0], str(row[1])) if row else None  # thread_key IS NOT NULL above


def joined_event(inquiry_id: int, call_uniqueid: str, at: datetime, window_days: float) -> InquiryEvent:
    """The history line that explains why a call landed on an inquiry it did not open."""
    days = f"{window_days:g}"
    return InquiryEvent(
        inquiry_id=inquiry_id, at=at, kind=JOINED,
        note=f"Звонок добавлен к открытому обращению №{inquiry_id}: обращение клиента открыто, отдел тот же, "
             f"последнее действие не старше {days} дн.",
        data={"uniqueid": call_uniqueid, "window_days": window_days})
