"""The webhooks' sender: posts the outbox, on one instance (the leader on PostgreSQL, ``bus.leader``).

Every post is its own task with a hard deadline (``timeout_s``), at most ``per_subscription`` in flight to one
receiver and ``max_in_flight`` in all, so a receiver that hangs holds only its own slots: the loop, the other
receivers and the hub go on. One inquiry's events go in order: a delivery waits while an earlier one of the
same inquiry for the same subscription is still open (``queries.due``). A failure is retried with doubling
waits for 24 h (``core.next_attempt``), then the delivery is ``failed``; each attempt's answer is kept."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.models import Task, utcnow
from crm_core.models.webhooks import WebhookDelivery, WebhookSubscription
from webhooks import queries
from webhooks.core import SIGNATURE_HEADER, BadUrl, check_url, next_attempt, refused_address, retryable, sign
from webhooks.payloads import task_occurrence
from webhooks.settings import WebhookSettings

log = logging.getLogger("hub.webhooks")
EXCERPT = 500
USER_AGENT = "contact-hub-webhooks/1"


class GuardedResolver(ThreadedResolver):
    """Names are resolved here and every address is checked before a connection is made to it, so a name
    cannot lead the hub to an address it refuses (cloud metadata; private ones when they are not allowed)."""

    def __init__(self, allow_private: bool) -> None:
        super().__init__()
        self.allow_private = allow_private

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        found = await super().resolve(host, port, family)
        allowed = [r for r in found if not refused_address(r["host"], self.allow_private)]
        if not allowed:
            raise OSError(f"{host} resolves only to refused addresses")
        return allowed


def excerpt(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace")
    return "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in text)[:EXCERPT]


class Sender:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: WebhookSettings,
                 recorder: Any = None) -> None:
        self.sessions = sessions
        self.settings = settings
        self.recorder = recorder  # webhooks.recorder.Recorder: due tasks are queued through it
        self.wakeup = asyncio.Event()
        self.sent = 0
        self.failed_attempts = 0
        self.last_error: str | None = None
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._per_sub: Counter[int] = Counter()
        self._http: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._tasks_seen_at = 0.0

    @property
    def state(self) -> str:
        if self._task is None:
            return "stopped"
        return "degraded" if self.last_error else "running"

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    def in_flight_to(self, subscription_id: int) -> int:
        return self._per_sub[subscription_id]

    def poke(self) -> None:
        self.wakeup.set()

    async def start(self) -> None:
        if self._task is not None:
            return
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(self.settings.allow_private),
                                         limit=self.settings.max_in_flight, limit_per_host=0)
        self._http = aiohttp.ClientSession(connector=connector, headers={"User-Agent": USER_AGENT})
        self._task = asyncio.create_task(self._run(), name="webhooks-sender")

    async def stop(self) -> None:
        task, self._task = self._task, None
        tasks = [t for t in (task, *self._inflight.values()) if t is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self._http is not None:
            await self._http.close()
            self._http = None
        # what was cut mid-post stays queued: the next sender posts it again (the receiver de-duplicates)

    async def _run(self) -> None:
        while True:
            self.wakeup.clear()
            try:
                if time.monotonic() - self._tasks_seen_at >= self.settings.task_scan_s:
                    await self.scan_tasks()
                    self._tasks_seen_at = time.monotonic()
                await self.run_once()
                self.last_error = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the loop outlives a bad moment of the database
                self.last_error = type(exc).__name__
                log.error("webhooks: sender pass failed (%s); trying again in %.0fs", type(exc).__name__,
                          self.settings.poll_s)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.poll_s):
                    await self.wakeup.wait()

    async def run_once(self, now: datetime | None = None) -> int:
        """Start the posts that are due and have a free slot; returns how many were started."""
        now = now or utcnow()
        room = self.settings.max_in_flight - len(self._inflight)
        if room <= 0:
            return 0
        async with self.sessions() as s:
            subs = await queries.active_ids(s)
            free = {sub: min(room, self.settings.per_subscription - self._per_sub[sub]) for sub in subs}
            rows = await queries.due(s, now, free, set(self._inflight))
        started = 0
        for row_id, sub_id in rows:
            if len(self._inflight) >= self.settings.max_in_flight:
                break
            if self._per_sub[sub_id] >= self.settings.per_subscription:
                continue
            self._per_sub[sub_id] += 1
            self._inflight[row_id] = asyncio.create_task(self._post(row_id, sub_id), name=f"webhook-{row_id}")
            started += 1
        return started

    async def scan_tasks(self) -> int:
        """Queue ``task.due`` for open tasks whose time has come (since the subscription was made, and within
        the last day), once per task and due time."""
        if self.recorder is None:
            return 0
        subs = [a for a in await self.recorder.subscriptions() if "task.due" in a.events]
        if not subs:
            return 0
        now = utcnow()
        async with self.sessions() as s:
            made = dict((await s.execute(select(WebhookSubscription.id, WebhookSubscription.created_at)
                                          .where(WebhookSubscription.id.in_([a.id for a in subs])))).all())
            since = max(now - timedelta(days=1), min(made.values(), default=now))
            tasks = (await s.execute(select(Task).where(Task.status == "open", Task.due_at.is_not(None),
                                                        Task.due_at <= now, Task.due_at > since)
                                     .order_by(Task.due_at, Task.id).limit(1000))).scalars().all()
        pairs = [(a.id, task_occurrence(t)) for t in tasks for a in subs
                 if t.due_at is not None and t.due_at > made.get(a.id, now)]
        return await self.recorder.enqueue(pairs)

    async def _post(self, row_id: int, sub_id: int) -> None:
        try:
            await self._attempt(row_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug or the database: the row goes back in line
            log.error("webhooks: delivery row=%s not recorded (%s)", row_id, type(exc).__name__)
            with contextlib.suppress(Exception):
                await queries.finish(self.sessions, row_id, {"status": "retry", "next_attempt_at": utcnow()
                                                             + timedelta(seconds=self.settings.retry_base_s)})
        finally:
            self._inflight.pop(row_id, None)
            self._per_sub[sub_id] -= 1
            self.wakeup.set()  # the next one in line (of this inquiry, this receiver) may go now

    async def _attempt(self, row_id: int) -> None:
        async with self.sessions() as s:
            d = await s.get(WebhookDelivery, row_id)
            sub = await s.get(WebhookSubscription, d.subscription_id) if d is not None else None
        if d is None or sub is None:
            return
        status, text, error = await self._send(sub.url, sub.secret, d)
        now = utcnow()
        attempts = d.attempts + 1
        values: dict[str, object] = {"response_status": status, "response_excerpt": text, "error": error,
                                     "attempts": attempts, "last_attempt_at": now}
        if status is not None and not retryable(status):
            values.update(status="delivered", delivered_at=now, next_attempt_at=None)
            self.sent += 1
        else:
            self.failed_attempts += 1
            s_ = self.settings
            at = next_attempt(attempts, d.retry_since, now, base_s=s_.retry_base_s, max_s=s_.retry_max_s,
                              give_up_after_s=s_.give_up_after_s)
            values.update(status="retry" if at else "failed", next_attempt_at=at)
        await queries.finish(self.sessions, row_id, values)
        log.info("webhook delivery=%s row=%s subscription=%s type=%s attempt=%d -> %s (%s)", d.delivery_id, row_id,
                 sub.id, d.event_type, attempts, values["status"], status if status is not None else error)

    async def _send(self, url: str, secret: str, d: WebhookDelivery) -> tuple[int | None, str | None, str | None]:
        """(HTTP status, an excerpt of the answer, the error) of one POST; the error starts with its kind:
        ``timeout:``, ``network:`` or ``refused:`` (the page names it in Russian)."""
        assert self._http is not None
        try:
            check_url(url, self.settings.allow_private)
        except BadUrl as exc:
            return None, None, f"refused: {exc.code}"
        headers = {"Content-Type": "application/json; charset=utf-8", "X-Hub-Event": d.event_type,
                   "X-Hub-Delivery": d.delivery_id, SIGNATURE_HEADER: sign(secret, int(time.time()), d.body)}
        try:
            async with asyncio.timeout(self.settings.timeout_s):
                async with self._http.post(url, data=d.body.encode(), headers=headers, allow_redirects=False) as resp:
                    raw = await resp.content.read(EXCERPT * 4)
                    return resp.status, excerpt(raw), None
        except TimeoutError:
            return None, None, f"timeout: {self.settings.timeout_s:g} s"
        except (aiohttp.ClientError, OSError) as exc:
            return None, None, f"network: {type(exc).__name__}: {str(exc)[:200]}"
