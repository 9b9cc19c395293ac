"""The one-trip SQLite cursor (crm_core/sqlite_onehop.py) behaves as the stock aiosqlite one where the ORM
relies on it: rows, RETURNING, rowcount, lastrowid, executemany, errors mapped, streaming, rollback — and
it is one hand-over to the database thread per statement (the stock cursor made three or four)."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from config.settings import DatabaseSettings
from crm_core.db import create_engine
from crm_core.sqlite_onehop import OneHopCursor

META = MetaData()
PEOPLE = Table("people", META, Column("id", Integer, primary_key=True), Column("name", String, unique=True))


@pytest.fixture
async def engines(tmp_path):
    made = {one_hop: create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path}/{one_hop}.db",
                                                   sqlite_one_hop=one_hop)) for one_hop in (True, False)}
    for engine in made.values():
        async with engine.begin() as c:
            await c.run_sync(META.create_all)
    yield made
    for engine in made.values():
        await engine.dispose()


async def _work(engine) -> list:  # noqa: ANN001
    """The same statements on either cursor; what the caller would see."""
    seen: list = []
    async with engine.begin() as c:
        first = await c.execute(insert(PEOPLE).values(name="Анна"))
        seen.append(("lastrowid", first.lastrowid, first.inserted_primary_key))
        returned = await c.execute(insert(PEOPLE).returning(PEOPLE.c.id, PEOPLE.c.name), [{"name": "Олег"}])
        seen.append(("returning", returned.all()))
        many = await c.execute(insert(PEOPLE), [{"name": f"агент {n}"} for n in range(5)])
        seen.append(("many", many.rowcount))
        changed = await c.execute(update(PEOPLE).where(PEOPLE.c.name.like("агент%")).values(name=PEOPLE.c.name + "!"))
        seen.append(("rowcount", changed.rowcount))
        seen.append(("rows", (await c.execute(select(PEOPLE.c.name).order_by(PEOPLE.c.id))).scalars().all()))
        seen.append(("one", (await c.execute(text("select count(*) from people"))).scalar_one()))
        seen.append(("none", (await c.execute(select(PEOPLE).where(PEOPLE.c.id == -1))).first()))
        streamed = await c.stream(select(PEOPLE.c.id).order_by(PEOPLE.c.id))
        seen.append(("stream", [row async for row in streamed.scalars()]))
    with pytest.raises(IntegrityError):
        async with engine.begin() as c:
            await c.execute(insert(PEOPLE).values(name="Новый"))
            await c.execute(insert(PEOPLE).values(name="Анна"))  # the unique name: refused, all undone
    async with engine.connect() as c:
        seen.append(("after", (await c.execute(select(func.count()).select_from(PEOPLE))).scalar_one()))
    return seen


async def test_the_one_trip_cursor_answers_as_the_stock_one(engines):
    one_hop, stock = await _work(engines[True]), await _work(engines[False])
    assert one_hop == stock
    assert dict((k, v) for k, *v in one_hop)["after"] == [7]
    async with engines[True].connect() as c:
        assert isinstance((await c.get_raw_connection()).dbapi_connection.cursor(), OneHopCursor)


async def _trips(engine) -> int:  # noqa: ANN001
    """Functions handed to aiosqlite's thread (``Connection._execute``) for one SELECT with its rows."""
    async with engine.connect() as c:
        await c.execute(text("select 1"))  # connected, settings read
        conn = (await c.get_raw_connection()).driver_connection
        trips = []
        execute = conn._execute

        async def counting(fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
            trips.append(fn)
            return await execute(fn, *args, **kwargs)

        conn._execute = counting
        try:
            rows = (await c.execute(text("select name from people where id > :n"), {"n": 0})).all()
        finally:
            del conn._execute
    assert rows == []
    return len(trips)


async def test_one_statement_is_one_trip_to_the_database_thread(engines):
    """Each trip waits for the event loop's next turn: on a busy hub that wait is the statement's cost."""
    assert await _trips(engines[True]) == 1
    assert await _trips(engines[False]) >= 3  # the stock cursor: make, execute, fetch, close
