"""The Alembic migrations and the models describe the same schema, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from crm_core.models import Base


async def test_migrations_match_the_models(db):
    def diff(sync_conn):
        ctx = MigrationContext.configure(sync_conn, opts={"compare_type": False})
        return compare_metadata(ctx, Base.metadata)

    async with db.engine.connect() as conn:
        changes = await conn.run_sync(diff)
    assert changes == []


async def test_sqlite_runs_with_wal_foreign_keys_and_busy_timeout(tmp_path):
    from sqlalchemy import text

    from config.settings import DatabaseSettings
    from crm_core.db import create_engine

    engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'new' / 'hub.sqlite3'}"))
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 5000
    finally:
        await engine.dispose()


def test_the_heads_read_from_the_scripts_are_alembics_and_anything_unclear_is_left_to_it(tmp_path):
    from alembic.script import ScriptDirectory

    from crm_core.migrate import alembic_config, script_heads

    assert script_heads() == frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())
    (tmp_path / "a.py").write_text("revision = 'a'\ndown_revision = None\n")
    (tmp_path / "b.py").write_text("revision: str = 'b'\ndown_revision = 'a'\n")
    (tmp_path / "c.py").write_text("revision = 'c'\ndown_revision = 'a'\n")
    assert script_heads(tmp_path) == {"b", "c"}  # two branches
    (tmp_path / "d.py").write_text("revision = 'd'\ndown_revision = ('b', 'c')\n")
    assert script_heads(tmp_path) == {"d"}  # merged
    (tmp_path / "e.py").write_text("revision = make_id()\ndown_revision = 'd'\n")
    assert script_heads(tmp_path) is None  # not a plain literal: Alembic decides
    (tmp_path / "e.py").write_text("revision = 'e'  # a comment\ndown_revision: str | None = 'd'\n")
    assert script_heads(tmp_path) == {"e"}
    (tmp_path / "f.py").write_text("revision = 'f'\ndown_revision = 'e' + ''\n")
    assert script_heads(tmp_path) is None


def test_a_current_schema_starts_the_hub_without_loading_alembic(tmp_path):
    """A restart on a migrated database neither changes it nor loads Alembic (10 MB for the process's
    life); a new database is migrated by Alembic as before."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    program = (
        "import asyncio, sys\n"
        "from config.settings import DatabaseSettings\n"
        "from crm_core.db import create_engine\n"
        "from crm_core.migrate import migrate\n"
        "async def main():\n"
        f"    engine = create_engine(DatabaseSettings(url='sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}'))\n"
        "    await migrate(engine)\n"
        "    await engine.dispose()\n"
        "asyncio.run(main())\n"
        "print('alembic' in sys.modules)\n"
    )
    runs = [subprocess.run([sys.executable, "-c", program], cwd=root, capture_output=True, text=True, check=True)
            for _ in range(2)]
    assert [r.stdout.strip() for r in runs] == ["True", "False"]
