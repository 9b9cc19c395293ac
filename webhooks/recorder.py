"""The webhooks' recorder: every instance turns the events it publishes into outbox rows.

The bus hands each event over inline (``subscribe_inline``): it is put in a queue, in the order published,
before any other handler runs — so an inquiry's ``opened`` is queued before routing's ``assigned`` of it,
and the publisher (the intake, a page) never waits on the webhooks. One writer task reads the queue, builds
each event's data and writes the rows, retrying while the database is away; the queue is bounded and what
overflows it is counted and logged by ids. On a stop the queue is written out first (a few seconds at most).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bus.events import Event
from crm_core.models import utcnow
from webhooks import queries
from webhooks.payloads import PRODUCES, Occurrence, occurrences
from webhooks.settings import WebhookSettings

log = logging.getLogger("hub.webhooks")
QUEUE_MAX = 20_000
BATCH = 200


class Recorder:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: WebhookSettings,
                 wake_sender: Callable[[], None] = lambda: None) -> None:
        self.sessions = sessions
        self.settings = settings
        self.wake_sender = wake_sender
        self.queue: asyncio.Queue[tuple[Event | Occurrence, datetime]] = asyncio.Queue(QUEUE_MAX)
        self.dropped = 0
        self.written = 0
        self.last_error: str | None = None
        self._subs: list[queries.Active] | None = None
        self._subs_at = 0.0
        self._task: asyncio.Task[None] | None = None
        self.sender: Any = None  # webhooks.sender.Sender on the instance that may send (wired)

    @property
    def state(self) -> str:
        if self._task is None:
            return "stopped"
        return "degraded" if self.last_error else "running"

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="webhooks-recorder")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(3):
                await self.queue.join()
        if not self.queue.empty():
            log.error("webhooks: stopping with %d events not queued for sending", self.queue.qsize())
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def flush(self) -> None:
        """Wait until every event handed over so far is in the outbox."""
        await self.queue.join()

    def invalidate(self) -> None:
        """A subscription was made, changed or disabled here: read them again before the next event."""
        self._subs = None

    # --- in ------------------------------------------------------------------------------------
    def take(self, item: Event | Occurrence) -> None:
        """Synchronous and quick (the bus's inline hand-over, the telephony listener)."""
        fresh = time.monotonic() - self._subs_at <= self.settings.subscriptions_ttl_s
        if self._subs is not None and fresh and not self._wanted(item):
            return  # no subscription wants it (known without the database)
        try:
            self.queue.put_nowait((item, utcnow()))
        except asyncio.QueueFull:
            self.dropped += 1
            log.error("webhooks: queue full, %s dropped (%d so far)", type(item).__name__, self.dropped)

    def _wanted(self, item: Event | Occurrence) -> bool:
        types = {item.event_type} if isinstance(item, Occurrence) else PRODUCES.get(type(item), frozenset())
        return any(sub.events & types for sub in self._subs or ())

    # --- out to the database -------------------------------------------------------------------
    async def subscriptions(self) -> list[queries.Active]:
        ttl = self.settings.subscriptions_ttl_s
        if self._subs is None or time.monotonic() - self._subs_at > ttl:
            async with self.sessions() as s:
                self._subs = await queries.active_subscriptions(s)
            self._subs_at = time.monotonic()
        return self._subs

    async def record(self, items: list[tuple[Event | Occurrence, datetime]]) -> int:
        """Write the rows for these events (each with the moment it was handed over), one per subscription
        that wants it; returns how many."""
        subs = await self.subscriptions()
        wanted = frozenset().union(*(a.events for a in subs)) if subs else frozenset()
        pairs: list[tuple[int, Occurrence]] = []
        if wanted:
            async with self.sessions() as s:
                for item, at in items:
                    found = [item] if isinstance(item, Occurrence) else await occurrences(s, item, wanted, at)
                    pairs.extend((a.id, o) for o in found for a in subs if o.event_type in a.events
                                 and (o.made_at is None or o.made_at >= a.created_at))
        return await self.enqueue(pairs)

    async def enqueue(self, pairs: list[tuple[int, Occurrence]]) -> int:
        written = await queries.enqueue(self.sessions, pairs)
        self.written += written
        if written:
            self.wake_sender()
        return written

    async def _run(self) -> None:
        delay = 0.2
        while True:
            batch = [await self.queue.get()]
            while len(batch) < BATCH and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            while True:
                try:
                    await self.record(batch)
                    self.last_error = None
                    delay = 0.2
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - the database may be away: keep the events, try again
                    self.last_error = type(exc).__name__
                    log.error("webhooks: queueing %d events failed (%s); retrying in %.1fs", len(batch),
                              type(exc).__name__, delay)
                    await asyncio.sleep(delay)
                    delay = min(5.0, delay * 2)
            for _ in batch:
                self.queue.task_done()
