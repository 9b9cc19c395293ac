"""Outgoing SMS in the hub: an SMS about an inquiry (a viewing reminder, a scheduled callback, the self-service
link) is queued in the outbox like a reply, unless the client opted out of SMS or the day's cap is reached;
SMS.ru's cost lands on the message and its delivery reports on its delivery state.

A client's choice is a timeline line (``sms_opt_out`` / ``sms_opt_in``): the latest one decides, and the
agency sees when it was made."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.messaging.queries import update_delivery
from connectors.email.smtp import new_message_id
from crm_core.intake_limits import clean
from crm_core.models import Channel, Contact, ContactKind, Inquiry, Message, TimelineEntry, utcnow

log = logging.getLogger("hub.sms")
OPT = ("sms_opt_out", "sms_opt_in")


class SmsRefused(ValueError):
    """Not queued: the reason is shown to whoever asked (opt-out, no phone, the day's cap); ``reason`` names it
    for a page's text: text, no_inquiry, no_phone, opted_out, cap."""

    def __init__(self, text: str, reason: str = "text") -> None:
        super().__init__(text)
        self.reason = reason


async def opted_out(s: AsyncSession, client_id: int) -> bool:
    latest = (await s.execute(select(TimelineEntry.kind).where(
        TimelineEntry.client_id == client_id, TimelineEntry.kind.in_(OPT))
        .order_by(TimelineEntry.at.desc(), TimelineEntry.id.desc()).limit(1))).scalar()
    return latest == "sms_opt_out"


async def set_opt_out(sessions: async_sessionmaker[AsyncSession], client_id: int, out: bool,
                      actor_id: int | None = None) -> None:
    async with sessions() as s, s.begin():
        s.add(TimelineEntry(client_id=client_id, at=utcnow(), kind=OPT[0] if out else OPT[1], channel=Channel.SMS,
                            actor_id=actor_id))
    log.info("sms client=%s opted %s", client_id, "out" if out else "in")


async def queue_sms(sessions: async_sessionmaker[AsyncSession], inquiry_id: int, text: str, *, kind: str,
                    daily_cap: int, max_text: int = 670) -> int:
    """Queue an SMS to the inquiry's client's phone; the message's id. ``kind``: reminder, callback, link…"""
    text = clean(text).strip()
    if not text or len(text) > max_text:
        raise SmsRefused(f"текст SMS пуст или длиннее {max_text} символов / SMS text empty or too long", "text")
    now = utcnow()
    async with sessions() as s, s.begin():
        inquiry = await s.get(Inquiry, inquiry_id)
        if inquiry is None:
            raise SmsRefused("нет такого обращения / no such inquiry", "no_inquiry")
        phone = (await s.execute(select(Contact.value).where(
            Contact.client_id == inquiry.client_id, Contact.kind == ContactKind.PHONE).order_by(Contact.id).limit(1))
        ).scalar()
        if phone is None:
            raise SmsRefused("у клиента нет телефона / the client has no phone", "no_phone")
        if await opted_out(s, inquiry.client_id):
            raise SmsRefused("клиент отказался от SMS / the client has opted out of SMS", "opted_out")
        sent = (await s.execute(select(func.count()).select_from(Message).where(
            Message.channel == Channel.SMS, Message.direction == "out",
            Message.created_at >= now - timedelta(hours=24)))).scalar_one()
        if sent >= daily_cap:
            log.warning("sms cap of %d in 24 hours reached; inquiry=%s not sent", daily_cap, inquiry_id)
            raise SmsRefused(f"достигнут лимит SMS за сутки ({daily_cap}) / the daily SMS cap is reached", "cap")
        message = Message(inquiry_id=inquiry.id, client_id=inquiry.client_id, channel=Channel.SMS,
                          external_id=f"out:{new_message_id('sms')}", direction="out", body=text, delivery="queued",
                          next_attempt_at=now, created_at=now, meta={"to": phone.lstrip("+"), "kind": kind[:40]})
        s.add(message)
        await s.flush()
        s.add(TimelineEntry(client_id=inquiry.client_id, at=now, kind="message_out", channel=Channel.SMS,
                            inquiry_id=inquiry.id, ref_id=message.id, summary=text[:200]))
    log.info("sms queued inquiry=%s message=%s kind=%s", inquiry_id, message.id, kind)
    return message.id


async def latest_inquiry(s: AsyncSession, client_id: int) -> int | None:
    """The client's latest inquiry: an SMS not about one inquiry (the self-service link) is kept on it."""
    return (await s.execute(select(Inquiry.id).where(Inquiry.client_id == client_id)
                            .order_by(Inquiry.created_at.desc(), Inquiry.id.desc()).limit(1))).scalar()


class SmsRecords:
    """What the connector reports, into the database: each SMS's cost and delivery."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def cost(self, message_id: int, cost: float) -> None:
        async with self._sessions() as s, s.begin():
            m = await s.get(Message, message_id)
            if m is not None:
                await s.execute(update(Message).where(Message.id == message_id).values(meta={**m.meta, "cost": cost})
                                .execution_options(synchronize_session=False))

    async def report(self, sms_id: str, status: str, note: str) -> None:
        await update_delivery(self._sessions, Channel.SMS, sms_id, status, note or None)
