"""Upgrades: `hub upgrade --check` lists what is pending; a failing migration leaves the database as it was
(one transaction on both backends); a schema newer than the hub stops `hub run` with exit status 2."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text

from config.settings import DatabaseSettings
from crm_core.db import create_engine
from crm_core.migrate import MIGRATIONS, SchemaTooNew, migrate, script_heads
from main import EXIT_CONFIG
from ops.upgrade import pending_of, reversible
from tests.conftest import run_sync

FAILING = '''"""a deliberately failing migration: it changes a lot, then fails"""
import sqlalchemy as sa
from alembic import op

revision = "9999_fails"
down_revision = {heads!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("ops_half_done", sa.Column("id", sa.Integer, primary_key=True))
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("half_done", sa.Integer, nullable=True))
    op.execute("UPDATE clients SET name = 'changed'")
    op.execute("DELETE FROM contacts")
    raise RuntimeError("this migration fails on purpose")


def downgrade() -> None:
    op.drop_table("ops_half_done")
'''


def _with_failing(tmp_path: Path) -> Path:
    location = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, location, ignore=shutil.ignore_patterns("__pycache__"))
    heads = tuple(sorted(script_heads()))
    (location / "versions" / "9999_fails.py").write_text(FAILING.format(heads=heads), encoding="utf-8")
    return location


async def _state(engine) -> tuple:
    async with engine.connect() as conn:
        tables = sorted(await conn.run_sync(lambda c: sa_inspect(c).get_table_names()))
        columns = await conn.run_sync(lambda c: sorted(col["name"] for col in sa_inspect(c).get_columns("clients")))
        versions = sorted((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())
        names = sorted((await conn.execute(text("SELECT name FROM clients"))).scalars())
        contacts = (await conn.execute(text("SELECT count(*) FROM contacts"))).scalar_one()
    return tables, columns, versions, names, contacts


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_failing_migration_leaves_the_database_as_it_was(backend, tmp_path, new_database, demo_templates):
    from tests.ops.conftest import populate

    url = new_database(backend, "db")
    await populate(url, tmp_path / "var", tmp_path / "rec", demo_templates)
    engine = create_engine(DatabaseSettings(url=url))
    try:
        before = await _state(engine)
        assert before[4] > 0 and "ops_half_done" not in before[0]
        location = _with_failing(tmp_path)
        assert [p.revision for p in pending_of(set(before[2]), location)] == ["9999_fails"]
        with pytest.raises(RuntimeError, match="fails on purpose"):
            await migrate(engine, location)
        assert await _state(engine) == before  # tables, columns, revision, rows: all as they were
    finally:
        await engine.dispose()


def test_upgrade_check_lists_pending_migrations_and_reversibility(tmp_path, hub_cli):
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}"
    import sqlite3

    conn = sqlite3.connect(tmp_path / "hub.sqlite3")  # a hub of an old version: only the first migration done
    conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
    conn.execute("INSERT INTO alembic_version VALUES ('0001')")
    conn.commit()
    conn.close()
    status, out, err = hub_cli({"HUB_DATABASE__URL": url}, "upgrade", "--check")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("0002 ") and not any(line.startswith("0001 ") for line in lines)
    assert len(lines) == len(pending_of({"0001"}))
    assert all(("reversible" in line) for line in lines)
    # and a new database has every migration pending
    status, out, _ = hub_cli({"HUB_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'n.db'}"}, "upgrade", "--check")
    assert status == 0 and len(out.splitlines()) == len(pending_of(None))


def test_reversible_means_a_downgrade_that_does_something(tmp_path):
    one = tmp_path / "a.py"
    one.write_text('def upgrade():\n    pass\n\n\ndef downgrade():\n    """nothing"""\n    pass\n', encoding="utf-8")
    two = tmp_path / "b.py"
    two.write_text("def downgrade():\n    op.drop_table('x')\n", encoding="utf-8")
    three = tmp_path / "c.py"
    three.write_text("def downgrade():\n    raise NotImplementedError('one way')\n", encoding="utf-8")
    assert (reversible(one), reversible(two), reversible(three)) == (False, True, False)
    four = tmp_path / "d.py"
    four.write_text("def downgrade() -> None: ...\n", encoding="utf-8")
    five = tmp_path / "e.py"
    five.write_text("def downgrade():\n    if True:\n        pass\n    ...\n\ndef later():\n    op.x()\n",
                    encoding="utf-8")
    assert (reversible(four), reversible(five)) == (False, True)


def test_a_schema_newer_than_the_hub_stops_the_start_with_status_2(tmp_path, hub_cli):
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}"

    async def migrated_by_a_newer_hub() -> None:
        engine = create_engine(DatabaseSettings(url=url))
        await migrate(engine)
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO alembic_version VALUES ('0099_from_the_future')"))
        await engine.dispose()

    run_sync(migrated_by_a_newer_hub())
    env = {"HUB_DATABASE__URL": url, "HUB_STORAGE__VAR_DIR": str(tmp_path / "var"), "HUB_WEB__PORT": "0"}
    status, out, err = hub_cli(env, "run")
    assert status == EXIT_CONFIG
    assert "0099_from_the_future" in err and "newer than this hub" in err
    assert "Traceback" not in err and "Hub running" not in out
    status, _, err = hub_cli(env, "upgrade", "--check")
    assert status == 2 and "newer than this hub" in err

    async def migrate_again() -> None:  # the start's own migration (bootstrap) stops too, never retried
        engine = create_engine(DatabaseSettings(url=url))
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    with pytest.raises(SchemaTooNew, match="0099_from_the_future"):
        run_sync(migrate_again())
