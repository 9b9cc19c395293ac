"""Migration 0008c on a database the old rule filled: a client's repeated open call inquiries of one department
become one conversation (the oldest), with every message, call, task and timeline entry; on both databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from config.settings import DatabaseSettings
from crm_core.db import create_engine
from crm_core.migrate import alembic_config
from tests.conftest import PG_ADMIN_URL, PG_ERROR, _pg_admin, missing_part

NOW = datetime.now(UTC).replace(microsecond=0)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@pytest.fixture(params=["sqlite", "postgres"])
async def old_db(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[AsyncEngine]:  # noqa: ANN001
    """An empty database of its own (the shared one is already at the newest revision)."""
    name = None
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}"
    else:
        name = f"hub_fold_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        try:
            await _pg_admin(f'CREATE DATABASE "{name}"')
        except Exception as exc:  # noqa: BLE001 - no PostgreSQL here
            PG_ERROR.append(repr(exc))
            missing_part(f"PostgreSQL at {PG_ADMIN_URL} unreachable: {PG_ERROR}")
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    engine = create_engine(DatabaseSettings(url=url))
    try:
        yield engine
    finally:
        await engine.dispose()
        if name:
            await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def upgrade(engine: AsyncEngine, revision: str) -> None:
    from alembic import command

    cfg = alembic_config()

    def run(conn: sa.Connection) -> None:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


def _filler(col: sa.Column) -> object:
    t = col.type
    if isinstance(t, sa.DateTime):
        return NOW
    if isinstance(t, sa.Boolean):
        return False
    if isinstance(t, sa.Integer | sa.Numeric | sa.Float):
        return 0
    if isinstance(t, sa.JSON):
        return {}
    return "x"


class Rows:
    """Inserts into the tables as revision 0007 has them (reflected), filling required columns left out."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.meta = sa.MetaData()

    def table(self, name: str) -> sa.Table:
        if name not in self.meta.tables:
            sa.Table(name, self.meta, autoload_with=self.conn)
        return self.meta.tables[name]

    def add(self, name: str, /, **values: object) -> int:
        table = self.table(name)
        for col in table.columns:
            if col.name not in values and not col.nullable and not col.primary_key and col.server_default is None:
                values[col.name] = _filler(col)
        result = self.conn.execute(table.insert().values(**values))
        return result.inserted_primary_key[0] if result.inserted_primary_key else 0


def seed(conn: sa.Connection) -> dict[str, int]:
    r = Rows(conn)
    ids: dict[str, int] = {}
    ids["sales"] = r.add("departments", name="Продажи")
    ids["rent"] = r.add("departments", name="Аренда")
    ids["anna"] = r.add("users", login="anna", full_name="Анна", password_hash="x", role="agent",
                        department_id=ids["sales"], extension="101", skills=[])
    ids["ivan"] = r.add("clients", name="Иван", kind="person")
    ids["romashka"] = r.add("clients", name="Ромашка", kind="company")

    def inquiry(key: str, client: str, days: float, *, dept: str = "sales", channel: str = "call",
                status: str = "new", owner: str | None = None) -> int:
        ids[key] = r.add("inquiries", client_id=ids[client], channel=channel, external_id=key, thread_key=key,
                         status=status, pool="none", department_id=ids[dept], owner_id=ids[owner] if owner else None,
                         created_at=ago(days), updated_at=ago(days), last_action_at=ago(days), utm={},
                         accepted_at=ago(days) if owner else None)
        r.add("inquiry_events", inquiry_id=ids[key], at=ago(days), kind="opened", data={})
        return ids[key]

    inquiry("F", "ivan", 60)  # open, but 50 days before the next: a conversation of its own
    inquiry("A", "ivan", 10)  # the oldest of the repeated ones: the rest fold into it
    inquiry("B", "ivan", 9, status="in_work", owner="anna")
    inquiry("C", "ivan", 8)
    inquiry("D", "ivan", 7, dept="rent")  # another department
    inquiry("E", "ivan", 6, channel="email")  # not a call
    inquiry("X", "ivan", 5, status="done")  # closed
    inquiry("G", "romashka", 3)
    inquiry("H", "romashka", 2)  # a property is linked to it: it stays, closed as merged
    for n, key in enumerate(("A", "B", "C", "C", "G", "H")):
        msg = r.add("messages", inquiry_id=ids[key], client_id=ids["ivan"], channel="call",
                    external_id=f"m{n}", direction="in", body="", meta={}, created_at=ago(8))
        call = r.add("calls", uniqueid=f"u{n}", direction="inbound", inquiry_id=ids[key], agents_rung=[],
                     client_id=ids["ivan"], created_at=ago(8))
        r.add("timeline", client_id=ids["ivan"], at=ago(8), kind="call", inquiry_id=ids[key], ref_id=call,
              summary="Входящий звонок")
        ids[f"msg{n}"], ids[f"call{n}"] = msg, call
    ids["task"] = r.add("tasks", kind="callback", status="open", client_id=ids["ivan"], inquiry_id=ids["C"],
                        created_at=ago(8), attempts=0)
    r.add("routing_decisions", inquiry_id=ids["C"], at=ago(8), explanation={})
    prop = r.add("properties", address="Тверская, 1", archived=False, created_at=ago(30))
    r.add("agency_property_links", property_id=prop, inquiry_id=ids["H"], at=ago(2))
    return ids


async def test_the_migration_folds_a_clients_repeated_open_call_inquiries_into_the_oldest(old_db):
    await upgrade(old_db, "0007")
    async with old_db.begin() as conn:
        ids = await conn.run_sync(seed)
    await upgrade(old_db, "0008c")

    async with old_db.connect() as conn:
        def q(sql: str, **params: object) -> list:
            return list(conn.sync_connection.execute(sa.text(sql), params).all())

        def read(_: object) -> dict:
            return {
                "inquiries": {r[0]: (r[1], r[2]) for r in q("SELECT id, status, owner_id FROM inquiries")},
                "messages": {r[0]: r[1] for r in q("SELECT id, inquiry_id FROM messages")},
                "calls": {r[0]: r[1] for r in q("SELECT id, inquiry_id FROM calls")},
                "timeline": sorted(r[0] for r in q("SELECT inquiry_id FROM timeline WHERE kind = 'call'")),
                "task": q("SELECT inquiry_id FROM tasks")[0][0],
                "merged": {r[0]: r[1] for r in q("SELECT inquiry_id, note FROM inquiry_events WHERE kind = 'merged'")},
                "decisions": q("SELECT inquiry_id FROM routing_decisions"),
                "tables": sa.inspect(conn.sync_connection).get_table_names(),
            }

        got = await conn.run_sync(read)
    A, B, C, G, H = (ids[k] for k in "ABCGH")  # noqa: N806
    inquiries = got["inquiries"]
    assert B not in inquiries and C not in inquiries  # folded, nothing else named them: gone
    assert inquiries[A] == ("in_work", ids["anna"])  # the agent who held one keeps the conversation
    for key in ("F", "D", "E", "X", "G"):
        assert ids[key] in inquiries and inquiries[ids[key]][0] != "archived"
    assert inquiries[H] == ("archived", None)  # a property link names it: closed as merged
    assert got["messages"] == {ids["msg0"]: A, ids["msg1"]: A, ids["msg2"]: A, ids["msg3"]: A,
                               ids["msg4"]: G, ids["msg5"]: G}
    assert set(got["calls"].values()) == {A, G} and list(got["calls"].values()).count(A) == 4
    assert got["timeline"] == sorted([A] * 4 + [G] * 2)
    assert got["task"] == A
    assert got["decisions"] == []
    assert f"№{B}" in got["merged"][A] and f"№{C}" in got["merged"][A]
    assert got["merged"][H] == f"Объединено с обращением №{G}"
    open_calls = [k for k in "FABCDGH" if ids[k] in inquiries and inquiries[ids[k]][0] in ("new", "in_work")]
    assert open_calls == ["F", "A", "D", "G"]
    assert "did_sources" in got["tables"]
