"""The owner's answer to an inquiry routing gave them: accept it, or refuse it (they are excluded and the
next eligible agent gets it; at the refusal limit it goes to the archive), and an agent who went offline
or on break before accepting (their offers go on without them, their unaccepted inquiries move on).

``OwnerAnswers`` is a part of ``RoutingService`` (routing/service.py), which gives it ``sessions``,
``bus``, ``clock``, ``sla``, ``route`` and ``expire_offer``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bus.bus import EventBus
from bus.events import InquiryAssigned
from crm_core.models import Inquiry, InquiryEvent, InquiryStatus, Pool
from crm_core.models.routing import RoutedInquiry, TeamOffer, offer_agents
from routing.assign import Routed
from routing.queries import OPEN
from routing.sla import SlaConfig

log = logging.getLogger("hub.routing")


class OwnerAnswers:
    """Accepting, refusing, and an agent becoming unavailable (a part of ``RoutingService``)."""

    sessions: async_sessionmaker[AsyncSession]
    bus: EventBus
    clock: Callable[[], datetime]
    sla: SlaConfig

    if TYPE_CHECKING:
        async def route(self, inquiry_id: int, *, why: str = "opened",
                        offer_expired: bool = False) -> Routed | None: ...

        async def expire_offer(self, offer_id: int, note: str = "nobody claimed in time") -> Routed | None: ...

    async def accept(self, inquiry_id: int, user_id: int) -> bool:
        now = self.clock()
        async with self.sessions() as s, s.begin():
            done = await s.execute(
                update(Inquiry).where(Inquiry.id == inquiry_id, Inquiry.owner_id == user_id,
                                      Inquiry.accepted_at.is_(None), Inquiry.status.in_(OPEN))
                .values(accepted_at=now, last_action_at=now, status=InquiryStatus.IN_WORK, updated_at=now)
                .execution_options(synchronize_session=False))
            if done.rowcount != 1:
                return False
            s.add(InquiryEvent(inquiry_id=inquiry_id, at=now, actor_id=user_id, kind="accepted"))
        return True

    async def refuse(self, inquiry_id: int, user_id: int) -> Routed | None | str:
        """The owner gives it back: one more refusal, they are excluded, the next eligible agent gets it;
        at the refusal limit it goes to the archive. Returns "archived", the new routing, or None."""
        now = self.clock()
        async with self.sessions() as s, s.begin():
            done = await s.execute(
                update(Inquiry).where(Inquiry.id == inquiry_id, Inquiry.owner_id == user_id, Inquiry.status.in_(OPEN))
                .values(owner_id=None, accepted_at=None, status=InquiryStatus.NEW, pool=Pool.NONE,
                        refusals=Inquiry.refusals + 1, last_action_at=now, updated_at=now)
                .execution_options(synchronize_session=False))
            if done.rowcount != 1:
                return None
            refusals = (await s.execute(select(Inquiry.refusals).where(Inquiry.id == inquiry_id))).scalar_one()
            s.add(InquiryEvent(inquiry_id=inquiry_id, at=now, actor_id=user_id, kind="refused",
                               data={"refusals": refusals}))
            await self._exclude(s, inquiry_id, user_id, "refused it", now)
            if refusals >= self.sla.max_refusals:
                await s.execute(update(Inquiry).where(Inquiry.id == inquiry_id)
                                .values(pool=Pool.ARCHIVE, status=InquiryStatus.ARCHIVED, closed_at=now,
                                        pool_entered_at=now, updated_at=now))
                s.add(InquiryEvent(inquiry_id=inquiry_id, at=now, kind="sla", note="refusals: to_archive",
                                   data={"action": "to_archive", "reason": "refusals"}))
                archived = True
            else:
                archived = False
        if archived:
            await self.bus.publish(InquiryAssigned(inquiry_id, None, str(Pool.ARCHIVE), user_id))
            return "archived"
        return await self.route(inquiry_id, why="refused")

    async def _exclude(self, s: AsyncSession, inquiry_id: int, user_id: int, reason: str, now: datetime) -> None:
        record = await s.get(RoutedInquiry, inquiry_id)
        if record is None:
            record = RoutedInquiry(inquiry_id=inquiry_id, routed_at=now, excluded={})
            s.add(record)
        record.excluded = {**(record.excluded or {}), str(user_id): reason}
        await s.flush()

    async def agent_unavailable(self, user_id: int, status: str) -> list[int]:
        """An agent went offline or on break: their open offers go on without them (an offer left with
        nobody expires now), and what was given to them but not accepted goes to the next eligible agent."""
        now = self.clock()
        reason = f"went {status} before accepting"
        moved: list[int] = []
        async with self.sessions() as s, s.begin():
            offers = (await s.execute(
                select(TeamOffer.id).join(offer_agents, offer_agents.c.offer_id == TeamOffer.id)
                .where(offer_agents.c.user_id == user_id, TeamOffer.state == "open"))).scalars().all()
            if offers:
                await s.execute(delete(offer_agents).where(offer_agents.c.user_id == user_id,
                                                           offer_agents.c.offer_id.in_(offers)))
            left = {o: (await s.execute(select(func.count()).select_from(offer_agents)
                                        .where(offer_agents.c.offer_id == o))).scalar_one() for o in offers}
            pending = (await s.execute(select(Inquiry.id).where(
                Inquiry.owner_id == user_id, Inquiry.accepted_at.is_(None), Inquiry.status == InquiryStatus.NEW))
            ).scalars().all()
            for inquiry_id in pending:
                done = await s.execute(
                    update(Inquiry).where(Inquiry.id == inquiry_id, Inquiry.owner_id == user_id,
                                          Inquiry.accepted_at.is_(None))
                    .values(owner_id=None, updated_at=now).execution_options(synchronize_session=False))
                if done.rowcount == 1:
                    await self._exclude(s, inquiry_id, user_id, reason, now)
                    s.add(InquiryEvent(inquiry_id=inquiry_id, at=now, kind="rerouted", note=reason,
                                       data={"agent_id": user_id}))
                    moved.append(inquiry_id)
        for offer_id, n in left.items():
            if n == 0:
                await self.expire_offer(offer_id, note="everyone offered became unavailable")
        for inquiry_id in moved:
            await self.route(inquiry_id, why="offline")
        if moved or offers:
            log.info("agent=%s went %s: %d inquiries re-routed, %d offers updated", user_id, status, len(moved),
                     len(offers))
        return moved
