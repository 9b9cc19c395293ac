"""Changes to inquiries that people make from the workspace."""

from __future__ import annotations

import logging

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bus.bus import EventBus
from bus.events import InquiryAssigned
from crm_core.access import Actor, Forbidden, can_claim, get_inquiry
from crm_core.models import Inquiry, InquiryEvent, InquiryStatus, Pool, TimelineEntry, utcnow

log = logging.getLogger("hub.inquiries")


class AlreadyTaken(Exception):
    """Someone else claimed the inquiry first."""


async def claim_inquiry(
    sessions: async_sessionmaker[AsyncSession], bus: EventBus, actor: Actor, inquiry_id: int
) -> None:
    """"Беру работу на себя": the first to claim an ownerless inquiry gets it.

    One conditional UPDATE (… WHERE owner_id IS NULL) decides the race in the
    database, so of any number of simultaneous claims exactly one wins.
    """
    now = utcnow()
    async with sessions() as s:
        inquiry = await get_inquiry(s, actor, inquiry_id)
    if not can_claim(actor, inquiry):
        if inquiry.owner_id is not None:
            raise AlreadyTaken(inquiry_id)
        raise Forbidden("inquiry")
    # The write starts a fresh transaction with the UPDATE itself, so SQLite takes its write lock
    # (waiting its busy timeout) instead of failing to upgrade a read snapshot.
    async with sessions() as s, s.begin():
        won = await s.execute(
            update(Inquiry)
            .where(Inquiry.id == inquiry_id, Inquiry.owner_id.is_(None))
            .values(owner_id=actor.user_id, pool=Pool.NONE, status=InquiryStatus.IN_WORK,
                    accepted_at=now, last_action_at=now, department_id=actor.department_id or inquiry.department_id)
            .execution_options(synchronize_session=False)
        )
        if won.rowcount != 1:
            raise AlreadyTaken(inquiry_id)
        s.add(InquiryEvent(inquiry_id=inquiry_id, at=now, actor_id=actor.user_id, kind="claimed",
                           data={"from_pool": str(inquiry.pool)}))
        s.add(TimelineEntry(client_id=inquiry.client_id, at=now, kind="claimed", inquiry_id=inquiry_id,
                            actor_id=actor.user_id, summary=""))
    log.info("inquiry=%s claimed by user=%s from pool=%s", inquiry_id, actor.user_id, inquiry.pool)
    await bus.publish(InquiryAssigned(inquiry_id, actor.user_id, str(Pool.NONE), actor.user_id))
