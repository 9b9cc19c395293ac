"""Bring the schema to the newest Alembic revision, on the hub's own engine.

Alembic (with Mako and Pygments behind it) costs the hub some 10 MB it would carry for its whole life
although, on almost every start, the schema is already current. So the revisions the scripts hold are
read first with ``tokenize`` (their ``revision`` and ``down_revision`` literals, never executed); when the
database's ``alembic_version`` holds exactly their heads there is nothing to do and Alembic is not
loaded. Anything unclear (a script that does not read plainly, no version table, another set of
revisions) goes to Alembic, which decides as always.
"""

from __future__ import annotations

import logging
import tokenize
from collections.abc import Collection
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


class Unclear(ValueError):
    """A script's line does not read as a plain literal: only Alembic can tell what it means."""


def logical_lines(path: Path) -> list[tuple[int, list[tokenize.TokenInfo]]]:
    """A script's logical lines as (indentation level, tokens), comments and blank lines left out.

    Read with ``tokenize`` (pure Python) rather than ``ast.parse``: CPython 3.11's ``ast.parse`` in two
    threads at once fails with "AST constructor recursion depth mismatch", and a hub started in a thread
    (as tests and the API's contract check do) migrates while pytest or another hub parses too; a lock
    here cannot cover the other callers."""
    lines: list[tuple[int, list[tokenize.TokenInfo]]] = []
    depth, current = 0, []
    with path.open("rb") as source:
        for tok in tokenize.tokenize(source.readline):
            if tok.type == tokenize.INDENT:
                depth += 1
            elif tok.type == tokenize.DEDENT:
                depth -= 1
            elif tok.type == tokenize.NEWLINE:
                if current:
                    lines.append((depth, current))
                current = []
            elif tok.type not in (tokenize.NL, tokenize.COMMENT, tokenize.ENCODING, tokenize.ENDMARKER):
                current.append(tok)
    return lines


def _plain_string(tok: tokenize.TokenInfo) -> str:
    text = tok.string
    if tok.type != tokenize.STRING or text[:1] not in "'\"" or text[:3] in ('"""', "'''") or "\\" in text:
        raise Unclear(text)
    return text[1:-1]


def literal(tokens: list[tokenize.TokenInfo]) -> object:
    """``None``, a plain string, or a tuple or list of plain strings, from its tokens; Unclear otherwise."""
    words = [t.string for t in tokens]
    if words == ["None"]:
        return None
    if len(tokens) == 1:
        return _plain_string(tokens[0])
    if len(words) >= 2 and (words[0], words[-1]) in (("(", ")"), ("[", "]")):
        inner = tokens[1:-1]
        items = [_plain_string(t) for t in inner[0::2]]
        if any(t.string != "," for t in inner[1::2]):
            raise Unclear(" ".join(words))
        return tuple(items)
    raise Unclear(" ".join(words))


def top_level_literals(path: Path, names: Collection[str]) -> dict[str, object]:
    """The values of the top-level ``name = literal`` (or ``name: type = literal``) lines for ``names``."""
    found: dict[str, object] = {}
    for depth, tokens in logical_lines(path):
        if depth or tokens[0].type != tokenize.NAME or tokens[0].string not in names:
            continue
        equals = next((i for i, t in enumerate(tokens) if t.type == tokenize.OP and t.string == "="), None)
        if equals is None or (equals > 1 and tokens[1].string != ":"):
            continue
        found[tokens[0].string] = literal(tokens[equals + 1:])
    return found


def script_revisions(versions: Path = MIGRATIONS / "versions") -> frozenset[str] | None:
    """Every revision the scripts in ``versions`` name (read without running them); None when one is unclear."""
    found: set[str] = set()
    for path in versions.glob("*.py"):
        try:
            revision = top_level_literals(path, ("revision",)).get("revision")
        except Unclear:
            return None
        if isinstance(revision, str):
            found.add(revision)
    return frozenset(found)


def script_heads(versions: Path = MIGRATIONS / "versions") -> frozenset[str] | None:
    """The head revisions of the scripts in ``versions``, read without running them; None when a script
    does not name its revision and parents as plain literals (then only Alembic can tell)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(versions.glob("*.py")):
        if path.name == "__init__.py":
            continue
        try:
            names = top_level_literals(path, ("revision", "down_revision", "depends_on"))
        except Unclear:
            return None
        revision, down = names.get("revision"), names.get("down_revision", ...)
        if not isinstance(revision, str) or down is ... or names.get("depends_on"):
            return None
        downs = (down,) if isinstance(down, str) else (() if down is None else down)
        if not isinstance(downs, tuple) or not all(isinstance(d, str) for d in downs):
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
