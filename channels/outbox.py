"""Agents' replies leave through an outbox in the database: queued first, sent by a loop, retried on a
temporary failure, marked undelivered with the reason on a permanent one. A reply an agent wrote is
never lost to a restart or a mail server that is down."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.email.errors import PermanentSendError, TemporarySendError
from connectors.email.smtp import OutgoingEmail, new_message_id
from crm_core.access import Actor, get_inquiry
from crm_core.intake_limits import clean, fit_id
from crm_core.models import (
    Channel,
    Contact,
    ContactKind,
    InquiryEvent,
    Message,
    TimelineEntry,
    utcnow,
)

log = logging.getLogger("hub.outbox")
STALE_SENDING = timedelta(minutes=10)
MAX_REPLY_CHARS = 20_000


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A queued reply as a channel sender needs it."""

    message_id: int
    channel: str
    to: str
    subject: str
    text: str
    external_id: str
    in_reply_to: str | None
    references: tuple[str, ...]
    meta: Mapping[str, Any] | None = None
    """The queued message's meta (a WhatsApp template to send instead of the text…)."""


class ChannelSender(Protocol):
    async def deliver(self, out: Outgoing) -> str | None:
        """Send; may return the provider's id of the sent message (it becomes the message's external id, so
        the provider's delivery reports find it)."""


class MailSender(Protocol):
    async def send(self, mail: OutgoingEmail) -> None: ...


class EmailChannel:
    """Replies by email through an SMTP sender."""

    def __init__(self, sender: MailSender) -> None:
        self._sender = sender

    async def deliver(self, out: Outgoing) -> None:
        await self._sender.send(OutgoingEmail(to=out.to, subject=out.subject, text=out.text,
                                              message_id=out.external_id, in_reply_to=out.in_reply_to,
                                              references=out.references))


class NoEmailAddress(ValueError):
    """The client has no email to answer to."""


class NoAddress(ValueError):
    """The client cannot be reached on this channel."""


# Channels answered at the client's identity on them (a contact of that kind), besides email.
IDENTITY_CHANNELS = {Channel.TELEGRAM: ContactKind.TELEGRAM, Channel.VK: ContactKind.VK,
                     Channel.WHATSAPP: ContactKind.WHATSAPP, Channel.AVITO: ContactKind.AVITO}
REPLY_CHANNELS = (Channel.EMAIL, *IDENTITY_CHANNELS)
ReplyCheck = Callable[[AsyncSession, int, datetime], Awaitable[dict[str, str]]]
REPLY_CHECKS: dict[str, ReplyCheck] = {}
"""A channel's rule before a reply is queued (set by its wiring): the extra meta for the message (a template),
or ValueError with the reason shown to the agent (WhatsApp's 24-hour window)."""
NO_IDENTITY = {Channel.TELEGRAM: "клиент не писал в Telegram / the client has no Telegram chat",
               Channel.VK: "клиент не писал в сообщество VK / the client has not written to the VK community",
               Channel.WHATSAPP: "клиент не писал в WhatsApp / the client has not written in WhatsApp",
               Channel.AVITO: "клиент не писал в Авито / the client has not written on Avito"}


@dataclass(frozen=True, slots=True)
class QueuedReply:
    message_id: int
    to: str


async def queue_email_reply(
    sessions: async_sessionmaker[AsyncSession], actor: Actor, inquiry_id: int, text: str, *, domain: str
) -> QueuedReply:
    return await queue_reply(sessions, actor, inquiry_id, text, channel=Channel.EMAIL, domain=domain)


async def reply_channels(session: AsyncSession, client_id: int) -> list[str]:
    """The channels on which this client can be answered."""
    kinds = set((await session.execute(select(Contact.kind).where(Contact.client_id == client_id))).scalars())
    return [c for c, k in ((Channel.EMAIL, ContactKind.EMAIL), *IDENTITY_CHANNELS.items()) if k in kinds]


async def queue_reply(
    sessions: async_sessionmaker[AsyncSession], actor: Actor, inquiry_id: int, text: str, *, channel: str,
    domain: str,
) -> QueuedReply:
    if channel not in REPLY_CHANNELS:
        raise ValueError(f"ответить можно по email, в Telegram, VK или WhatsApp / no replies on {channel!r}")
    text = clean(text).strip()  # no NUL or lone surrogate: PostgreSQL would refuse what SQLite keeps
    if not text:
        raise ValueError("пустой ответ / empty reply")
    if len(text) > MAX_REPLY_CHARS:
        raise ValueError(f"слишком длинный ответ / reply too long (max {MAX_REPLY_CHARS})")
    now = utcnow()
    async with sessions() as s, s.begin():
        inquiry = await get_inquiry(s, actor, inquiry_id, write=True)
        if channel in IDENTITY_CHANNELS:
            return await _queue_identity(s, actor, inquiry, text, now, Channel(channel))
        to = await _client_email(s, inquiry.client_id)
        thread = (
            await s.execute(
                select(Message.external_id, Message.direction)
                .where(Message.inquiry_id == inquiry.id, Message.channel == Channel.EMAIL)
                .order_by(Message.id)
            )
        ).all()
        ids = tuple(m.external_id for m in thread if m.external_id.startswith("<"))
        last_in = next((m.external_id for m in reversed(thread) if m.direction == "in"
                        and m.external_id.startswith("<")), None)
        subject = inquiry.subject or f"Ваше обращение №{inquiry.id}"
        if not subject.lower().startswith("re:"):
            subject = f"Re: {subject}"
        message = Message(
            inquiry_id=inquiry.id, client_id=inquiry.client_id, channel=Channel.EMAIL,
            external_id=new_message_id(domain), direction="out", author_id=actor.user_id, subject=subject[:500],
            body=text, delivery="queued", next_attempt_at=now, created_at=now,
            meta={"to": to, "in_reply_to": last_in, "references": list(ids[-20:])},
        )
        await _record_reply(s, actor, inquiry, message, now)
    return QueuedReply(message.id, to)


async def _queue_identity(s: AsyncSession, actor: Actor, inquiry, text: str, now: datetime,  # noqa: ANN001
                          channel: Channel) -> QueuedReply:
    """A reply to the client's identity on ``channel`` (their Telegram chat, VK id, WhatsApp number)."""
    row = (await s.execute(select(Contact.value, Contact.label).where(
        Contact.client_id == inquiry.client_id, Contact.kind == IDENTITY_CHANNELS[channel])
        .order_by(Contact.id).limit(1))).first()
    if row is None:
        raise NoAddress(NO_IDENTITY[channel])
    chat = row.value
    if row.label == "blocked" and channel != Channel.TELEGRAM:
        raise NoAddress("клиент запретил сообщения в этом канале / the client has forbidden messages here")
    check = REPLY_CHECKS.get(channel)
    extra = await check(s, inquiry.client_id, now) if check is not None else {}
    message = Message(
        inquiry_id=inquiry.id, client_id=inquiry.client_id, channel=channel,
        external_id=f"out:{new_message_id(str(channel))}", direction="out", author_id=actor.user_id, body=text,
        delivery="queued", next_attempt_at=now, created_at=now, meta={"to": chat, **extra},
    )
    await _record_reply(s, actor, inquiry, message, now)
    return QueuedReply(message.id, chat)


async def _record_reply(s: AsyncSession, actor: Actor, inquiry, message: Message, now: datetime) -> None:  # noqa: ANN001
    """Store a queued reply with its history line and timeline entry."""
    s.add(message)
    inquiry.last_action_at = now
    await s.flush()
    s.add(InquiryEvent(inquiry_id=inquiry.id, at=now, actor_id=actor.user_id, kind="reply",
                       data={"message_id": message.id, "channel": str(message.channel)}))
    s.add(TimelineEntry(client_id=inquiry.client_id, at=now, kind="message_out", channel=message.channel,
                        inquiry_id=inquiry.id, ref_id=message.id, actor_id=actor.user_id, summary=message.body[:200]))
    log.info("reply queued inquiry=%s message=%s channel=%s by user=%s", inquiry.id, message.id, message.channel,
             actor.user_id)


async def _client_email(s: AsyncSession, client_id: int) -> str:
    email = (
        await s.execute(
            select(Contact.value).where(Contact.client_id == client_id, Contact.kind == ContactKind.EMAIL)
            .order_by(Contact.id).limit(1)
        )
    ).scalar()
    if email is None:
        raise NoEmailAddress("у клиента нет email / the client has no email")
    return email


async def deliver_due(
    sessions: async_sessionmaker[AsyncSession], senders: dict[str, ChannelSender], retry_delays: Sequence[float],
    now: datetime | None = None, batch: int = 20, send_timeout_s: float = 120.0,
) -> int:
    """Send what is due; returns how many were handled. Safe with several hub instances: each message is
    claimed with a conditional UPDATE before it is sent. Each channel goes its own way (a mail server
    that never answers does not hold Telegram replies back), each send has a hard deadline, and a channel
    whose server is unreachable is left for this pass after its first failure (the rest wait, untried)."""
    now = now or utcnow()
    async with sessions() as s:
        due = (
            await s.execute(
                select(Message.id, Message.channel).where(
                    Message.direction == "out", Message.channel.in_(list(senders)),
                    or_(
                        Message.delivery.in_(("queued", "retry")) & (Message.next_attempt_at <= now),
                        (Message.delivery == "sending") & (Message.next_attempt_at <= now - STALE_SENDING),
                    ),
                ).order_by(Message.id).limit(batch)
            )
        ).all()
    by_channel: dict[str, list[int]] = {}
    for message_id, channel in due:
        by_channel.setdefault(str(channel), []).append(message_id)
    done = await asyncio.gather(*(_deliver_channel(sessions, senders, ids, retry_delays, now, send_timeout_s)
                                  for ids in by_channel.values()))
    return sum(done)


async def _deliver_channel(sessions: async_sessionmaker[AsyncSession], senders: dict[str, ChannelSender],
                           ids: list[int], retry_delays: Sequence[float], now: datetime, send_timeout_s: float) -> int:
    handled = 0
    for message_id in ids:
        if await _claim(sessions, message_id, now):
            reached = await _deliver_one(sessions, senders, message_id, retry_delays, now, send_timeout_s)
            handled += 1
            if not reached:
                break
    return handled


async def _claim(sessions: async_sessionmaker[AsyncSession], message_id: int, now: datetime) -> bool:
    async with sessions() as s, s.begin():
        result = await s.execute(
            update(Message)
            .where(Message.id == message_id, or_(  # still due: another instance may have claimed it meanwhile
                Message.delivery.in_(("queued", "retry")) & (Message.next_attempt_at <= now),
                (Message.delivery == "sending") & (Message.next_attempt_at <= now - STALE_SENDING)))
            .values(delivery="sending", next_attempt_at=now, attempts=Message.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


async def _deliver_one(sessions: async_sessionmaker[AsyncSession], senders: dict[str, ChannelSender],  # noqa: PLR0913
                       message_id: int, retry_delays: Sequence[float], now: datetime,
                       send_timeout_s: float = 120.0) -> bool:
    """Send one claimed message and record the outcome; False when its server could not be reached.
    Logs name the message and the error's type: the error's text may quote an address."""
    async with sessions() as s:
        m = await s.get(Message, message_id)
        assert m is not None
        out = Outgoing(message_id=m.id, channel=m.channel, to=str(m.meta["to"]), subject=m.subject or "",
                       text=m.body, external_id=m.external_id, in_reply_to=m.meta.get("in_reply_to"),
                       references=tuple(m.meta.get("references", ())), meta=dict(m.meta))
        attempts = m.attempts
    reached = True
    values: dict[str, object]
    try:
        try:
            async with asyncio.timeout(send_timeout_s):
                sent_id = await senders[out.channel].deliver(out)
        except TimeoutError:
            raise TemporarySendError(f"no answer within {send_timeout_s:g} s") from None
        values = {"delivery": "sent", "delivery_note": None, "next_attempt_at": None}
        if isinstance(sent_id, str) and sent_id:
            values["external_id"] = fit_id(sent_id)
        log.info("reply message=%s sent (attempt %d)", message_id, attempts)
    except TemporarySendError as exc:
        reached = False
        if attempts > len(retry_delays):
            values = {"delivery": "undelivered", "next_attempt_at": None,
                      "delivery_note": f"gave up after {attempts} attempts: {exc}"}
        else:
            delay = max(retry_delays[attempts - 1], float(getattr(exc, "retry_after", None) or 0))
            values = {"delivery": "retry", "delivery_note": str(exc), "next_attempt_at": now + timedelta(seconds=delay)}
        log.warning("reply message=%s attempt %d failed (%s) -> %s", message_id, attempts, type(exc).__name__,
                    values["delivery"])
    except PermanentSendError as exc:
        values = {"delivery": "undelivered", "delivery_note": str(exc), "next_attempt_at": None}
        log.warning("reply message=%s undelivered (%s)", message_id, type(exc).__name__)
    async with sessions() as s, s.begin():
        await s.execute(update(Message).where(Message.id == message_id).values(**values)
                        .execution_options(synchronize_session=False))
    return reached


__all__ = ["EmailChannel", "NoAddress", "NoEmailAddress", "Outgoing", "QueuedReply", "deliver_due",
           "queue_email_reply", "queue_reply", "reply_channels"]
