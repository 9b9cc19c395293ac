"""The database engine: SQLite (WAL, busy timeout, foreign keys) by default, PostgreSQL by URL."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import deque
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from config.settings import DatabaseSettings

log = logging.getLogger("hub.db")


def database_url(settings: DatabaseSettings) -> URL:
    url = make_url(settings.url)
    if settings.password is not None:
        url = url.set(password=settings.password.get_secret_value())
    return url


def is_sqlite(url: URL | str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    url = database_url(settings)
    if is_sqlite(url):
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        extra: dict[str, Any] = {}
        if settings.sqlite_one_hop:
            from crm_core.sqlite_onehop import dbapi

            extra["module"] = dbapi()
        engine = create_async_engine(url, connect_args={"timeout": settings.busy_timeout_ms / 1000}, **extra)
        _sqlite_pragmas(engine, settings.busy_timeout_ms)
        SqliteWriteGate(settings.busy_timeout_ms / 1000).install(engine)
        return engine
    server_settings = {}
    if url.get_backend_name() == "postgresql" and settings.idle_in_transaction_timeout_s > 0:
        server_settings["idle_in_transaction_session_timeout"] = str(int(settings.idle_in_transaction_timeout_s * 1000))
    return create_async_engine(
        url, pool_size=settings.pool_size, max_overflow=settings.pool_size, pool_pre_ping=True,
        connect_args={"server_settings": server_settings} if server_settings else {},
    )


def _sqlite_pragmas(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()


try:  # SQLAlchemy 2.1 names it await_, 2.0 await_only
    from sqlalchemy.util import await_ as _await
except ImportError:  # pragma: no cover - SQLAlchemy 2.0
    from sqlalchemy.util import await_only as _await

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "BEGIN IMMEDIATE", "CREATE", "DROP", "ALTER")


class SqliteWriteGate:
    """One write transaction at a time inside the process, queued in order on an asyncio lock.

    SQLite has one writer; the others wait in its busy handler, which sleeps 1, 2, 5, 10, 15, 20, 25 ms …
    between tries, so under load a writer slept far longer than the lock was held (intake, routing, the
    notices and the agent states all write) and the event loop sat idle. Here a connection's first
    writing statement waits for the gate instead, and the gate opens the moment the holder commits or
    rolls back. SQLite serves one hub process (``hold_single_instance_lock``), so the gate sees every
    writer; a second engine on the same file still meets the busy handler.
    """

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.holder: Any = None
        self.waiting: deque[tuple[Any, asyncio.Future[None]]] = deque()

    def install(self, engine: AsyncEngine) -> None:
        sync = engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._before_execute)
        dialect = sync.dialect
        commit, rollback = dialect.do_commit, dialect.do_rollback

        def do_commit(dbapi_connection: Any) -> None:
            try:
                commit(dbapi_connection)
            finally:
                self.leave(dbapi_connection)

        def do_rollback(dbapi_connection: Any) -> None:
            try:
                rollback(dbapi_connection)
            finally:
                self.leave(dbapi_connection)

        dialect.do_commit, dialect.do_rollback = do_commit, do_rollback  # type: ignore[method-assign]
        for name in ("checkin", "invalidate", "close"):  # whatever way a connection leaves, it lets go
            event.listen(sync.pool, name, lambda dbapi_connection, *_: self.leave(dbapi_connection))

    def _before_execute(self, conn, cursor, statement: str, *_: Any) -> None:  # noqa: ANN001
        if statement.lstrip()[:15].upper().startswith(WRITES):
            self.enter(conn.connection.dbapi_connection)

    def enter(self, dbapi_connection: Any) -> None:
        if self.holder is dbapi_connection:
            return
        if self.holder is None:
            self.holder = dbapi_connection  # the usual case: nobody writing, no waiting, no switch to the loop
            return
        turn = asyncio.get_running_loop().create_future()
        self.waiting.append((dbapi_connection, turn))
        try:
            _await(asyncio.wait_for(turn, self.timeout_s))
        except TimeoutError:
            raise sqlite3.OperationalError(
                f"database is locked: another write transaction of this process held it over {self.timeout_s:g} s"
            ) from None
        finally:
            if not turn.done() or turn.cancelled():  # gave up waiting: out of the line
                self.waiting = deque(w for w in self.waiting if w[1] is not turn)

    def leave(self, dbapi_connection: Any) -> None:
        if self.holder is None or self.holder is not getattr(dbapi_connection, "dbapi_connection", dbapi_connection):
            return
        self.holder = None
        while self.waiting:  # the gate passes straight to the next in line
            connection, turn = self.waiting.popleft()
            if not turn.done():
                self.holder = connection
                turn.set_result(None)
                return


async def write_first(session: AsyncSession) -> None:
    """Begin this transaction as a writer on SQLite (BEGIN IMMEDIATE): one that reads before it writes
    would otherwise fail at once ("database is locked") when another writer committed in between, as
    WAL cannot move a reader's snapshot forward; this way it waits its turn (busy_timeout) instead.
    Nothing to do on PostgreSQL. Call it first in the transaction."""
    connection = await session.connection()
    if connection.dialect.name == "sqlite":
        await connection.exec_driver_sql("BEGIN IMMEDIATE")


async def insert_returning_ids(s: AsyncSession, model: Any, rows: list[dict]) -> list[int]:
    """Insert ``rows`` (all with the same keys) as one batch; their new ids in the order given.

    SQLAlchemy cannot batch an ordered RETURNING on SQLite (no INSERT form ties new rowids to the order of
    the parameters) and falls back to one statement per row: a group of 64 forms cost some 300 statements.
    On SQLite the first row goes in alone and takes the write lock; an INTEGER PRIMARY KEY is the rowid and
    nobody else can insert until this transaction ends, so the others get the ids that follow, given here,
    in one executemany of a cached statement. PostgreSQL batches the ordered RETURNING itself."""
    if not rows:
        return []
    if s.get_bind().dialect.name != "sqlite":
        return list((await s.execute(insert(model).returning(model.id, sort_by_parameter_order=True), rows)).scalars())
    first = (await s.execute(insert(model).returning(model.id), rows[0])).scalar_one()
    ids = list(range(first, first + len(rows)))
    if len(rows) > 1:
        await s.execute(insert(model).execution_options(render_nulls=True),
                        [{**row, "id": new_id} for row, new_id in zip(rows[1:], ids[1:], strict=True)])
    return ids


def dialect_insert(s: AsyncSession, table: Any) -> Any:
    """The INSERT construct of the session's backend, for what the generic one lacks (ON CONFLICT)."""
    return (postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert)(table)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


class SecondInstance(RuntimeError):
    """Another hub already runs on this SQLite file."""


def hold_single_instance_lock(settings: DatabaseSettings):  # noqa: ANN201 - an open file to keep
    """SQLite serves one hub instance: hold an exclusive lock next to the file for the life of the process."""
    import fcntl

    url = database_url(settings)
    if not is_sqlite(url) or not url.database or url.database == ":memory:":
        return None
    path = Path(url.database + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise SecondInstance(f"another hub is already running on {url.database}; SQLite serves one instance "
                             "(use PostgreSQL to run several)") from None
    return handle
