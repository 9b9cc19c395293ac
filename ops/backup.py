"""``hub backup DEST``: the database, the data folders and the settings file, with a manifest of sha256 sums.

A backup is written into ``DEST/.hub-backup-<time>.partial`` and renamed to ``DEST/hub-backup-<time>`` only
when every part is in and synced, so an interrupted backup (Ctrl+C, SIGTERM, a full disk) leaves nothing
that looks like a backup; a leftover ``.partial`` of a killed run is removed by the next one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm  # type: ignore[import-untyped]

from config.settings import Settings
from crm_core.db import database_url, is_sqlite
from ops.dbdump import BackupError, DatabaseCopy, Interrupted, pg_dump, sqlite_copy
from ops.files import FileEntry, copy_with_sum, fsync_dir, walk
from ops.status import record_backup

log = logging.getLogger("hub.ops.backup")
FORMAT = 1
PREFIX = "hub-backup-"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Plan:
    """What a backup of this hub takes, from its settings."""

    url: object  # sqlalchemy URL
    sqlite_path: Path | None
    areas: dict[str, Path]
    skip: frozenset[Path]
    settings_file: Path | None
    var_dir: Path
    notes: list[str] = field(default_factory=list)


def plan_of(settings: Settings, settings_file: str | Path | None, dest: Path | None = None) -> Plan:
    url = database_url(settings.database)
    sqlite_path = Path(url.database).resolve() if is_sqlite(url) and url.database else None
    skip: set[Path] = set()
    if sqlite_path is not None:
        skip |= {Path(f"{sqlite_path}{suffix}") for suffix in ("", "-wal", "-shm", "-journal", ".lock")}
    if dest is not None:
        skip.add(dest.resolve())
    areas: dict[str, Path] = {"var": Path(settings.storage.var_dir)}
    notes = []
    if settings.asterisk.enabled:
        rec = Path(settings.asterisk.recordings_dir)
        if rec.is_dir():
            areas["recordings"] = rec
        else:
            notes.append(f"recordings folder {rec} is not on this machine: back it up where MixMonitor writes")
    if settings.speech.recordings_dir is not None:
        areas["speech"] = Path(settings.speech.recordings_dir)
    for n, extra in enumerate(settings.backup.extra_dirs):
        areas[f"extra{n}"] = Path(extra)
    unique: dict[str, Path] = {}
    for name, path in areas.items():
        resolved = path.resolve()
        if resolved not in unique.values():
            unique[name] = resolved
    for name, path in unique.items():  # a folder inside another is taken once, as its own area
        for other_name, other in unique.items():
            if other_name != name and other.is_relative_to(path):
                skip.add(other)
    return Plan(url, sqlite_path, unique, frozenset(skip), Path(settings_file).resolve() if settings_file else None,
                Path(settings.storage.var_dir), notes)


def _bar(desc: str, total: int, unit: str = "B") -> tqdm:
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=unit == "B", disable=None, leave=True,
                dynamic_ncols=True)


async def make_backup(plan: Plan, dest: Path, keep: int | None = None,
                      stop: threading.Event | None = None) -> Path:
    """Write one complete backup into ``dest`` and return its folder; then keep the newest ``keep``."""
    stop = stop or threading.Event()
    started = time.monotonic()
    name = PREFIX + datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    tmp = await asyncio.to_thread(_start, dest, name)
    try:
        database = await _database(plan, tmp, stop)
        if not database.revisions:
            raise BackupError("the database has no hub schema yet: nothing to back up (start the hub once)")
        files = await asyncio.to_thread(_files, plan, tmp, stop)
        final = await asyncio.to_thread(_finish, plan, tmp, dest / name, database, files, stop)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    size = await asyncio.to_thread(lambda: sum(p.stat().st_size for p in final.rglob("*") if p.is_file()))
    seconds = time.monotonic() - started
    await asyncio.to_thread(record_backup, plan.var_dir, final, size, seconds)
    log.info("backup %s complete: %d files, %d bytes, %.1f s", final.name, len(files), size, seconds)
    if keep is not None:
        for old in await asyncio.to_thread(prune, dest, keep):
            log.info("backup %s removed (keeping the newest %d)", old.name, keep)
    return final


def _start(dest: Path, name: str) -> Path:
    """The temporary folder of a new backup; a ``.partial`` left by a killed run goes first."""
    dest.mkdir(parents=True, exist_ok=True)
    for stale in dest.glob(f".{PREFIX}*.partial"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = dest / f".{name}.partial"
    tmp.mkdir()
    return tmp


def _finish(plan: Plan, tmp: Path, final: Path, database: DatabaseCopy, files: list[FileEntry],
            stop: threading.Event) -> Path:
    """The settings file and the manifest in, everything synced, then the one rename that makes it a backup."""
    from ops.files import sha256_of

    settings_entry = None
    if plan.settings_file is not None and plan.settings_file.is_file():
        size, digest = copy_with_sum(plan.settings_file, tmp / "settings.toml")
        settings_entry = {"file": "settings.toml", "from": str(plan.settings_file), "size": size, "sha256": digest}
    manifest = {
        "format": FORMAT, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "backend": "sqlite" if plan.sqlite_path else "postgresql",
        "schema_revision": list(database.revisions),
        "database": {"file": database.file, "size": database.size, "sha256": sha256_of(tmp / database.file),
                     "tables": database.tables},
        "areas": {name: str(path) for name, path in plan.areas.items()},
        "files": [f.as_dict() for f in files], "settings": settings_entry, "notes": plan.notes,
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    fsync_dir(tmp)
    if stop.is_set():
        raise Interrupted("interrupted")
    tmp.rename(final)
    fsync_dir(final.parent)
    return final


async def _database(plan: Plan, tmp: Path, stop: threading.Event) -> DatabaseCopy:
    if plan.sqlite_path is not None:
        bar = _bar("database", 0, "page")

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        try:
            return await asyncio.to_thread(sqlite_copy, plan.sqlite_path, tmp / "database.sqlite3", stop, progress)
        finally:
            bar.close()
    bar = _bar("database", 0, "table")

    def progress_pg(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        return await pg_dump(plan.url, tmp / "database.pgdump", progress_pg)  # type: ignore[arg-type]
    finally:
        bar.close()


def _files(plan: Plan, tmp: Path, stop: threading.Event) -> list[FileEntry]:
    listing = [(area, root, path, size) for area, root in plan.areas.items()
               for path, size in walk(root, plan.skip)]
    entries = []
    with _bar("files", sum(size for *_, size in listing)) as bar:
        for area, root, path, _ in listing:
            if stop.is_set():
                raise Interrupted("interrupted")
            rel = path.relative_to(root).as_posix()
            try:
                size, digest = copy_with_sum(path, tmp / "files" / area / rel, bar.update)
            except FileNotFoundError:
                continue  # removed by the running hub since the listing
            entries.append(FileEntry(area, rel, size, digest))
    return entries


def backups_in(dest: Path) -> list[Path]:
    """The complete backups in ``dest``, oldest first (their names sort by time)."""
    if not dest.is_dir():
        return []
    return sorted(p for p in dest.iterdir() if p.name.startswith(PREFIX) and (p / MANIFEST).is_file())


def prune(dest: Path, keep: int) -> list[Path]:
    """Remove all but the newest ``keep`` complete backups; returns the removed ones."""
    old = backups_in(dest)[:-keep] if keep > 0 else []
    for path in old:
        shutil.rmtree(path)
    return old


def read_manifest(folder: Path) -> dict:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{folder} is not a hub backup: it has no {MANIFEST}") from None
    except ValueError as exc:
        raise BackupError(f"{folder / MANIFEST} is damaged: {exc}") from None
