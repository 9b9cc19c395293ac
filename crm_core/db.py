"""The database engine: SQLite (WAL, busy timeout, foreign keys) by default, PostgreSQL by URL."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import event
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
        engine = create_async_engine(url, connect_args={"timeout": settings.busy_timeout_ms / 1000})
        _sqlite_pragmas(engine, settings.busy_timeout_ms)
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


async def write_first(session: AsyncSession) -> None:
    """Begin this transaction as a writer on SQLite (BEGIN IMMEDIATE): one that reads before it writes
    would otherwise fail at once ("database is locked") when another writer committed in between, as
    WAL cannot move a reader's snapshot forward; this way it waits its turn (busy_timeout) instead.
    Nothing to do on PostgreSQL. Call it first in the transaction."""
    connection = await session.connection()
    if connection.dialect.name == "sqlite":
        await connection.exec_driver_sql("BEGIN IMMEDIATE")


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
