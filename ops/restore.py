"""``hub restore SRC``: a backup back into an empty database and empty data folders, every sum checked.

Order: read the manifest, check every file's sha256 (nothing is touched when one differs), check that the
backup's schema revision is one this hub knows, check that the database and the data folders are empty,
then the files (each checked again after the copy), then the database (SQLite: written beside and
renamed; PostgreSQL: ``pg_restore`` in one transaction), and compare the row counts with the
manifest. An interrupted restore removes what it had put in.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from ops.backup import Plan, _bar, read_manifest
from ops.dbdump import (
    BackupError,
    Interrupted,
    pg_counts,
    pg_is_empty,
    pg_restore,
    sqlite_describe,
    sqlite_is_empty,
    sqlite_restore,
)
from ops.files import copy_with_sum, is_empty_dir, sha256_of

log = logging.getLogger("hub.ops.restore")


@dataclass(frozen=True)
class Restored:
    tables: dict[str, int]
    files: int
    bytes: int
    settings_file: Path | None


def verify(src: Path, manifest: dict) -> list[str]:
    """Every part of the backup against its sum; the problems found (empty: all is well)."""
    problems = []
    parts = [(src / manifest["database"]["file"], manifest["database"]["sha256"])]
    parts += [(src / "files" / f["area"] / f["path"], f["sha256"]) for f in manifest["files"]]
    if manifest.get("settings"):
        parts.append((src / manifest["settings"]["file"], manifest["settings"]["sha256"]))
    total = sum(p.stat().st_size for p, _ in parts if p.is_file())
    with _bar("checking", total) as bar:
        for path, expected in parts:
            if not path.is_file():
                problems.append(f"missing: {path.relative_to(src)}")
            elif sha256_of(path, bar.update) != expected:
                problems.append(f"checksum differs: {path.relative_to(src)}")
    return problems


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    from crm_core.migrate import alembic_config

    return {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


async def restore(plan: Plan, src: Path, stop: threading.Event | None = None) -> Restored:
    stop = stop or threading.Event()
    manifest = read_manifest(src)
    backend = "sqlite" if plan.sqlite_path else "postgresql"
    if manifest["backend"] != backend:
        raise BackupError(f"the backup is of a {manifest['backend']} database, this hub is set up for {backend} "
                          "([database] url)")
    unknown = set(manifest["schema_revision"]) - _known_revisions()
    if unknown:
        raise BackupError(f"the backup's schema revision {', '.join(sorted(unknown))} is newer than this hub: "
                          "restore it with the hub version that made it, or a newer one")
    problems = await asyncio.to_thread(verify, src, manifest)
    if problems:
        shown = "; ".join(problems[:5]) + (f"; … {len(problems) - 5} more" if len(problems) > 5 else "")
        raise BackupError(f"the backup is damaged, nothing was restored: {shown}")
    await _check_empty(plan, manifest)
    written: list[Path] = []
    try:
        count, size = await asyncio.to_thread(_put_files, plan, src, manifest, stop, written)
        if stop.is_set():
            raise Interrupted("interrupted")
        # the database last: SQLite's file is renamed into place, pg_restore runs in one transaction
        if plan.sqlite_path is not None:
            await asyncio.to_thread(sqlite_restore, src / manifest["database"]["file"], plan.sqlite_path)
        else:
            await pg_restore(plan.url, src / manifest["database"]["file"])  # type: ignore[arg-type]
    except BaseException:
        for path in reversed(written):  # an interrupted restore leaves the targets empty again
            path.unlink(missing_ok=True)
        raise
    if plan.sqlite_path is not None:
        revisions, tables = (lambda c: (c.revisions, c.tables))(sqlite_describe(plan.sqlite_path))
    else:
        revisions, tables = await pg_counts(plan.url)  # type: ignore[arg-type]
    expected = manifest["database"]["tables"]
    differ = [t for t in expected if tables.get(t) != expected[t]]
    if differ or list(revisions) != manifest["schema_revision"]:
        raise BackupError(f"restored, but the row counts differ from the backup's in: {', '.join(differ)}")
    settings = src / manifest["settings"]["file"] if manifest.get("settings") else None
    log.info("restore from %s complete: %d tables, %d files", src.name, len(tables), count)
    return Restored(tables, count, size, settings)


async def _check_empty(plan: Plan, manifest: dict) -> None:
    if plan.sqlite_path is not None:
        if not await asyncio.to_thread(sqlite_is_empty, plan.sqlite_path):
            raise BackupError(f"the database {plan.sqlite_path} is not empty: restore goes into a new one "
                              "(move the old file away first)")
    elif not await pg_is_empty(plan.url):  # type: ignore[arg-type]
        raise BackupError("the database is not empty: restore goes into a new one "
                          "(createdb a new database and point [database] url at it)")
    for area in {f["area"] for f in manifest["files"]}:
        root = plan.areas.get(area)
        if root is None:
            raise BackupError(f"the backup holds files of the {area!r} folder, which these settings lack "
                              f"(it was {manifest['areas'].get(area)})")
        if not is_empty_dir(root, plan.skip):
            raise BackupError(f"the folder {root} is not empty: restore goes into empty folders")


def _put_files(plan: Plan, src: Path, manifest: dict, stop: threading.Event, written: list[Path]) -> tuple[int, int]:
    total = sum(f["size"] for f in manifest["files"])
    count = 0
    with _bar("files", total) as bar:
        for f in manifest["files"]:
            if stop.is_set():
                raise Interrupted("interrupted")
            target = plan.areas[f["area"]] / f["path"]
            if plan.areas[f["area"]].resolve() not in target.resolve().parents:
                raise BackupError(f"a file path leaves its folder: {f['path']}")
            written.append(target)
            _, digest = copy_with_sum(src / "files" / f["area"] / f["path"], target, bar.update)
            if digest != f["sha256"]:
                raise BackupError(f"the copy of {f['path']} differs from the backup (disk error?)")
            count += 1
    return count, total
