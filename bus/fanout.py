"""Live pushes across hub instances: a browser connected to any instance gets the pop-ups and updates
produced on any other. The broker is chosen by ``[cluster] broker``: PostgreSQL LISTEN/NOTIFY on the hub's
own database (the default), Redis pub/sub or NATS.

Every instance publishes each push to the broker and delivers what it receives (its own pushes included)
to the browsers connected to it. When the broker is unreachable a push is delivered on the producing
instance only, and the listener reconnects in the background.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from bus import pg
from bus.events import Push
from bus.settings import ClusterSettings

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger("hub.fanout")
CHANNEL = "hub_push"
MAX_PAYLOAD = 7900  # PostgreSQL refuses NOTIFY payloads of 8000 bytes and more
Deliver = Callable[[tuple[int, ...], str, dict], object]


def encode(push: Push) -> str:
    return json.dumps({"u": list(push.user_ids), "k": push.kind, "p": push.payload, "t": time.time()},
                      ensure_ascii=False, default=str)


class _Fanout:
    """What every broker shares: the wire format, local delivery and the listener's reconnect loop."""

    broker = "?"

    def __init__(self, deliver: Deliver, *, channel: str = CHANNEL, retry_s: float = 1.0) -> None:
        self._deliver = deliver
        self.channel = channel
        self._retry_s = retry_s
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self.received = 0
        self.published = 0
        self.local_only = 0  # pushes the broker could not take (delivered on this instance only)
        self.latency_s: list[float] = []  # publish → receive, the last 1000 (bench.scale reads it)

    @property
    def state(self) -> str:
        return f"{self.broker}:{'up' if self._ready.is_set() else 'down'}"

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name=f"fanout-{self.broker}")
        try:
            async with asyncio.timeout(10):
                await self._ready.wait()
        except TimeoutError:
            log.error("fan-out broker %s unreachable: pushes stay on this instance until it is back", self.broker)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self._close()

    async def publish(self, push: Push) -> None:
        payload = encode(push)
        try:
            await self._send(payload)
            self.published += 1
        except Exception as exc:  # noqa: BLE001 - a broker outage must not lose the push here
            log.warning("fan-out %s unavailable (%s): push delivered on this instance only", self.broker, exc)
            self._local(push)

    def _local(self, push: Push) -> None:
        self.local_only += 1
        self._deliver(push.user_ids, push.kind, push.payload)

    async def _listen(self) -> None:
        while True:
            try:
                await self._subscribe_and_wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reconnect and listen again
                log.warning("fan-out %s listener lost (%s); reconnecting", self.broker, exc)
            self._ready.clear()
            await asyncio.sleep(self._retry_s)

    def _received(self, payload: str | bytes) -> None:
        try:
            data = json.loads(payload)
            users, kind, body = tuple(data["u"]), data["k"], data["p"]
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("bad fan-out message skipped: %s", exc)
            return
        self.received += 1
        if isinstance(data.get("t"), float):
            self.latency_s.append(time.time() - data["t"])
            del self.latency_s[:-1000]
        self._deliver(users, kind, body)

    # --- what each broker provides ------------------------------------------------------------------
    async def _subscribe_and_wait(self) -> None:
        raise NotImplementedError

    async def _send(self, payload: str) -> None:
        raise NotImplementedError

    async def _close(self) -> None:
        return None


class PgFanout(_Fanout):
    broker = "postgres"

    def __init__(self, dsn: str, deliver: Deliver, *, channel: str = CHANNEL, retry_s: float = 1.0) -> None:
        super().__init__(deliver, channel=channel, retry_s=retry_s)
        self.dsn = dsn
        self._listener: asyncpg.Connection | None = None
        self._sender: asyncpg.Connection | None = None
        self._sending = asyncio.Lock()  # one connection runs one statement at a time

    async def publish(self, push: Push) -> None:
        payload = encode(push)
        if len(payload.encode()) > MAX_PAYLOAD:
            log.warning("push %s too large for NOTIFY (%d bytes): delivered on this instance only", push.kind,
                        len(payload))
            self._local(push)
            return
        try:
            await self._send(payload)
            self.published += 1
        except (OSError, pg.asyncpg().PostgresError, pg.asyncpg().InterfaceError) as exc:
            log.warning("fan-out unavailable (%s): push delivered on this instance only", exc)
            self._sender = None
            self._local(push)

    async def _send(self, payload: str) -> None:
        async with self._sending:
            if self._sender is None or self._sender.is_closed():
                self._sender = await pg.asyncpg().connect(self.dsn, timeout=5)
            await self._sender.execute("SELECT pg_notify($1, $2)", self.channel, payload)

    async def _subscribe_and_wait(self) -> None:
        self._listener = await pg.asyncpg().connect(self.dsn, timeout=5)
        await self._listener.add_listener(self.channel, self._on_notify)
        self._ready.set()
        while not self._listener.is_closed():
            await asyncio.sleep(self._retry_s)
            await self._listener.fetchval("SELECT 1")

    def _on_notify(self, _conn, _pid, _channel, payload: str) -> None:  # noqa: ANN001
        self._received(payload)

    async def _close(self) -> None:
        for conn in (self._listener, self._sender):
            if conn is not None:
                conn.terminate()


class RedisFanout(_Fanout):
    """Redis pub/sub (``redis.asyncio``): one connection subscribed, the client's pool publishing."""

    broker = "redis"

    def __init__(self, url: str, deliver: Deliver, *, channel: str = CHANNEL, retry_s: float = 1.0) -> None:
        super().__init__(deliver, channel=channel, retry_s=retry_s)
        import redis.asyncio as aioredis

        self.url = url
        self._redis = aioredis.from_url(url, socket_connect_timeout=5, socket_timeout=5,
                                        health_check_interval=10)

    async def _send(self, payload: str) -> None:
        await self._redis.publish(self.channel, payload)

    async def _subscribe_and_wait(self) -> None:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.channel)
            self._ready.set()
            while True:
                message = await pubsub.get_message(timeout=self._retry_s)
                if message is not None and message.get("type") == "message":
                    self._received(message["data"])
                elif message is None:
                    await pubsub.ping()  # notices a dead link within a retry period
        finally:
            await pubsub.aclose()

    async def _close(self) -> None:
        await self._redis.aclose()


class NatsFanout(_Fanout):
    """NATS core pub/sub (``nats-py``); the client reconnects by itself once connected."""

    broker = "nats"

    def __init__(self, url: str, deliver: Deliver, *, channel: str = CHANNEL, retry_s: float = 1.0) -> None:
        super().__init__(deliver, channel=channel, retry_s=retry_s)
        self.url = url
        self._nc = None

    async def _send(self, payload: str) -> None:
        if self._nc is None or not self._nc.is_connected:
            raise ConnectionError("not connected to NATS")
        await self._nc.publish(self.channel, payload.encode())

    async def _subscribe_and_wait(self) -> None:
        import nats

        async def on_message(msg) -> None:  # noqa: ANN001
            self._received(msg.data)

        async def disconnected() -> None:
            self._ready.clear()

        async def reconnected() -> None:
            self._ready.set()

        closed = asyncio.Event()

        async def on_closed() -> None:
            closed.set()

        self._nc = await nats.connect(self.url, connect_timeout=5, reconnect_time_wait=self._retry_s,
                                      max_reconnect_attempts=-1, allow_reconnect=True, closed_cb=on_closed,
                                      disconnected_cb=disconnected, reconnected_cb=reconnected)
        try:
            await self._nc.subscribe(self.channel, cb=on_message)
            await self._nc.flush(timeout=5)
            self._ready.set()
            await closed.wait()
        finally:
            await self._close()

    async def _close(self) -> None:
        nc, self._nc = self._nc, None
        if nc is not None and not nc.is_closed:
            try:
                await nc.close()
            except Exception as exc:  # noqa: BLE001 - closing a dead link
                log.debug("closing NATS: %s", exc)


Fanout = PgFanout | RedisFanout | NatsFanout


def make_fanout(settings: ClusterSettings, pg_dsn: str | None, deliver: Deliver) -> Fanout | None:
    """The broker carrying pushes between instances, or None for a single SQLite instance."""
    if settings.broker == "redis":
        return RedisFanout(settings.redis_url, deliver, channel=settings.channel)
    if settings.broker == "nats":
        return NatsFanout(settings.nats_url, deliver, channel=settings.channel)
    if pg_dsn is None:
        return None
    return PgFanout(pg_dsn, deliver, channel=settings.channel)
