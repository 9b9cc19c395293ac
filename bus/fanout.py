"""Live pushes across hub instances through PostgreSQL LISTEN/NOTIFY: a browser connected to any
instance gets the pop-ups and updates produced on any other."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

import asyncpg

from bus.events import Push
from bus.settings import ClusterSettings

log = logging.getLogger("hub.fanout")
CHANNEL = "hub_push"
MAX_PAYLOAD = 7900  # PostgreSQL refuses NOTIFY payloads of 8000 bytes and more


class PgFanout:
    def __init__(self, dsn: str, deliver: Callable[[tuple[int, ...], str, dict], object], *,
                 retry_s: float = 1.0) -> None:
        self.dsn = dsn
        self._deliver = deliver
        self._retry_s = retry_s
        self._listener: asyncpg.Connection | None = None
        self._sender: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self.received = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="fanout-listen")
        async with asyncio.timeout(10):
            await self._ready.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for conn in (self._listener, self._sender):
            if conn is not None:
                conn.terminate()

    async def publish(self, push: Push) -> None:
        payload = json.dumps({"u": list(push.user_ids), "k": push.kind, "p": push.payload}, ensure_ascii=False,
                             default=str)
        if len(payload.encode()) > MAX_PAYLOAD:
            log.warning("push %s too large for NOTIFY (%d bytes): delivered on this instance only", push.kind,
                        len(payload))
            self._deliver(push.user_ids, push.kind, push.payload)
            return
        try:
            if self._sender is None or self._sender.is_closed():
                self._sender = await asyncpg.connect(self.dsn, timeout=5)
            await self._sender.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("fan-out unavailable (%s): push delivered on this instance only", exc)
            self._sender = None
            self._deliver(push.user_ids, push.kind, push.payload)

    async def _listen(self) -> None:
        while True:
            try:
                self._listener = await asyncpg.connect(self.dsn, timeout=5)
                await self._listener.add_listener(CHANNEL, self._on_notify)
                self._ready.set()
                while not self._listener.is_closed():
                    await asyncio.sleep(self._retry_s)
                    await self._listener.fetchval("SELECT 1")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reconnect and listen again
                log.warning("fan-out listener lost (%s); reconnecting", exc)
            await asyncio.sleep(self._retry_s)

    def _on_notify(self, _conn, _pid, _channel, payload: str) -> None:  # noqa: ANN001
        try:
            data = json.loads(payload)
            self.received += 1
            self._deliver(tuple(data["u"]), data["k"], data["p"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("bad fan-out message skipped: %s", exc)


def make_fanout(settings: ClusterSettings, pg_dsn: str | None,
                deliver: Callable[[tuple[int, ...], str, dict], object]) -> PgFanout | None:
    """The broker carrying pushes between instances, or None for a single SQLite instance."""
    if settings.broker == "postgres":
        return PgFanout(pg_dsn, deliver) if pg_dsn is not None else None
    raise ValueError(f"fan-out broker {settings.broker!r} is not available yet")
