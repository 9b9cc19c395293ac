"""The notifier: a notice is stored once per user (unique dedup key, so a second hub instance or a second
look at the same happening stores nothing), shown in the browser, and queued for the user's Telegram chat
and email per their preferences. The queue is sent by ``deliver_due`` with retries, like the replies'
outbox."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bus.events import Push
from connectors.email.errors import PermanentSendError, TemporarySendError
from crm_core.db import dialect_insert
from crm_core.group_commit import GroupCommit
from crm_core.models import User, utcnow
from crm_core.models.notifications import NoticeDelivery, Notification
from notifications.prefs import channels_for, load_prefs
from routing.calendar import WorkCalendar

log = logging.getLogger("hub.notifications")
STALE_SENDING = timedelta(minutes=10)
CLIENT_FACING = ("greeting:",)  # deliveries to clients: only in working time
Publish = Callable[[Push], Awaitable[None]]


class Sender(Protocol):
    async def deliver(self, to: str, subject: str, text: str) -> None: ...


@dataclass(frozen=True, slots=True)
class _Notice:
    kind: str
    user_ids: tuple[int, ...]
    text: str
    url: str | None
    dedup_key: str
    toast: bool


@dataclass(frozen=True, slots=True)
class Stored:
    """A notice that was new for this user (not a repeat)."""

    notification_id: int
    user_id: int


def insert_ignoring_duplicates(s: AsyncSession, table, index_elements: list[str]):  # noqa: ANN001, ANN201
    """INSERT … ON CONFLICT DO NOTHING on either backend: the unique key decides "once"."""
    return dialect_insert(s, table).on_conflict_do_nothing(index_elements=index_elements)


class Notifier:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], publish: Publish, *,
                 senders: dict[str, Sender] | None = None, retry_delays: Sequence[float] = (60, 300, 1800),
                 public_url: str = "", clock: Callable[[], datetime] = utcnow,
                 work: WorkCalendar | None = None) -> None:
        self.work = work  # clients' greetings leave in working time only, retries included
        self.sessions = sessions
        self.publish = publish
        self.senders: dict[str, Sender] = dict(senders or {})
        self.retry_delays = tuple(retry_delays)
        self.public_url = public_url.rstrip("/")
        self.clock = clock
        self.wakeup = asyncio.Event()
        self.stored = 0
        self.sent = 0
        self._group: GroupCommit[_Notice, tuple[list[Stored], tuple[int, ...], int]] = GroupCommit(
            self._store, self._store_one, name="notices-group-commit")

    async def notify(self, kind: str, user_ids: Iterable[int], text: str, url: str | None = None, *,
                     dedup_key: str, toast: bool = True) -> list[Stored]:
        """Store the notice for each user who does not have it yet, push it to their browsers and queue
        it for Telegram/email as they chose. Returns the notices that were new. ``toast=False`` where the
        producer's own live frame already pops up on the page (team offers): the browser only counts it.
        Notices that come together (a batch of routed inquiries) are stored in one transaction."""
        ids = tuple(sorted({int(u) for u in user_ids if u}))
        if not ids:
            return []
        notice = _Notice(kind, ids, text[:4000], url, dedup_key[:200], toast)
        new, browser, queued = await self._group.submit(notice)
        self.stored += len(new)
        if browser:
            await self.publish(Push(browser, "notice", {"kind": kind, "text": notice.text, "url": url or "",
                                                        "toast": toast}))
        if queued:
            self.wakeup.set()
        if new:
            log.info("notice %s (%s) stored for users %s", dedup_key, kind, [n.user_id for n in new])
        return new

    async def _store_one(self, notice: _Notice) -> tuple[list[Stored], tuple[int, ...], int]:
        return (await self._store([notice]))[0]

    async def _store(self, notices: list[_Notice]) -> list[tuple[list[Stored], tuple[int, ...], int]]:
        now = self.clock()
        wanted = {u for n in notices for u in n.user_ids}
        out = []
        async with self.sessions() as s, s.begin():
            users = {u.id: u for u in (await s.execute(
                select(User).where(User.id.in_(wanted), User.is_active.is_(True)))).scalars()}
            prefs = await load_prefs(s, users)
            rows = [{"user_id": uid, "kind": n.kind, "text": n.text, "url": n.url, "dedup_key": n.dedup_key,
                     "created_at": now} for n in notices for uid in n.user_ids if uid in users]
            table = Notification.__table__
            fresh = {(uid, key): notice_id for notice_id, uid, key in (await s.execute(
                insert_ignoring_duplicates(s, table, ["user_id", "dedup_key"])
                .returning(table.c.id, table.c.user_id, table.c.dedup_key), rows)).all()} if rows else {}
            for n in notices:
                new: list[Stored] = []
                browser: list[int] = []
                queued = 0
                for uid in n.user_ids:
                    notice_id = fresh.pop((uid, n.dedup_key), None)  # a twin in the same group: once
                    if notice_id is None:
                        continue  # already notified of this happening (or no such active user)
                    new.append(Stored(notice_id, uid))
                    channels = channels_for(prefs.get(uid), n.kind)
                    if "browser" in channels:
                        browser.append(uid)
                    user = users[uid]
                    for channel, address in (("telegram", user.telegram_chat_id), ("email", user.email)):
                        if channel in channels and address and channel in self.senders:
                            queued += await self.queue(s, f"notice:{notice_id}", channel, address,
                                                       _subject(n.text), self._with_link(n.text, n.url), now)
                out.append((new, tuple(browser), queued))
        return out

    def _with_link(self, text: str, url: str | None) -> str:
        if url and self.public_url and url.startswith("/"):
            return f"{text}\n{self.public_url}{url}"
        return text

    @staticmethod
    async def queue(s: AsyncSession, source: str, channel: str, to: str, subject: str, text: str,
                    now: datetime) -> int:
        """Queue one delivery (once per source and channel); 1 when it was new."""
        stmt = insert_ignoring_duplicates(s, NoticeDelivery.__table__, ["source", "channel"]).values(
            source=source, channel=channel, to=to[:320], subject=subject[:300], text=text, status="queued",
            attempts=0, next_attempt_at=now, created_at=now,
        ).returning(NoticeDelivery.__table__.c.id)
        return 1 if (await s.execute(stmt)).scalar() is not None else 0

    # delivery -----------------------------------------------------------------------------------------
    async def deliver_due(self, batch: int = 20) -> int:
        """Send what is due; returns how many were tried. Each row is claimed with a conditional UPDATE
        before it is sent, so two instances never send the same one."""
        now = self.clock()
        channels = list(self.senders)
        if not channels:
            return 0
        is_due = or_(NoticeDelivery.status.in_(("queued", "retry")) & (NoticeDelivery.next_attempt_at <= now),
                     (NoticeDelivery.status == "sending") & (NoticeDelivery.next_attempt_at <= now - STALE_SENDING))
        async with self.sessions() as s:
            due = (await s.execute(select(NoticeDelivery.id, NoticeDelivery.source)
                                   .where(NoticeDelivery.channel.in_(channels), is_due)
                                   .order_by(NoticeDelivery.id).limit(batch))).all()
        tried = 0
        for delivery_id, source in due:
            if source.startswith(CLIENT_FACING) and self.work is not None and not self.work.is_working_time(now):
                later = self.work.next_working_time(now)
                async with self.sessions() as s, s.begin():  # not at night: it waits for the morning
                    await s.execute(update(NoticeDelivery).where(NoticeDelivery.id == delivery_id, is_due)
                                    .values(next_attempt_at=later).execution_options(synchronize_session=False))
                continue
            async with self.sessions() as s, s.begin():
                won = await s.execute(
                    update(NoticeDelivery).where(NoticeDelivery.id == delivery_id, is_due)  # the claim re-checks
                    .values(status="sending", next_attempt_at=now, attempts=NoticeDelivery.attempts + 1)
                    .execution_options(synchronize_session=False))
                if won.rowcount != 1:
                    continue
                row = await s.get(NoticeDelivery, delivery_id)
                assert row is not None
                channel, to, subject, text, attempts = row.channel, row.to, row.subject, row.text, row.attempts
            tried += 1
            values = await self._send(delivery_id, channel, to, subject, text, attempts, now)
            async with self.sessions() as s, s.begin():
                await s.execute(update(NoticeDelivery).where(NoticeDelivery.id == delivery_id).values(**values)
                                .execution_options(synchronize_session=False))
        return tried

    async def _send(self, delivery_id: int, channel: str, to: str, subject: str, text: str, attempts: int,
                    now: datetime) -> dict:
        try:
            await self.senders[channel].deliver(to, subject, text)
        except PermanentSendError as exc:
            log.warning("notice delivery=%s by %s failed for good: %s", delivery_id, channel, exc)
            return {"status": "failed", "note": str(exc)[:1000], "next_attempt_at": None}
        except Exception as exc:  # noqa: BLE001 - a temporary failure or an unexpected one: retried
            reason = str(exc) if isinstance(exc, TemporarySendError) else f"{type(exc).__name__}: {exc}"
            if attempts > len(self.retry_delays):
                log.warning("notice delivery=%s by %s gave up after %d attempts: %s", delivery_id, channel,
                            attempts, reason)
                return {"status": "failed", "note": f"gave up after {attempts} attempts: {reason}"[:1000],
                        "next_attempt_at": None}
            log.info("notice delivery=%s by %s attempt %d failed: %s", delivery_id, channel, attempts, reason)
            return {"status": "retry", "note": reason[:1000],
                    "next_attempt_at": now + timedelta(seconds=self.retry_delays[attempts - 1])}
        self.sent += 1
        return {"status": "sent", "note": None, "next_attempt_at": None, "sent_at": now}


def _subject(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first[:120] or "Уведомление / Notice"


__all__ = ["Notifier", "Sender", "Stored", "insert_ignoring_duplicates"]
