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
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger("hub.migrate")
MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaTooNew(RuntimeError):
    """The database holds a revision these scripts do not know: a newer hub migrated it. Never retried."""


def alembic_config(url: str | None = None, location: Path | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(location or MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


_PARSE_LOCK = threading.Lock()


def _parsed(path: Path) -> ast.Module:
    """A migration script's syntax tree. One parse at a time in the process: CPython 3.11's ``ast.parse`` in two
    threads at once can fail with "AST constructor recursion depth mismatch" (a hub started in a thread, as
    the API's contract test does, migrates while another does)."""
    source = path.read_text(encoding="utf-8")
    with _PARSE_LOCK:
        return ast.parse(source)


def script_revisions(versions: Path = MIGRATIONS / "versions") -> frozenset[str] | None:
    """Every revision the scripts in ``versions`` name (read without running them); None when one is unclear."""
    found: set[str] = set()
    for path in versions.glob("*.py"):
        for node in _parsed(path).body:
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None and any(
                    isinstance(t, ast.Name) and t.id == "revision"
                    for t in (node.targets if isinstance(node, ast.Assign) else [node.target])):
                if not isinstance(node.value, ast.Constant) or not isinstance(node.value.value, str):
                    return None
                found.add(node.value.value)
    return frozenset(found)


def script_heads(versions: Path = MIGRATIONS / "versions") -> frozenset[str] | None:
    """The head revisions of the scripts in ``versions``, read without running them; None when a script
    does not name its revision and parents as plain literals (then only Alembic can tell)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(versions.glob("*.py")):
        if path.name == "__init__.py":
            continue
        names: dict[str, object] = {}
        for node in _parsed(path).body:
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


async def migrate(engine: AsyncEngine, location: Path = MIGRATIONS) -> None:
    """Upgrade to the heads in one transaction: a migration that fails leaves the schema and the data as they
    were, on PostgreSQL (transactional DDL) and on SQLite (an explicit BEGIN, so DDL is inside it too)."""
    heads = script_heads(location / "versions")
    stored = await _stored_revisions(engine)
    if heads is not None and stored == heads:
        log.info("schema already at the newest revision (%s)", ", ".join(sorted(heads)))
        return
    known = script_revisions(location / "versions")
    if stored and known is not None and not stored <= known:
        raise SchemaTooNew(f"the database schema ({', '.join(sorted(stored - known))}) is newer than this hub: "
                           "run the hub version that migrated it, or restore a backup made before")
    from alembic import command

    cfg = alembic_config(location=location)

    def _upgrade(connection) -> None:  # noqa: ANN001
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "heads")

    async with engine.begin() as conn:
        if conn.dialect.name == "sqlite":  # pysqlite opens no transaction before DDL by itself
            await conn.exec_driver_sql("BEGIN IMMEDIATE")
        await conn.run_sync(_upgrade)
    log.info("schema migrated to the newest revision")
