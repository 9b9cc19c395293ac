"""What every messenger channel (VK, WhatsApp, and the next ones) does in the database besides the intake:
find the client's open conversation to join, correct an edited message, mark an identity blocked, record a
message the agency wrote in the provider's own app, and follow a sent reply's delivery."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.intake import OPEN_STATUSES
from crm_core.models import Contact, ContactKind, Inquiry, InquiryEvent, Message, TimelineEntry, utcnow

log = logging.getLogger("hub.messaging")
DELIVERY_RANK = {"queued": 0, "retry": 0, "sending": 0, "sent": 1, "delivered": 2, "read": 3}


async def client_of(s: AsyncSession, keys: list[tuple[str, str]]) -> int | None:
    """The client known by the first of ``keys`` (``(kind, value)``) that is stored."""
    for kind, value in keys:
        found = (await s.execute(select(Contact.client_id).where(Contact.kind == kind, Contact.value == value))
                 ).scalar()
        if found is not None:
            return int(found)
    return None


async def thread_to_join(s: AsyncSession, keys: list[tuple[str, str]], at: datetime,
                         window: timedelta) -> str | None:
    """The thread of the client's open inquiry, on any channel, last active within ``window``: a client who
    called, then writes in WhatsApp, goes on in the same conversation. None: no such inquiry."""
    client_id = await client_of(s, keys)
    if client_id is None or window <= timedelta(0):
        return None
    active = func.coalesce(Inquiry.last_action_at, Inquiry.created_at)
    row = (await s.execute(
        select(Inquiry.thread_key).where(Inquiry.client_id == client_id, Inquiry.status.in_(OPEN_STATUSES),
                                         active >= at - window, Inquiry.thread_key.is_not(None))
        .order_by(active.desc(), Inquiry.id.desc()).limit(1))).first()
    return str(row[0]) if row else None


async def edit_message(sessions: async_sessionmaker[AsyncSession], channel: str, external_id: str, text: str,
                       notes: tuple[str, ...] = ()) -> bool:
    """The client corrected a message: the new text, the old one kept on the inquiry's history."""
    async with sessions() as s, s.begin():
        message = (await s.execute(select(Message).where(Message.channel == channel,
                                                         Message.external_id == external_id))).scalar()
        if message is None or message.body == text:
            return False
        await s.execute(update(Message).where(Message.id == message.id).values(body=text)
                        .execution_options(synchronize_session=False))
        s.add(InquiryEvent(inquiry_id=message.inquiry_id, at=utcnow(), kind="message_edited",
                           note="; ".join([f"было / was: {message.body[:500]}", *notes])))
    return True


async def set_blocked(sessions: async_sessionmaker[AsyncSession], kind: ContactKind, value: str, blocked: bool,
                      channel: str) -> int | None:
    """The client allowed or forbade the agency's messages: the identity's label and a timeline line."""
    async with sessions() as s, s.begin():
        contact = (await s.execute(select(Contact).where(Contact.kind == kind, Contact.value == value))).scalar()
        if contact is None:
            return None
        contact.label = "blocked" if blocked else None
        s.add(TimelineEntry(client_id=contact.client_id, at=utcnow(), channel=channel,
                            kind=f"{channel}_{'blocked' if blocked else 'unblocked'}"))
        return contact.client_id


async def record_outgoing(sessions: async_sessionmaker[AsyncSession], *, channel: str, keys: list[tuple[str, str]],
                          thread: str, external_id: str, text: str, at: datetime) -> int | None:
    """A message the agency wrote in the provider's own app: kept on the client's open inquiry of that
    dialogue (once, by its id), so the thread in the hub is whole. None when there is no such inquiry."""
    async with sessions() as s:
        try:
            async with s.begin():
                client_id = await client_of(s, keys)
                inquiry = (await s.execute(select(Inquiry).where(
                    Inquiry.client_id == client_id, Inquiry.status.in_(OPEN_STATUSES),
                    (Inquiry.thread_key == thread) | Inquiry.id.in_(
                        select(Message.inquiry_id).where(Message.channel == channel, Message.client_id == client_id)))
                    .order_by(Inquiry.id.desc()).limit(1))).scalar() if client_id else None
                if inquiry is None:
                    return None
                message = Message(inquiry_id=inquiry.id, client_id=client_id, channel=channel,
                                  external_id=external_id, direction="out", body=text, delivery="sent",
                                  created_at=at, meta={"written_in": channel})
                s.add(message)
                inquiry.last_action_at = at
                await s.flush()
                s.add(TimelineEntry(client_id=inquiry.client_id, at=at, kind="message_out", channel=channel,
                                    inquiry_id=inquiry.id, ref_id=message.id, summary=text[:200]))
                return message.id
        except IntegrityError:  # stored before (the same event again)
            return None


async def update_delivery(sessions: async_sessionmaker[AsyncSession], channel: str, external_id: str,
                          status: str, note: str | None = None) -> bool:
    """A provider's report on a sent reply: delivered, read, or failed with the reason. Never backwards
    (a "delivered" that comes after "read" changes nothing)."""
    async with sessions() as s, s.begin():
        message = (await s.execute(select(Message).where(
            Message.channel == channel, Message.external_id == external_id, Message.direction == "out"))).scalar()
        if message is None:
            return False
        if status == "failed":
            values = {"delivery": "undelivered", "delivery_note": note or "failed"}
        elif DELIVERY_RANK.get(status, 0) > DELIVERY_RANK.get(message.delivery or "", -1):
            values = {"delivery": status}
        else:
            return False
        await s.execute(update(Message).where(Message.id == message.id).values(**values)
                        .execution_options(synchronize_session=False))
    log.info("delivery %s message=%s -> %s", channel, message.id, values["delivery"])
    return True
