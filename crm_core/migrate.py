"""Bring the schema to the newest Alembic revision, on the hub's own engine."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("hub.migrate")
MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


async def migrate(engine: AsyncEngine) -> None:
    cfg = alembic_config()

    def _upgrade(connection) -> None:  # noqa: ANN001
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "heads")

    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)
    log.info("schema migrated to the newest revision")
