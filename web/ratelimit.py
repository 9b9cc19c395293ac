"""Failed-login throttling that cannot lock the right password out.

- **Hard limit per (login, address)**: ``attempts`` failures of one login from one client address within
  ``window_s`` and that pair waits out the window (429). The same login from another address, and other
  logins from the same address (one office behind one NAT), go on.
- **Per login alone, only a slow-down**: once a login has ``attempts`` failures within the window, from
  whatever addresses, every try of it waits before it is answered — ``BASE_DELAY_S``, doubling with each
  further failure, at most ``MAX_DELAY_S`` — whatever the password (so the wait tells nothing). Never a ban.
- **The client address** (``client_address``) is the connecting peer; when the peer is a trusted reverse
  proxy (``[web] trusted_proxies``), it is the right-most address of ``X-Forwarded-For`` that is not a
  trusted proxy, so users behind one proxy are told apart and a client cannot pick its own address.

With one instance the failures are kept in memory. With several instances behind a load balancer they must
be shared, or an attacker gets N times the attempts: ``LoginLimiter.for_hub`` keeps them in the database
(``login_failures``) on PostgreSQL, or in Redis when Redis is the cluster's broker.
"""

from __future__ import annotations

import ipaddress
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

BASE_DELAY_S = 0.25
"""The slow-down of a login that just reached ``attempts`` failures; it doubles with each further one."""
MAX_DELAY_S = 3.0
"""The longest a login is slowed down: a right password is answered within this, however many failures."""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _pair_key(ip: str, login: str) -> str:
    return f"pair:{ip} {login.lower()}"  # an address holds no space: the login is the rest


def _login_key(login: str) -> str:
    return f"login:{login.lower()}"


def client_address(peer: str | None, forwarded_for: Iterable[str], trusted: Sequence[Network]) -> str:
    """The client's address: ``peer`` itself unless it is a trusted proxy; then, walking ``X-Forwarded-For``
    from the right (the entries the trusted proxies appended), the first address that is not a trusted proxy.
    Entries left of it are the client's own word and never read; an entry that is no address ends the walk
    at the last trusted hop (a proxy that writes garbage cannot be told from its clients)."""
    peer = peer or "?"
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
    client = peer
    for hop in reversed([h for h in hops if h]):
        address = _address(hop)
        if address is None:
            break
        client = address
        if not _trusted(address, trusted):
            break
    return client


def _address(text: str) -> str | None:
    """An X-Forwarded-For entry as a plain address (some proxies add a port: ``1.2.3.4:5678``, ``[::1]:80``)."""
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:  # a dual-stack listener's peer
        ip = ip.ipv4_mapped
    return any(ip in net for net in trusted if net.version == ip.version)


class Store(Protocol):
    async def recent(self, key: str, window_s: float) -> tuple[int, float | None]:
        """How many failures within the window, and how many seconds ago the oldest of them was."""

    async def add(self, keys: tuple[str, ...], window_s: float) -> None: ...

    async def clear(self, key: str) -> None: ...


class LoginLimiter:
    def __init__(self, attempts: int, window_s: float, clock=time.monotonic, store: Store | None = None, *,  # noqa: ANN001
                 trusted_proxies: Iterable[str] = (), max_delay_s: float = MAX_DELAY_S) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self.max_delay_s = max_delay_s
        self.store: Store = store if store is not None else MemoryStore(clock)
        self.trusted: tuple[Network, ...] = tuple(ipaddress.ip_network(n, strict=False) for n in trusted_proxies)

    @classmethod
    def for_hub(cls, hub: Any) -> LoginLimiter:  # noqa: ANN401 - bootstrap.Hub
        """Shared when several instances may run: Redis if it is the broker, else the PostgreSQL database."""
        web, cluster = hub.settings.web, getattr(hub.settings, "cluster", None)
        store: Store | None = None
        if cluster is not None and cluster.broker == "redis":
            store = RedisStore(cluster.redis_url)
        elif hub.pg_dsn is not None:
            store = DbStore(hub.database.sessions)
        return cls(web.login_attempts, web.login_window_s, store=store, trusted_proxies=web.trusted_proxies)

    def address(self, request: Any) -> str:  # noqa: ANN401 - aiohttp.web.Request
        """The client's address of an aiohttp request (see ``client_address``)."""
        return client_address(request.remote, request.headers.getall("X-Forwarded-For", ()), self.trusted)

    async def check(self, ip: str, login: str) -> int:
        """Seconds before this login may be tried again from this address, 0 when a try is allowed."""
        count, oldest_age = await self.store.recent(_pair_key(ip, login), self.window_s)
        if count < self.attempts or oldest_age is None:
            return 0
        wait = self.window_s - oldest_age
        return int(wait) + 1 if wait > 0 else 0

    async def delay(self, login: str) -> float:
        """Seconds to wait before answering a try of this login (from any address): 0 until it has ``attempts``
        failures within the window, then growing with each failure up to ``max_delay_s``."""
        count, _ = await self.store.recent(_login_key(login), self.window_s)
        if count < self.attempts:
            return 0.0
        return min(self.max_delay_s, BASE_DELAY_S * 2 ** min(count - self.attempts, 16))

    async def record_failure(self, ip: str, login: str) -> None:
        await self.store.add((_pair_key(ip, login), _login_key(login)), self.window_s)

    async def record_success(self, ip: str, login: str) -> None:
        """The right password clears its own (login, address) count; the login's slow-down runs out with its
        window (a success does not hand a guesser elsewhere fast tries again)."""
        await self.store.clear(_pair_key(ip, login))


class MemoryStore:
    """Failures in this process (one instance), on a monotonic clock; stale keys are swept as it grows."""

    SWEEP_AT = 10_000

    def __init__(self, clock=time.monotonic) -> None:  # noqa: ANN001
        self._clock = clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str, window_s: float) -> deque[float]:
        q = self._failures.get(key, deque())
        cutoff = self._clock() - window_s
        while q and q[0] <= cutoff:
            q.popleft()
        if not q:
            self._failures.pop(key, None)
        return q

    async def recent(self, key: str, window_s: float) -> tuple[int, float | None]:
        q = self._recent(key, window_s)
        return (len(q), self._clock() - q[0]) if q else (0, None)

    async def add(self, keys: tuple[str, ...], window_s: float) -> None:
        if len(self._failures) >= self.SWEEP_AT:
            for key in list(self._failures):
                self._recent(key, window_s)
        now = self._clock()
        for key in keys:
            self._failures[key].append(now)

    async def clear(self, key: str) -> None:
        self._failures.pop(key, None)


class DbStore:
    """Failures as rows of ``login_failures`` (wall-clock times: instances share no monotonic clock)."""

    def __init__(self, sessions: Any) -> None:  # noqa: ANN401 - async_sessionmaker
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
        return count, max(0.0, (now - oldest).total_seconds())

    async def add(self, keys: tuple[str, ...], window_s: float) -> None:
        from sqlalchemy import delete

        from crm_core.models.cluster import LoginFailure

        now = datetime.now(UTC)
        async with self.sessions() as s, s.begin():
            # every row past the window goes, whatever its key: the table holds one window of failures
            await s.execute(delete(LoginFailure).where(LoginFailure.at <= now - timedelta(seconds=window_s)))
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
        return int(count), max(0.0, now - float(first[0][1]))

    async def add(self, keys: tuple[str, ...], window_s: float) -> None:
        now = time.time()
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in keys:
                pipe.zadd(self.prefix + key, {uuid.uuid4().hex: now})
                pipe.expire(self.prefix + key, int(window_s) + 1)
            await pipe.execute()

    async def clear(self, key: str) -> None:
        await self.redis.delete(self.prefix + key)
