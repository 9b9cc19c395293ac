"""``hub upgrade --check`` (what a new version would do to the schema) and ``hub upgrade`` (do it).

A migration is reversible when its ``downgrade()`` does something: a body of only ``pass``, a docstring or
``raise NotImplementedError`` is not. The upgrade itself is ``crm_core.migrate.migrate``: all pending
migrations in one transaction, so a failing one leaves the database as it was on both backends.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.migrate import MIGRATIONS, _parsed, alembic_config, script_revisions


@dataclass(frozen=True)
class Pending:
    revision: str
    message: str
    reversible: bool
    path: str


def reversible(path: Path) -> bool:
    """Whether the script's ``downgrade()`` has a body that does something."""
    for node in _parsed(path).body:  # one parse at a time (crm_core/migrate.py says why)
        if isinstance(node, ast.FunctionDef) and node.name == "downgrade":
            for stmt in node.body:
                if isinstance(stmt, ast.Pass):
                    continue
                if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                    continue  # a docstring or ...
                if isinstance(stmt, ast.Raise):
                    continue
                return True
            return False
    return False


async def stored_revisions(engine: AsyncEngine) -> set[str] | None:
    """The revisions in ``alembic_version``; None when the database has no schema yet."""
    async with engine.connect() as conn:
        has = await conn.run_sync(lambda c: c.dialect.has_table(c, "alembic_version"))
        if not has:
            return None
        return set((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())


def pending_of(stored: set[str] | None, location: Path = MIGRATIONS) -> list[Pending]:
    """The migrations not yet applied over ``stored``, oldest first. A merge point undoes nothing and
    counts as reversible."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(location=location))
    done: set[str] = set()
    for rev in stored or ():
        done |= {r.revision for r in script.iterate_revisions(rev, "base")}
    every = list(script.walk_revisions("base", "heads"))
    every.reverse()
    return [Pending(r.revision, (r.doc or "").strip().splitlines()[0] if r.doc else "",
                    r.is_merge_point or reversible(Path(r.path)), Path(r.path).name)
            for r in every if r.revision not in done]


def too_new(stored: set[str] | None, location: Path = MIGRATIONS) -> set[str]:
    known = script_revisions(location / "versions") or frozenset()
    return set(stored or ()) - known


async def schema_too_new_message(engine: AsyncEngine) -> str | None:
    """The line ``hub run`` stops with when the database was migrated by a newer hub (None: all is well,
    or the database cannot be reached now: the start's own retries deal with that)."""
    try:
        stored = await stored_revisions(engine)
    except Exception:  # noqa: BLE001 - unreachable now; the start retries and reports it
        return None
    newer = too_new(stored)
    if not newer:
        return None
    return (f"the database schema ({', '.join(sorted(newer))}) is newer than this hub: run the hub version "
            "that migrated it, or restore a backup made before that upgrade")


def refuse_newer_schema(settings) -> str | None:  # noqa: ANN001 - config.settings.Settings
    """Before ``hub run``: the line to stop with when a newer hub migrated the database (it exits 2)."""
    import asyncio

    from crm_core.db import create_engine, database_url, is_sqlite

    url = database_url(settings.database)
    if is_sqlite(url) and (not url.database or not Path(url.database).exists()):
        return None  # a new SQLite file: nothing to compare

    async def go() -> str | None:
        engine = create_engine(settings.database.model_copy(update={"connect_retries": 0}))
        try:
            async with asyncio.timeout(5):
                return await schema_too_new_message(engine)
        except TimeoutError:
            return None
        finally:
            await engine.dispose()

    return asyncio.run(go())
