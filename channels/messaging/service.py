"""A messenger's message into the intake, the same way for every channel: the client by their identity
on that channel (and their phone when the channel knows it), the dialogue's own thread, or the client's
open conversation on any channel (a call, Telegram, WhatsApp… are one thread)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.messaging.queries import thread_to_join
from crm_core.intake import IntakeRequest, IntakeResult, IntakeService
from crm_core.models import Channel, ContactKind, utcnow


@dataclass(frozen=True, slots=True)
class Inbound:
    channel: Channel
    external_id: str
    thread: str
    """This dialogue's thread key (``vk:<peer>``, ``wa:<number>``)."""
    identity: tuple[ContactKind, str]
    text: str
    name: str = ""
    phone: str | None = None
    at: datetime | None = None
    meta: dict = field(default_factory=dict)
    notes: Sequence[str] = ()


async def accept(sessions: async_sessionmaker[AsyncSession], intake: IntakeService, inbound: Inbound,
                 join_window: timedelta) -> IntakeResult:
    at = inbound.at or utcnow()
    keys: list[tuple[str, str]] = [(str(inbound.identity[0]), inbound.identity[1])]
    if inbound.phone:
        keys.append((ContactKind.PHONE, inbound.phone))
    async with sessions() as s:
        joined = await thread_to_join(s, keys, at, join_window)
    return await intake.accept(IntakeRequest(
        channel=inbound.channel, external_id=inbound.external_id, name=inbound.name or None, phone=inbound.phone,
        identities=(inbound.identity,), text=inbound.text, thread_key=inbound.thread,
        reply_to=tuple(k for k in (inbound.thread, joined) if k), source=str(inbound.channel), received_at=at,
        meta=dict(inbound.meta), notes=tuple(inbound.notes)))


def when(timestamp: int, now: datetime | None = None) -> datetime:
    """A provider's Unix time, trusted only when it is not in the future nor older than a week."""
    now = now or utcnow()
    if timestamp <= 0:
        return now
    at = datetime.fromtimestamp(timestamp, UTC)
    return at if now - timedelta(days=7) <= at <= now + timedelta(minutes=5) else now
