"""SQLite statements in one trip to aiosqlite's thread instead of four.

SQLAlchemy's aiosqlite adapter makes a cursor, executes, fetches and closes it, each an ``await`` on
aiosqlite's worker thread: four hand-overs between the thread and the event loop for a SELECT, three for an
INSERT. A hand-over waits for the loop's next turn, so on a busy hub (2,000 sockets, calls, 100 forms a
second) a statement cost a few milliseconds of waiting and intake's group of ~45 statements ~75 ms: the
forms' answer time. Here the cursor's whole life runs in the thread as one function, one hand-over per
statement; the rows come back with it. Server-side cursors (``stream``) keep SQLAlchemy's own cursor.

Used through ``create_async_engine(..., module=dbapi())`` (SQLAlchemy's documented way to give a dialect its
DBAPI module); it relies on aiosqlite's ``Connection._execute`` (run a function in the connection's
thread), present in every aiosqlite release the project allows. ``tests/crm_core/test_sqlite_onehop.py``
holds the behaviour the ORM relies on: rows, RETURNING, rowcount, lastrowid, executemany, errors.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any, cast

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection, AsyncAdapt_aiosqlite_dbapi

try:  # SQLAlchemy 2.1 names it await_, 2.0 await_only
    from sqlalchemy.util import await_ as _await
except ImportError:  # pragma: no cover - SQLAlchemy 2.0
    from sqlalchemy.util import await_only as _await


def _run(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> tuple[Any, list | None, int, Any]:
    """In aiosqlite's thread: the statement and its rows, the cursor closed before the loop sees it."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        return description, cursor.fetchall() if description else None, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneHopCursor:
    """A DBAPI cursor over results already fetched: ``execute`` is one trip to the thread."""

    server_side = False
    arraysize = 1

    def __init__(self, adapt_connection: OneHopConnection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = cast(aiosqlite.Connection, adapt_connection._connection)
        self._rows: collections.deque[Any] = collections.deque()
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: Any = None

    async def _go(self, operation: str, parameters: Any, many: bool) -> None:
        async with self._adapt_connection._execute_mutex:
            description, rows, self.rowcount, self.lastrowid = await self._connection._execute(
                _run, self._connection._conn, operation, parameters, many)
        self.description = description
        self._rows = collections.deque(rows) if rows else collections.deque()

    def execute(self, operation: str, parameters: Any = None) -> None:
        try:
            _await(self._go(operation, parameters, False))
        except Exception as error:  # noqa: BLE001 - mapped to SQLAlchemy's errors, as the stock cursor does
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: str, seq_of_parameters: Sequence[Any]) -> None:
        try:
            _await(self._go(operation, seq_of_parameters, True))
        except Exception as error:  # noqa: BLE001
            self._adapt_connection._handle_exception(error)

    async def _async_soft_close(self) -> None:
        """Nothing to close: the thread closed the cursor with the statement."""

    def close(self) -> None:
        self._rows.clear()

    def setinputsizes(self, *inputsizes: Any) -> None:
        """Not used by SQLite."""

    def __enter__(self) -> OneHopCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Any]:
        while self._rows:
            yield self._rows.popleft()

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        rows = self._rows
        return [rows.popleft() for _ in range(min(size or self.arraysize, len(rows)))]

    def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    def cursor(self, server_side: bool = False) -> Any:
        return super().cursor(server_side=True) if server_side else OneHopCursor(self)


class OneHopDbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        connection = super().connect(*arg, **kw)
        return OneHopConnection(self, connection._connection)


def dbapi() -> OneHopDbapi:
    return OneHopDbapi(aiosqlite, sqlite3)
