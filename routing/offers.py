"""Team offers after routing made them: the first claim wins (decided by the database), an offer nobody
claimed in time expires and the inquiry is routed again, and the open offers an agent sees.

``TeamOffers`` is a part of ``RoutingService`` (routing/service.py), which gives it ``sessions``, ``bus``,
``clock`` and ``route``. The offer rows themselves are written with the decision (routing/assign.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bus.bus import EventBus
from bus.events import InquiryAssigned, Push
from crm_core.models import Inquiry, InquiryEvent, InquiryStatus, Pool, TimelineEntry, User
from crm_core.models.routing import TeamOffer, offer_agents
from routing.assign import Abort, Routed

log = logging.getLogger("hub.routing")


class TeamOffers:
    """Claiming, expiring and listing team offers (a part of ``RoutingService``)."""

    sessions: async_sessionmaker[AsyncSession]
    bus: EventBus
    clock: Callable[[], datetime]

    if TYPE_CHECKING:
        async def route(self, inquiry_id: int, *, why: str = "opened",
                        offer_expired: bool = False) -> Routed | None: ...

    async def claim_offer(self, offer_id: int, user_id: int) -> bool:
        """The first claim wins: the offer row flips open → claimed once, decided by the database. The rest
        of the group is told at once (``routing.offer_closed``), so their screens stop offering it."""
        try:
            claimed = await self._claim(offer_id, user_id)
        except Abort:
            return False
        if claimed is None:
            return False
        inquiry_id, others = claimed
        log.info("offer=%s inquiry=%s claimed by user=%s", offer_id, inquiry_id, user_id)
        await self.bus.publish(InquiryAssigned(inquiry_id, user_id, str(Pool.NONE), user_id))
        await self._closed(offer_id, inquiry_id, others, "claimed")
        return True

    async def _closed(self, offer_id: int, inquiry_id: int, agents: tuple[int, ...], state: str) -> None:
        if agents:
            await self.bus.publish(Push(agents, "routing.offer_closed",
                                        {"offer_id": offer_id, "inquiry_id": inquiry_id, "state": state}))

    async def _offered(self, s: AsyncSession, offer_id: int) -> tuple[int, ...]:
        return tuple((await s.execute(select(offer_agents.c.user_id).where(offer_agents.c.offer_id == offer_id)
                                      .order_by(offer_agents.c.user_id))).scalars())

    async def _claim(self, offer_id: int, user_id: int) -> tuple[int, tuple[int, ...]] | None:
        now = self.clock()
        async with self.sessions() as s, s.begin():
            member = select(offer_agents.c.user_id).where(offer_agents.c.offer_id == offer_id,
                                                          offer_agents.c.user_id == user_id)
            won = await s.execute(
                update(TeamOffer)
                .where(TeamOffer.id == offer_id, TeamOffer.state == "open", TeamOffer.deadline > now,
                       member.exists())
                .values(state="claimed", claimed_by=user_id, closed_at=now)
                .execution_options(synchronize_session=False))
            if won.rowcount != 1:
                return None
            inquiry_id = (await s.execute(select(TeamOffer.inquiry_id).where(TeamOffer.id == offer_id))).scalar_one()
            department = (await s.execute(select(User.department_id).where(User.id == user_id))).scalar()
            took = await s.execute(
                update(Inquiry)
                .where(Inquiry.id == inquiry_id, Inquiry.owner_id.is_(None), Inquiry.status == InquiryStatus.OFFERED)
                .values(owner_id=user_id, status=InquiryStatus.IN_WORK, accepted_at=now, last_action_at=now,
                        department_id=func.coalesce(Inquiry.department_id, department), updated_at=now)
                .execution_options(synchronize_session=False))
            if took.rowcount != 1:
                raise Abort
            client_id = (await s.execute(select(Inquiry.client_id).where(Inquiry.id == inquiry_id))).scalar_one()
            s.add(InquiryEvent(inquiry_id=inquiry_id, at=now, actor_id=user_id, kind="claimed",
                               data={"offer_id": offer_id}))
            s.add(TimelineEntry(client_id=client_id, at=now, kind="claimed", inquiry_id=inquiry_id, actor_id=user_id,
                                summary=""))
            others = tuple(a for a in await self._offered(s, offer_id) if a != user_id)
        return inquiry_id, others

    async def expire_offer(self, offer_id: int, note: str = "nobody claimed in time") -> Routed | None:
        """Close an open offer (once, even with two schedulers) and take the rule's next step."""
        async with self.sessions() as s, s.begin():
            closed = await s.execute(update(TeamOffer).where(TeamOffer.id == offer_id, TeamOffer.state == "open")
                                     .values(state="expired", closed_at=self.clock(), note=note)
                                     .execution_options(synchronize_session=False))
            if closed.rowcount != 1:
                return None
            inquiry_id = (await s.execute(select(TeamOffer.inquiry_id).where(TeamOffer.id == offer_id))).scalar_one()
            offered = await self._offered(s, offer_id)
        await self._closed(offer_id, inquiry_id, offered, "expired")
        return await self.route(inquiry_id, why="offer_expired", offer_expired=True)

    async def open_offers_for(self, user_id: int) -> list[tuple[TeamOffer, Inquiry]]:
        async with self.sessions() as s:
            rows = (await s.execute(
                select(TeamOffer, Inquiry).join(Inquiry, Inquiry.id == TeamOffer.inquiry_id)
                .join(offer_agents, offer_agents.c.offer_id == TeamOffer.id)
                .where(offer_agents.c.user_id == user_id, TeamOffer.state == "open")
                .order_by(TeamOffer.deadline))).all()
        return [(r[0], r[1]) for r in rows]
