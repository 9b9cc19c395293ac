"""Leader election for what must have exactly one consumer (an IMAP mailbox, the Telegram poller, the AMI
session), with a PostgreSQL advisory lock held on a dedicated connection.

The lock lives as long as that session. The session is its own lease: ``idle_session_timeout`` makes the
server end it when the holder stops sending heartbeats (a dead, paused or cut-off instance), which frees
the lock for another instance. A leader whose heartbeat fails stops its consumer before doing anything
else, so an instance that wakes up after a pause does not go on as a second leader.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg

log = logging.getLogger("hub.leader")


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock from a readable name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class Leadership:
    def __init__(self, dsn: str, name: str, on_elected: Callable[[], Awaitable[None]],
                 on_deposed: Callable[[], Awaitable[None]], *, heartbeat_s: float = 1.0, lease_s: float = 5.0,
                 instance: str = "") -> None:
        self.dsn, self.name, self.instance = dsn, name, instance
        self._on_elected, self._on_deposed = on_elected, on_deposed
        self.heartbeat_s, self.lease_s = heartbeat_s, lease_s
        self.leading = False
        self.elections = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def state(self) -> str:
        return "leader" if self.leading else "standby"

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
                conn = await asyncpg.connect(self.dsn, timeout=5)
                await conn.execute(f"SET idle_session_timeout = {int(self.lease_s * 1000)}")
                while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_key(self.name)):  # noqa: ASYNC110
                    await asyncio.sleep(self.heartbeat_s)  # polling a lock another instance holds
                self.leading = True
                self.elections += 1
                log.info("instance %s leads %s", self.instance, self.name)
                await self._on_elected()
                while True:
                    await asyncio.sleep(self.heartbeat_s)
                    async with asyncio.timeout(self.lease_s / 2):
                        await conn.fetchval("SELECT 1")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any loss of the session ends the leadership
                await self._step_down(f"{type(exc).__name__}: {exc}")
            finally:
                if conn is not None:
                    conn.terminate()
            await asyncio.sleep(self.heartbeat_s)

    async def _step_down(self, why: str) -> None:
        if self.leading:
            self.leading = False
            log.warning("instance %s no longer leads %s (%s): consumer stopped", self.instance, self.name, why)
            await self._on_deposed()


class LedConnector:
    """A single-consumer connector that runs only on the instance holding its leadership."""

    def __init__(self, connector, dsn: str, name: str, instance: str, **timing: float) -> None:  # noqa: ANN001
        self.connector = connector
        self.leadership = Leadership(dsn, name, connector.start, connector.stop, instance=instance, **timing)

    @property
    def state(self) -> str:
        return self.connector.state if self.leadership.leading else "standby"

    def routes(self) -> list:
        return getattr(self.connector, "routes", lambda: [])()

    async def start(self) -> None:
        await self.leadership.start()

    async def stop(self) -> None:
        await self.leadership.stop()
