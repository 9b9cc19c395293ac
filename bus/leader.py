"""Leader election for what must have exactly one consumer (the AMI session to a PBX, an IMAP mailbox, the
Telegram poller, the SLA scheduler), with a PostgreSQL advisory lock held on a dedicated connection.

The lock lives as long as that session. The session is its own lease: ``idle_session_timeout`` makes the
server end it when the holder stops sending heartbeats (a dead, paused or cut-off instance), which frees
the lock for another instance.

Fencing: the holder also keeps the lease on its own monotonic clock (renewed at each heartbeat, counted
from the moment the heartbeat was *sent*, so it always ends before the server's). ``holds()`` is false as
soon as that local lease has lapsed — an instance frozen past its lease (SIGSTOP, a stuck VM) knows it on
the very first instruction after waking, before any network round trip. The heartbeat loop then stops the
consumer, and for the AMI session every event that arrives while ``holds()`` is false is dropped, so the
frames buffered in the socket during the freeze never turn into pop-ups or call records a second time.
What gets past anyway (a write already in flight) is caught by the database's unique keys and guarded
updates, which every consumer relies on.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable

from bus import pg

log = logging.getLogger("hub.leader")


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock from a readable name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class LeaseLost(Exception):
    """The local lease ran out before a heartbeat renewed it (the process was frozen or starved)."""


class Leadership:
    def __init__(self, dsn: str, name: str, on_elected: Callable[[], Awaitable[None]],
                 on_deposed: Callable[[], Awaitable[None]], *, heartbeat_s: float = 1.0, lease_s: float = 5.0,
                 instance: str = "", clock: Callable[[], float] = time.monotonic) -> None:
        self.dsn, self.name, self.instance = dsn, name, instance
        self._on_elected, self._on_deposed = on_elected, on_deposed
        self.heartbeat_s, self.lease_s = heartbeat_s, lease_s
        self._clock = clock
        self.leading = False
        self.elections = 0
        self.fenced = 0  # times this instance found its lease lapsed while it thought it led
        self.elected_at: float | None = None  # wall clock of the last election (shown on /healthz)
        self._lease_until = 0.0
        self._task: asyncio.Task[None] | None = None

    @property
    def state(self) -> str:
        return "leader" if self.holds() else "standby"

    def holds(self) -> bool:
        """True while this instance leads and its lease has not lapsed (cheap, synchronous: call it before
        acting on behalf of the leadership)."""
        return self.leading and self._clock() < self._lease_until

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"leader-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self._step_down("stopping")

    async def _run(self) -> None:
        while True:
            conn = None
            try:
                conn = await pg.asyncpg().connect(self.dsn, timeout=5)
                await conn.execute(f"SET idle_session_timeout = {int(self.lease_s * 1000)}")
                while True:
                    sent = self._clock()
                    if await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_key(self.name)):
                        break
                    await asyncio.sleep(self.heartbeat_s)  # polling a lock another instance holds
                self._lease_until = sent + self.lease_s
                self.leading = True
                self.elections += 1
                self.elected_at = time.time()
                log.info("instance %s leads %s", self.instance, self.name)
                await self._on_elected()
                while True:
                    await asyncio.sleep(self.heartbeat_s)
                    if not self.holds():
                        self.fenced += 1
                        raise LeaseLost(f"no heartbeat for {self._clock() - self._lease_until + self.lease_s:.1f}s")
                    sent = self._clock()
                    async with asyncio.timeout(max(0.1, self._lease_until - sent)):
                        await conn.fetchval("SELECT 1")
                    self._lease_until = sent + self.lease_s
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any loss of the session ends the leadership
                await self._step_down(f"{type(exc).__name__}: {exc}")
            finally:
                if conn is not None:
                    conn.terminate()  # frees the lock at once if the server still has the session
            await asyncio.sleep(self.heartbeat_s)

    async def _step_down(self, why: str) -> None:
        if self.leading:
            self.leading = False
            self._lease_until = 0.0
            log.warning("instance %s no longer leads %s (%s): consumer stopped", self.instance, self.name, why)
            await self._on_deposed()


class LedConnector:
    """A single-consumer connector that runs only on the instance holding its leadership.

    A connector with an AMI-style ``client.on_event`` callback gets it gated by ``holds()``: events read
    after the lease lapsed are dropped before they change any state.
    """

    def __init__(self, connector, dsn: str, name: str, instance: str, **timing: float) -> None:  # noqa: ANN001
        from bus.handoff import Handoff, state_for

        self.connector = connector
        state = state_for(connector)
        self.handoff = Handoff(dsn, name, instance, state) if state is not None else None
        self.leadership = Leadership(dsn, name, self._elected, self._deposed, instance=instance, **timing)
        self.dropped_events = 0
        client = getattr(connector, "client", None)
        if client is not None and callable(getattr(client, "on_event", None)):
            client.on_event = self._gate(client.on_event)

    def _gate(self, on_event: Callable[[object], None]) -> Callable[[object], None]:
        def gated(event: object) -> None:
            if self.leadership.holds():
                on_event(event)
                if self.handoff is not None:
                    self.handoff.poke()  # a call that starts now is saved for a successor at once
            else:
                self.dropped_events += 1

        return gated

    async def _elected(self) -> None:
        if self.handoff is not None:
            await self.handoff.claim()  # the next epoch, and the state the previous leader left
        await self.connector.start()

    async def _deposed(self) -> None:
        try:
            await self.connector.stop()
        finally:
            if self.handoff is not None:
                await self.handoff.release()

    @property
    def state(self) -> str:
        return self.connector.state if self.leadership.holds() else "standby"

    def routes(self) -> list:
        return getattr(self.connector, "routes", lambda: [])()

    async def start(self) -> None:
        await self.leadership.start()

    async def stop(self) -> None:
        await self.leadership.stop()
