"""WhatsApp events into the hub: a client's message into the intake (their number is their phone: a known
phone finds its client, and a separate WhatsApp-only client with that number is merged into it), delivery
reports onto the sent replies, and the 24-hour window checked when an agent replies."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.messaging import queries
from channels.messaging.service import Inbound, accept, when
from channels.whatsapp.window import WindowRule
from connectors.whatsapp.events import WaMessage, WaStatus
from crm_core.client_merge import merge_clients
from crm_core.intake import IntakeService
from crm_core.models import Channel, Contact, ContactKind, Message
from crm_core.phones import try_normalize_phone

log = logging.getLogger("hub.whatsapp")


class WhatsAppService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], intake: IntakeService, *,
                 join_window_days: float = 30.0) -> None:
        self._sessions = sessions
        self._intake = intake
        self._join = timedelta(days=join_window_days)

    async def handle(self, event: WaMessage | WaStatus) -> None:
        if isinstance(event, WaStatus):
            note = "; ".join(event.errors) or None
            if not await queries.update_delivery(self._sessions, Channel.WHATSAPP, event.message_id, event.status,
                                                 f"WhatsApp: {note}" if note else None):
                log.info("whatsapp status %s for a message the hub did not send", event.status)
            return
        phone = try_normalize_phone(f"+{event.wa_id}")
        if phone is not None:
            await self._merge_by_number(event.wa_id, phone)
        text = "\n".join([event.text, *(f"Файл: {Path(p).name}" for p in event.saved)]).strip()
        result = await accept(self._sessions, self._intake, Inbound(
            channel=Channel.WHATSAPP, external_id=event.message_id, thread=f"wa:{event.wa_id}",
            identity=(ContactKind.WHATSAPP, event.wa_id), text=text, name=event.name, phone=phone,
            at=when(event.timestamp),
            meta={"wa_id": event.wa_id, "type": event.kind,
                  "attachments": [{"filename": Path(p).name, "kept": True, "path": p} for p in event.saved],
                  **({"notes": list(event.notes)} if event.notes else {})},
            notes=event.notes), self._join)
        log.info("whatsapp message inquiry=%s duplicate=%s", result.inquiry_id, result.duplicate)

    async def _merge_by_number(self, wa_id: str, phone: str) -> None:
        """The WhatsApp number is a phone another client has: the WhatsApp-only client joins that one."""
        async with self._sessions() as s, s.begin():
            by_wa = (await s.execute(select(Contact.client_id).where(
                Contact.kind == ContactKind.WHATSAPP, Contact.value == wa_id))).scalar()
            by_phone = (await s.execute(select(Contact.client_id).where(
                Contact.kind == ContactKind.PHONE, Contact.value == phone))).scalar()
            if by_wa is not None and by_phone is not None and by_wa != by_phone:
                await merge_clients(s, by_phone, by_wa, actor=None,
                                    reason="номер WhatsApp совпал с телефоном клиента / WhatsApp number is the phone")


async def last_inbound(s: AsyncSession, client_id: int) -> datetime | None:
    return (await s.execute(select(func.max(Message.created_at)).where(
        Message.client_id == client_id, Message.channel == Channel.WHATSAPP, Message.direction == "in"))).scalar()


class WindowCheck:
    """The outbox's check before a WhatsApp reply is queued (``channels.outbox.REPLY_CHECKS``)."""

    def __init__(self, rule: WindowRule) -> None:
        self.rule = rule

    async def __call__(self, s: AsyncSession, client_id: int, now: datetime) -> dict[str, str]:
        return self.rule.reply_meta(await last_inbound(s, client_id), now)
