"""Bring the schema to the newest Alembic revision, on the hub's own engine.

Alembic (with Mako and Pygments behind it) costs the hub some 10 MB it would carry for its whole life
although, on almost every start, the schema is already current. So the revisions the scripts hold are
read first with ``ast`` (their ``revision`` and ``down_revision`` literals, never executed); when the
database's ``alembic_version`` holds exactly their heads there is nothing to do and Alembic is not
loaded. Anything unclear (a script that does not read plainly, no version table, another set of
revisions) goes to Alembic, which decides as always.
"""

from __future__ import annotations

import ast
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger("hub.migrate")
MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def script_heads(versions: Path = MIGRATIONS / "versions") -> frozenset[str] | None:
    """The head revisions of the scripts in ``versions``, read without running them; None when a script
    does not name its revision and parents as plain literals (then only Alembic can tell)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(versions.glob("*.py")):
        if path.name == "__init__.py":
            continue
        names: dict[str, object] = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            target = node.target if isinstance(node, ast.AnnAssign) else (
                node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None)
            if isinstance(target, ast.Name) and target.id in ("revision", "down_revision", "depends_on") \
                    and node.value is not None:
                try:
                    names[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    return None
        revision, down = names.get("revision"), names.get("down_revision", ...)
        if not isinstance(revision, str) or down is ... or names.get("depends_on"):
            return None
        downs = (down,) if isinstance(down, str) else (() if down is None else down)
        if not isinstance(downs, tuple | list) or not all(isinstance(d, str) for d in downs):
            return None
        revisions.add(revision)
        parents.update(downs)
    heads = revisions - parents
    return frozenset(heads) if heads else None


async def _stored_revisions(engine: AsyncEngine) -> frozenset[str] | None:
    try:
        async with engine.connect() as conn:
            return frozenset((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())
    except Exception:  # noqa: BLE001 - no version table yet (a new database): Alembic creates it
        return None


async def migrate(engine: AsyncEngine) -> None:
    heads = script_heads()
    if heads is not None and await _stored_revisions(engine) == heads:
        log.info("schema already at the newest revision (%s)", ", ".join(sorted(heads)))
        return
    from alembic import command

    cfg = alembic_config()

    def _upgrade(connection) -> None:  # noqa: ANN001
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "heads")

    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)
    log.info("schema migrated to the newest revision")
