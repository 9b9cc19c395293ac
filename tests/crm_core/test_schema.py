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
