"""The database part of a backup: SQLite through the online backup API, PostgreSQL through ``pg_dump -Fc``
in one exported snapshot (so the row counts in the manifest are those of the dump), and their restore."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL

STEP_PAGES = 4096          # pages copied per step of the SQLite backup (16 MB with the usual 4 KB pages)
MAX_RESTARTS = 3           # a busy hub that rewrites pages mid-copy: after this many, one step holds a snapshot


class BackupError(RuntimeError):
    """A backup or restore cannot go on; the message says why and what to do."""


class Interrupted(BackupError):
    """Stopped by the person (Ctrl+C) or the service manager; nothing half-made is left."""


class _TooBusy(Exception):
    """The hub rewrote pages under a stepwise copy too often."""


@dataclass(frozen=True)
class DatabaseCopy:
    file: str
    size: int
    revisions: tuple[str, ...]
    tables: dict[str, int]


def pg_env_and_dsn(url: URL) -> tuple[dict[str, str], str]:
    """A libpq address without the password (that goes to PGPASSWORD, out of the process list)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return env, plain.render_as_string(hide_password=False)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return path


# --- SQLite ------------------------------------------------------------------------------------------
def sqlite_copy(src: Path, dst: Path, stop: threading.Event, progress: Callable[[int, int], None]) -> DatabaseCopy:
    """Copy a live SQLite database page by page (the hub keeps writing meanwhile), then read the copy's
    schema revision and row counts."""
    if not src.exists():
        raise BackupError(f"the database file {src} does not exist")
    source = sqlite3.connect(src, timeout=30)
    target = sqlite3.connect(dst)
    seen = {"remaining": -1, "restarts": 0}  # -1: no step yet

    def step(status: int, remaining: int, total: int) -> None:
        if stop.is_set():
            raise Interrupted("interrupted")
        if seen["remaining"] >= 0 and remaining > seen["remaining"]:
            seen["restarts"] += 1  # another connection wrote: SQLite started the copy again
            if seen["restarts"] > MAX_RESTARTS:
                raise _TooBusy
        seen["remaining"] = remaining
        progress(total - remaining, total)

    try:
        try:
            source.backup(target, pages=STEP_PAGES, progress=step)
        except _TooBusy:
            source.backup(target, pages=-1)  # one step: a read snapshot (WAL lets the hub write on)
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file (the hub turns WAL on again)
    finally:
        source.close()
        target.close()
    return sqlite_describe(dst)


def sqlite_describe(path: Path) -> DatabaseCopy:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        revisions = tuple(sorted(r[0] for r in conn.execute("SELECT version_num FROM alembic_version")))
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        tables = {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]  # noqa: S608 - catalog names
                  for name in names}
    conn.close()
    return DatabaseCopy(path.name, path.stat().st_size, revisions, tables)


def sqlite_restore(src: Path, dst: Path) -> None:
    """Put the backup's database file in place: written beside it, then renamed (never half a file)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    partial = dst.with_name(dst.name + ".restoring")
    shutil.copyfile(src, partial)
    with sqlite3.connect(partial) as conn:
        if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            partial.unlink()
            raise BackupError(f"the database in the backup fails SQLite's integrity check: {src}")
    conn.close()
    os.replace(partial, dst)


def sqlite_is_empty(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return True
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        n = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
    conn.close()
    return n == 0


# --- PostgreSQL --------------------------------------------------------------------------------------
async def _pg_connect(url: URL):  # noqa: ANN202 - asyncpg.Connection
    import asyncpg

    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return await asyncpg.connect(plain, timeout=10)


async def pg_tables(conn) -> list[str]:  # noqa: ANN001
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")
    return [r[0] for r in rows]


async def pg_dump(url: URL, dst: Path, progress: Callable[[int, int], None]) -> DatabaseCopy:
    """``pg_dump -Fc`` in a snapshot exported from a read-only transaction that also counts the rows."""
    tool = _tool("pg_dump")
    conn = await _pg_connect(url)
    proc = None
    try:
        await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
        tables = await pg_tables(conn)
        revisions = tuple(sorted(await conn.fetchval("SELECT array_agg(version_num) FROM alembic_version")
                                 or ())) if "alembic_version" in tables else ()
        env, dsn = pg_env_and_dsn(url)
        proc = await asyncio.create_subprocess_exec(
            tool, "--format=custom", "--no-owner", "--no-privileges", "--verbose", f"--snapshot={snapshot}",
            f"--file={dst}", f"--dbname={dsn}", env=env, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)
        counts = {name: await conn.fetchval(f'SELECT count(*) FROM "{name}"')  # noqa: S608 - catalog names
                  for name in tables}
        done, errors = 0, []
        assert proc.stderr is not None
        async for raw in proc.stderr:
            line = raw.decode("utf-8", "replace").strip()
            if "dumping contents of table" in line:
                done += 1
                progress(done, len(tables))
            elif "error" in line.lower():
                errors.append(line)
        if await proc.wait() != 0:
            raise BackupError("pg_dump failed: " + ("; ".join(errors[-3:]) or f"exit status {proc.returncode}"))
        progress(len(tables), len(tables))
        proc = None
        return DatabaseCopy(dst.name, os.path.getsize(dst), revisions, counts)  # noqa: ASYNC240 - one stat
    finally:
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.wait()
        await conn.close()


async def pg_is_empty(url: URL) -> bool:
    conn = await _pg_connect(url)
    try:
        return not await pg_tables(conn)
    finally:
        await conn.close()


async def pg_restore(url: URL, src: Path) -> None:
    """``pg_restore`` in one transaction: a failure leaves the database empty, as it was."""
    env, dsn = pg_env_and_dsn(url)
    proc = await asyncio.create_subprocess_exec(
        _tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
        f"--dbname={dsn}", str(src), env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        _, err = await proc.communicate()
    except asyncio.CancelledError:
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        raise BackupError("pg_restore failed: " + err.decode("utf-8", "replace").strip()[-500:])


async def pg_counts(url: URL) -> tuple[tuple[str, ...], dict[str, int]]:
    conn = await _pg_connect(url)
    try:
        tables = await pg_tables(conn)
        revisions = tuple(sorted(await conn.fetchval("SELECT array_agg(version_num) FROM alembic_version")
                                 or ())) if "alembic_version" in tables else ()
        return revisions, {name: await conn.fetchval(f'SELECT count(*) FROM "{name}"')  # noqa: S608 - catalog
                           for name in tables}
    finally:
        await conn.close()
