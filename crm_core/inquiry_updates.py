"""An owner's (or manager's) changes to an inquiry from its page: status, planned next action, a note."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from pydantic import BaseModel, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bus.bus import EventBus
from bus.events import InquiryStatusChanged
from crm_core.access import Actor, get_inquiry
from crm_core.forms import blank_to_none
from crm_core.models import InquiryEvent, InquiryStatus, TimelineEntry, utcnow

log = logging.getLogger("hub.inquiries")
EDITABLE_STATUSES = (InquiryStatus.IN_WORK, InquiryStatus.DONE)
MAX_PLANNED_DAYS = 7  # an agent's planned date: at most this many days ahead (routing's SlaConfig.max_idle_days)


class InquiryUpdate(BaseModel):
    status: InquiryStatus | None = None
    planned_action: str | None = Field(default=None, max_length=300)
    planned_at: datetime | None = None
    note: str | None = Field(default=None, max_length=5000)

    @field_validator("status", "planned_action", "planned_at", "note", mode="before")
    @classmethod
    def _blank_is_none(cls, v: object) -> object:
        return blank_to_none(v)

    @field_validator("status")
    @classmethod
    def _only_work_states(cls, v: InquiryStatus | None) -> InquiryStatus | None:
        if v is not None and v not in EDITABLE_STATUSES:
            raise ValueError("status can be set to in_work or done only")
        return v

    @field_validator("planned_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("planned date needs a time zone")
        if v is not None and v > utcnow() + timedelta(days=MAX_PLANNED_DAYS):
            # the SLA's 7 days without an action (routing.sla): a later date is the head's («Контроль»)
            raise ValueError(f"не позже чем через {MAX_PLANNED_DAYS} дней / at most {MAX_PLANNED_DAYS} days ahead")
        return v


async def update_inquiry(
    sessions: async_sessionmaker[AsyncSession], actor: Actor, inquiry_id: int, change: InquiryUpdate,
    bus: EventBus | None = None,
) -> list[str]:
    """Apply the change; each field that really changed becomes a history line. Returns their names.
    A status change is published on ``bus`` (outgoing webhooks) after the commit."""
    now = utcnow()
    changed: list[str] = []
    previous = ""
    async with sessions() as s, s.begin():
        inquiry = await get_inquiry(s, actor, inquiry_id, write=True)
        if change.status is not None and change.status != inquiry.status:
            s.add(InquiryEvent(inquiry_id=inquiry.id, at=now, actor_id=actor.user_id, kind="status",
                               data={"from": str(inquiry.status), "to": str(change.status)}))
            previous = str(inquiry.status)
            inquiry.status = change.status
            inquiry.closed_at = now if change.status == InquiryStatus.DONE else None
            changed.append("status")
        if change.planned_action is not None or change.planned_at is not None:
            action = change.planned_action or inquiry.planned_action
            when = change.planned_at or inquiry.planned_at
            if (action, when) != (inquiry.planned_action, inquiry.planned_at):
                inquiry.planned_action, inquiry.planned_at = action, when
                s.add(InquiryEvent(inquiry_id=inquiry.id, at=now, actor_id=actor.user_id, kind="planned",
                                   note=action, data={"at": when.isoformat() if when else None}))
                changed.append("planned")
        if change.note:
            s.add(InquiryEvent(inquiry_id=inquiry.id, at=now, actor_id=actor.user_id, kind="note", note=change.note))
            s.add(TimelineEntry(client_id=inquiry.client_id, at=now, kind="note", inquiry_id=inquiry.id,
                                actor_id=actor.user_id, summary=change.note[:200]))
            changed.append("note")
        if changed:
            inquiry.last_action_at = now
    if changed:
        log.info("inquiry=%s updated by user=%s: %s", inquiry_id, actor.user_id, ",".join(changed))
    if bus is not None and "status" in changed and change.status is not None:
        await bus.publish(InquiryStatusChanged(inquiry_id, str(change.status), previous, actor.user_id))
    return changed
