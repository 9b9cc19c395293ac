"""``hub upgrade --check`` (what a new version would do to the schema) and ``hub upgrade`` (do it).

A migration is reversible when its ``downgrade()`` does something: a body of only ``pass``, a docstring or
``raise NotImplementedError`` is not. The upgrade itself is ``crm_core.migrate.migrate``: all pending
migrations in one transaction, so a failing one leaves the database as it was on both backends.
"""

from __future__ import annotations

import tokenize
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.migrate import MIGRATIONS, alembic_config, logical_lines, script_revisions


@dataclass(frozen=True)
class Pending:
    revision: str
    message: str
    reversible: bool
    path: str


def reversible(path: Path) -> bool:
    """Whether the script's ``downgrade()`` has a body that does something: a statement other than ``pass``,
    ``...``, a docstring or a ``raise``. Read with ``tokenize`` (crm_core/migrate.py says why not ``ast``)."""
    lines = logical_lines(path)
    for at, (depth, tokens) in enumerate(lines):
        if depth or [t.string for t in tokens[:2]] != ["def", "downgrade"]:
            continue
        if tokens[-1].string != ":":  # a one-line body: ``def downgrade() -> None: pass``
            colon = max(i for i, t in enumerate(tokens) if t.string == ":")
            return not _idle(tokens[colon + 1:])
        body = []
        for inner_depth, inner in lines[at + 1:]:
            if inner_depth == 0:
                break
            if inner_depth == 1:
                body.append(inner)
        return not all(_idle(statement) for statement in body)
    return False


def _idle(statement: list[tokenize.TokenInfo]) -> bool:
    first = statement[0]
    return (first.string in ("pass", "raise", "...") and first.type in (tokenize.NAME, tokenize.OP)) or (
        first.type == tokenize.STRING and len(statement) == 1)


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
