"""Failed-login limiter: a sliding window per client address and per login.

With one instance the window is kept in memory. With several instances behind a load balancer it must be
shared, or an attacker gets N times the attempts: ``LoginLimiter.for_hub`` keeps it in the database
(``login_failures``) on PostgreSQL, or in Redis when Redis is the cluster's broker. The async methods
(``check``, ``record_failure``, ``record_success``) work with every store; the sync ones only in memory.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict, deque
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol


def _keys(ip: str, login: str) -> tuple[str, str]:
    return f"ip:{ip}", f"login:{login.lower()}"


class Store(Protocol):
    async def recent(self, key: str, window_s: float) -> tuple[int, float | None]:
        """How many failures within the window, and how many seconds ago the oldest of them was."""

    async def add(self, keys: tuple[str, ...], window_s: float) -> None: ...

    async def clear(self, key: str) -> None: ...


class LoginLimiter:
    def __init__(self, attempts: int, window_s: float, clock=time.monotonic, store: Store | None = None) -> None:  # noqa: ANN001
        self.attempts = attempts
        self.window_s = window_s
        self._clock = clock
        self.store = store
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    @classmethod
    def for_hub(cls, hub: Any) -> LoginLimiter:
        """Shared when several instances may run: Redis if it is the broker, else the PostgreSQL database."""
        web, cluster = hub.settings.web, getattr(hub.settings, "cluster", None)
        store: Store | None = None
        if cluster is not None and cluster.broker == "redis":
            store = RedisStore(cluster.redis_url)
        elif hub.pg_dsn is not None:
            store = DbStore(hub.database.sessions)
        return cls(web.login_attempts, web.login_window_s, store=store)

    # --- in memory (one instance) -----------------------------------------------------------------
    def _recent(self, key: str) -> deque[float]:
        q = self._failures[key]
        cutoff = self._clock() - self.window_s
        while q and q[0] < cutoff:
            q.popleft()
        if not q:
            self._failures.pop(key, None)
        return q

    def retry_after(self, ip: str, login: str) -> int:
        """Seconds to wait before trying again, 0 when a try is allowed."""
        worst = 0.0
        for key in _keys(ip, login):
            q = self._recent(key)
            if len(q) >= self.attempts:
                worst = max(worst, q[0] + self.window_s - self._clock())
        return int(worst) + 1 if worst > 0 else 0

    def failed(self, ip: str, login: str) -> None:
        now = self._clock()
        for key in _keys(ip, login):
            self._failures[key].append(now)

    def succeeded(self, login: str) -> None:
        self._failures.pop(f"login:{login.lower()}", None)

    # --- any store (what the login view awaits) ---------------------------------------------------
    async def check(self, ip: str, login: str) -> int:
        """Seconds to wait before trying again, 0 when a try is allowed."""
        if self.store is None:
            return self.retry_after(ip, login)
        worst = 0.0
        for key in _keys(ip, login):
            count, oldest_age = await self.store.recent(key, self.window_s)
            if count >= self.attempts and oldest_age is not None:
                worst = max(worst, self.window_s - oldest_age)
        return int(worst) + 1 if worst > 0 else 0

    async def record_failure(self, ip: str, login: str) -> None:
        if self.store is None:
            self.failed(ip, login)
        else:
            await self.store.add(_keys(ip, login), self.window_s)

    async def record_success(self, login: str) -> None:
        if self.store is None:
            self.succeeded(login)
        else:
            await self.store.clear(f"login:{login.lower()}")


class DbStore:
    """Failures as rows of ``login_failures`` (wall-clock times: instances share no monotonic clock)."""

    def __init__(self, sessions: Any) -> None:
        self.sessions = sessions

    async def recent(self, key: str, window_s: float) -> tuple[int, float | None]:
        from sqlalchemy import func, select

        from crm_core.models.cluster import LoginFailure

        now = datetime.now(UTC)
        async with self.sessions() as s:
            count, oldest = (await s.execute(
                select(func.count(), func.min(LoginFailure.at))
                .where(LoginFailure.key == key, LoginFailure.at > now - timedelta(seconds=window_s)))).one()
        if not count or oldest is None:
            return 0, None
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        return count, (now - oldest).total_seconds()

    async def add(self, keys: tuple[str, ...], window_s: float) -> None:
        from sqlalchemy import delete

        from crm_core.models.cluster import LoginFailure

        now = datetime.now(UTC)
        async with self.sessions() as s, s.begin():
            await s.execute(delete(LoginFailure).where(LoginFailure.key.in_(keys),
                                                       LoginFailure.at <= now - timedelta(seconds=window_s)))
            s.add_all([LoginFailure(key=key, at=now) for key in keys])

    async def clear(self, key: str) -> None:
        from sqlalchemy import delete

        from crm_core.models.cluster import LoginFailure

        async with self.sessions() as s, s.begin():
            await s.execute(delete(LoginFailure).where(LoginFailure.key == key))


class RedisStore:
    """Failures as a sorted set per key (score = wall-clock time), expiring with the window."""

    def __init__(self, url: str, prefix: str = "hub:login-failures:") -> None:
        import redis.asyncio as aioredis

        self.redis = aioredis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
        self.prefix = prefix

    async def recent(self, key: str, window_s: float) -> tuple[int, float | None]:
        now = time.time()
        name = self.prefix + key
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(name, "-inf", now - window_s)
            pipe.zcard(name)
            pipe.zrange(name, 0, 0, withscores=True)
            _, count, first = await pipe.execute()
        if not count or not first:
            return 0, None
        return int(count), now - float(first[0][1])

    async def add(self, keys: tuple[str, ...], window_s: float) -> None:
        now = time.time()
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in keys:
                pipe.zadd(self.prefix + key, {uuid.uuid4().hex: now})
                pipe.expire(self.prefix + key, int(window_s) + 1)
            await pipe.execute()

    async def clear(self, key: str) -> None:
        await self.redis.delete(self.prefix + key)
