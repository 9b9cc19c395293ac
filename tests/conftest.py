"""Shared fixtures: the database on both backends, settings, the bus.

Storage tests take the ``db`` fixture and run twice: on a fresh SQLite file
and on a PostgreSQL database that this test run creates on 127.0.0.1:5432
and drops at the end. A real part that is missing fails the run when
CI=true; elsewhere the test is skipped with the reason.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bus.bus import EventBus
from config.settings import DatabaseSettings
from crm_core.db import create_engine, session_factory
from crm_core.migrate import migrate
from crm_core.models import Base

PG_ADMIN_URL = os.environ.get("HUB_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_ERROR: list[str] = []
FIXTURES = Path(__file__).resolve().parent / "fixtures"  # real-world material, each folder with its MANIFEST.tsv


def missing_part(reason: str) -> None:
    """Where a real part is missing: fail in CI, skip elsewhere (never a silent pass)."""
    if IN_CI:
        pytest.fail(f"CI=true and a real part is missing: {reason}")
    pytest.skip(reason)


async def _pg_admin(sql: str) -> None:
    import asyncpg

    url = PG_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def run_sync(coro) -> object:
    """Run a coroutine to the end from sync code, even when called inside a running event loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str | None]:
    name = f"hub_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        run_sync(_pg_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure means: no PostgreSQL here
        PG_ERROR.append(repr(exc))
        yield None
        return
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name

    async def _migrate() -> None:
        engine = create_engine(DatabaseSettings(url=url))
        await migrate(engine)
        await engine.dispose()

    run_sync(_migrate())
    yield url
    run_sync(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@dataclass
class Db:
    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    @property
    def backend(self) -> str:
        return self.engine.dialect.name


async def _truncate_all(engine: AsyncEngine) -> None:
    """Empty every table the schema has (a model still without its migration is not there to empty)."""
    async with engine.begin() as conn:
        present = set(await conn.run_sync(lambda c: sa_inspect(c).get_table_names()))
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables if t.name in present)
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Db]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}"
        engine = create_engine(DatabaseSettings(url=url))
        await migrate(engine)
    else:
        url = request.getfixturevalue("pg_url")
        if url is None:
            missing_part(f"PostgreSQL at {PG_ADMIN_URL} unreachable: {PG_ERROR}")
        engine = create_engine(DatabaseSettings(url=url))
        await _truncate_all(engine)
    try:
        yield Db(url, engine, session_factory(engine))
    finally:
        await engine.dispose()


@pytest.fixture
def bus() -> EventBus:
    return EventBus()
