"""Who is calling: the caller-ID lookup behind the pop-up. One indexed query, columns only.

On SQLite the hub runs it through ``SqliteCallerLookup`` (below): the same compiled statement on a
connection of its own, without the async pool's hand-overs. On PostgreSQL through ``PgCallerLookup``: one
asyncpg connection of its own, so a pop-up never waits for the pool that intake and routing keep busy.

The statement is built once, on the tables rather than the mapped classes, with the number as a bound
parameter: each call then skips statement building and the ORM's result machinery, and SQLAlchemy finds
the compiled SQL in its cache. The query uses the UNIQUE (kind, value) index on contacts, then the
clients primary key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.dialects.postgresql import asyncpg as pg_asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Client, Contact, ContactKind
from crm_core.phones import try_normalize_phone

log = logging.getLogger("hub.lookup")
_clients = Client.__table__
_contacts = Contact.__table__

_BY_PHONE = (
    select(_clients.c.id, _clients.c.name, _clients.c.company_name, _clients.c.owner_id)
    .select_from(_contacts.join(_clients, _contacts.c.client_id == _clients.c.id))
    .where(_contacts.c.kind == ContactKind.PHONE.value, _contacts.c.value == bindparam("e164"))
)


@dataclass(frozen=True, slots=True)
class ClientCard:
    client_id: int
    name: str
    company_name: str | None
    owner_id: int | None


async def find_client_by_phone(session: AsyncSession, raw_phone: str, region: str = "RU") -> ClientCard | None:
    """The client with this number in any format (8…, +7…, 7…, 9…), or None for unknown or garbage numbers."""
    e164 = try_normalize_phone(raw_phone, region)
    if e164 is None:
        return None
    row = (await session.execute(_BY_PHONE, {"e164": e164})).first()
    return ClientCard(row[0], row[1], row[2], row[3]) if row is not None else None


_COMPILED = _BY_PHONE.compile(dialect=sqlite_dialect.dialect())
_SQL = str(_COMPILED)
_ORDER = _COMPILED.positiontup or []
_KIND = _COMPILED.params[_ORDER[0]]  # the statement's parameters: (kind, e164)
assert _ORDER[1] == "e164" and ContactKind.PHONE.value == _KIND
_PG_COMPILED = _BY_PHONE.compile(dialect=pg_asyncpg_dialect.dialect())
_PG_SQL = str(_PG_COMPILED)  # ... contacts.kind = $1 AND contacts.value = $2
assert (_PG_COMPILED.positiontup or [])[1] == "e164"


class SqliteCallerLookup:
    """The same lookup on SQLite, read straight on the event loop from a connection of its own.

    Through a pooled async session one indexed read is a checkout, a cursor, an execute, a fetch, a close
    and a rollback: about ten hand-overs to aiosqlite's thread, each waiting for a turn of a loop that is
    busy with 50 calls a second, so the read took 1.8 ms (p99 9 ms) of a pop-up's 10 ms. Here it is one
    ``sqlite3`` call of some 30 µs — a B-tree probe of the UNIQUE (kind, value) index and the clients
    primary key, cheaper than one hand-over. In WAL mode a reader waits for nobody; the busy timeout is 0
    so the loop can never sleep in SQLite: if the read fails for any reason (locked, file replaced), this
    lookup goes through ``fallback`` (the pooled session) and the connection is opened again next time."""

    def __init__(self, path: str, region: str,
                 fallback: Callable[[str], Awaitable[ClientCard | None]]) -> None:
        self._path, self._region, self._fallback = path, region, fallback
        self._conn: sqlite3.Connection | None = None
        self.direct = self.fallbacks = 0

    async def __call__(self, raw_phone: str) -> ClientCard | None:
        e164 = try_normalize_phone(raw_phone, self._region)
        if e164 is None:
            return None
        try:
            row = self._read(e164)
        except sqlite3.Error as exc:
            self.fallbacks += 1
            log.warning("caller lookup on its own connection failed (%s); through the pool this time", exc)
            self.close()
            return await self._fallback(raw_phone)
        self.direct += 1
        return ClientCard(row[0], row[1], row[2], row[3]) if row is not None else None

    def _read(self, e164: str) -> tuple | None:
        if self._conn is None:
            conn = sqlite3.connect(self._path, timeout=0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA query_only = ON")
            self._conn = conn
        return self._conn.execute(_SQL, (_KIND, e164)).fetchone()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class PgCallerLookup:
    """The lookup on PostgreSQL on a connection of its own (asyncpg, the statement prepared once).

    Through the pool a pop-up waited for a free connection behind the day's writes: with 100 web forms a
    second the pool of 20 was always taken, and the pop-ups came 12-14 s late (``bench.day`` on PostgreSQL).
    One read at a time (the pop-up lane is one worker); if the connection fails for any reason, this lookup goes
    through ``fallback`` (the pool) and the connection is opened again next time."""

    def __init__(self, dsn: str, region: str, fallback: Callable[[str], Awaitable[ClientCard | None]]) -> None:
        self._dsn, self._region, self._fallback = dsn, region, fallback
        self._conn: Any = None
        self._lock = asyncio.Lock()
        self.direct = self.fallbacks = 0

    async def __call__(self, raw_phone: str) -> ClientCard | None:
        e164 = try_normalize_phone(raw_phone, self._region)
        if e164 is None:
            return None
        try:
            async with self._lock:
                if self._conn is None or self._conn.is_closed():
                    from bus.pg import asyncpg

                    self._conn = await asyncpg().connect(self._dsn, timeout=5)
                row = await self._conn.fetchrow(_PG_SQL, _KIND, e164, timeout=2)
        except Exception as exc:  # noqa: BLE001 - any failure: the pool answers this time
            self.fallbacks += 1
            log.warning("caller lookup on its own connection failed (%s); through the pool this time",
                        type(exc).__name__)
            await self.close()
            return await self._fallback(raw_phone)
        self.direct += 1
        return ClientCard(row[0], row[1], row[2], row[3]) if row is not None else None

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)
