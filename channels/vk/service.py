"""VK community events into the hub: a client's message into the intake (attachments as links), a
correction onto the stored message, the client allowing or forbidding the community's messages, and a
message the community wrote in VK itself onto the conversation."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.messaging import queries
from channels.messaging.service import Inbound, accept, when
from connectors.vk.events import VkInbound
from crm_core.intake import IntakeService
from crm_core.models import Channel, ContactKind, Message

log = logging.getLogger("hub.vk")


class VkService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], intake: IntakeService, *,
                 join_window_days: float = 30.0) -> None:
        self._sessions = sessions
        self._intake = intake
        self._join = timedelta(days=join_window_days)

    async def handle(self, event: VkInbound) -> None:
        user = str(event.user_id)
        text = "\n".join([event.text, *(f"Вложение: {link}" for link in event.links)]).strip()
        if event.kind == "message":
            result = await accept(self._sessions, self._intake, Inbound(
                channel=Channel.VK, external_id=event.message_id, thread=f"vk:{event.peer_id}",
                identity=(ContactKind.VK, user), text=text, name=event.name or f"VK id{user}",
                at=when(event.date), meta={"peer_id": event.peer_id, "links": list(event.links)}, notes=event.notes),
                self._join)
            log.info("vk message inquiry=%s duplicate=%s", result.inquiry_id, result.duplicate)
        elif event.kind == "edit":
            await queries.edit_message(self._sessions, Channel.VK, event.message_id, text, event.notes)
        elif event.kind in ("allow", "deny"):
            await queries.set_blocked(self._sessions, ContactKind.VK, user, event.kind == "deny", Channel.VK)
        elif event.kind == "reply" and not await self._ours(event.random_id):
            await queries.record_outgoing(self._sessions, channel=Channel.VK, keys=[(ContactKind.VK, user)],
                                          thread=f"vk:{event.peer_id}", external_id=event.message_id, text=text,
                                          at=when(event.date))

    async def _ours(self, random_id: int) -> bool:
        """A reply the hub sent itself (its random_id names the hub's message): already on the inquiry."""
        if random_id <= 0:
            return False
        async with self._sessions() as s:
            found = (await s.execute(select(Message.id).where(
                Message.id == random_id // 16, Message.channel == Channel.VK, Message.direction == "out"))).scalar()
        return found is not None
