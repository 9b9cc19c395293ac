"""SQLite's writers queue in the process (SqliteWriteGate) instead of sleeping in SQLite's busy handler:
many write transactions at once all commit, in about the time their writes take, and one held too long
gives the next a clear error while the others still go through."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import OperationalError

from config.settings import DatabaseSettings
from crm_core.db import create_engine, session_factory, write_first
from crm_core.migrate import migrate
from crm_core.models import Department


@pytest.fixture
async def sessions(tmp_path):  # noqa: ANN001, ANN201
    engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'gate.sqlite3'}",
                                            busy_timeout_ms=400))
    await migrate(engine)
    yield session_factory(engine)
    await engine.dispose()


async def _write(sessions, name: str, hold_s: float) -> None:  # noqa: ANN001
    async with sessions() as s, s.begin():
        await s.execute(insert(Department).values(name=name))
        await asyncio.sleep(hold_s)  # work inside the transaction (other statements, the event loop's turns)


async def test_forty_writers_at_once_all_commit_one_after_another_without_busy_sleeps(sessions):
    started = time.perf_counter()
    await asyncio.gather(*(_write(sessions, f"d{i}", 0.005) for i in range(40)))
    took = time.perf_counter() - started
    async with sessions() as s:
        assert (await s.execute(select(func.count()).select_from(Department))).scalar_one() == 40
    # held 40 × 5 ms; SQLite's busy handler alone would sleep 1, 2, 5, 10, 15 … ms between tries per waiter
    assert took < 40 * 0.005 * 3


async def test_a_writer_held_past_the_timeout_gives_the_next_a_clear_error_and_the_gate_reopens(sessions):
    holder = asyncio.create_task(_write(sessions, "long", 0.8))
    await asyncio.sleep(0.05)
    with pytest.raises(OperationalError) as caught:
        await _write(sessions, "late", 0)
    assert isinstance(caught.value.orig, sqlite3.OperationalError)
    assert "another write transaction of this process held it over 0.4 s" in str(caught.value)
    await holder
    async with sessions() as s, s.begin():  # after the holder committed, writing works again at once
        await write_first(s)
        await s.execute(insert(Department).values(name="after"))
    async with sessions() as s:
        names = set((await s.execute(select(Department.name))).scalars())
    assert names == {"long", "after"}


async def test_a_failed_transaction_lets_the_next_writer_in(sessions):
    with pytest.raises(RuntimeError):
        async with sessions() as s, s.begin():
            await s.execute(insert(Department).values(name="rolled back"))
            raise RuntimeError("a bug after the first write")
    await asyncio.wait_for(_write(sessions, "next", 0), 1.0)
    async with sessions() as s:
        assert list((await s.execute(select(Department.name))).scalars()) == ["next"]
