"""``hub backup``, ``hub restore``, ``hub upgrade`` and ``hub doctor`` (docs/deploy.md shows them in use).

    hub backup [DEST]              # DEST or [backup] dir; keeps [backup] keep backups there
    hub restore SRC                # into an empty database and empty data folders
    hub upgrade --check            # pending migrations, each reversible or not
    hub upgrade                    # apply them (one transaction: a failure changes nothing)
    hub doctor                     # one line per check, exit status 1 when one failed
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

EXIT_INTERRUPTED = 130


def add_parser(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser("backup", help="back up the database, recordings, attachments and settings (hub running)")
    b.add_argument("dest", nargs="?", type=Path, help="folder for the backups (default: [backup] dir)")
    b.add_argument("--keep", type=int, help="backups to keep in DEST (default: [backup] keep)")
    r = sub.add_parser("restore", help="restore a backup into an empty database and empty data folders")
    r.add_argument("src", type=Path, help="a backup folder (DEST/hub-backup-…)")
    u = sub.add_parser("upgrade", help="bring the schema up to date; --check lists what that would do")
    u.add_argument("--check", action="store_true", help="list pending migrations and whether each is reversible")
    sub.add_parser("doctor", help="check settings, database, disk, PBX, mail, bot, calendar, speech")


def _settings_file(args: argparse.Namespace) -> str | None:
    return args.config or os.environ.get("HUB_CONFIG") or None


def _interruptible(work: Callable[[threading.Event], Coroutine[Any, Any, int]]) -> int:
    """Run ``work``; Ctrl+C or SIGTERM stops it and it cleans up (no half backup, no half restore)."""
    from ops.dbdump import BackupError, Interrupted

    stop = threading.Event()
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum: int, frame: object) -> None:
        stop.set()
        raise KeyboardInterrupt

    main_thread = threading.current_thread() is threading.main_thread()
    if main_thread:  # signals reach the main thread only
        signal.signal(signal.SIGTERM, on_term)
    try:
        return asyncio.run(work(stop))
    except (KeyboardInterrupt, Interrupted):
        stop.set()
        print("hub: interrupted; nothing half-made was left", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BackupError as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return 1
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def cmd_backup(settings, args: argparse.Namespace) -> int:  # noqa: ANN001 - config.settings.Settings
    from ops.backup import make_backup, plan_of

    dest = args.dest or settings.backup.dir
    if dest is None:
        print("hub: where to? give DEST or set [backup] dir", file=sys.stderr)
        return 2
    plan = plan_of(settings, _settings_file(args), Path(dest))
    for note in plan.notes:
        print(f"note: {note}", file=sys.stderr)

    async def work(stop: threading.Event) -> int:
        folder = await make_backup(plan, Path(dest), args.keep or settings.backup.keep, stop)
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        print(f"backup complete: {folder} ({size / (1 << 20):.1f} MB)")
        return 0

    return _interruptible(work)


def cmd_restore(settings, args: argparse.Namespace) -> int:  # noqa: ANN001
    from ops.backup import plan_of
    from ops.restore import restore

    plan = plan_of(settings, _settings_file(args))

    async def work(stop: threading.Event) -> int:
        done = await restore(plan, args.src, stop)
        rows = sum(done.tables.values())
        print(f"restored: {len(done.tables)} tables ({rows} rows), {done.files} files, every checksum verified")
        if done.settings_file is not None:
            print(f"the backup's settings file is {done.settings_file}: compare it with yours "
                  "(secrets are not in it; they stay in the environment)")
        return 0

    return _interruptible(work)


def cmd_upgrade(settings, args: argparse.Namespace) -> int:  # noqa: ANN001
    from crm_core.db import create_engine
    from crm_core.migrate import SchemaTooNew, migrate
    from ops.upgrade import pending_of, stored_revisions, too_new

    async def go() -> int:
        engine = create_engine(settings.database)
        try:
            stored = await stored_revisions(engine)
            newer = too_new(stored)
            if newer:
                print(f"hub: the database schema ({', '.join(sorted(newer))}) is newer than this hub",
                      file=sys.stderr)
                return 2
            pending = pending_of(stored)
            if args.check:
                if not pending:
                    print("schema is up to date: nothing to migrate")
                for p in pending:
                    how = "reversible" if p.reversible else "NOT reversible (restore a backup to go back)"
                    print(f"{p.revision:<8} {how:<12}  {p.message}")
                return 0
            if not pending:
                print("schema is up to date: nothing to migrate")
                return 0
            try:
                await migrate(engine)
            except SchemaTooNew as exc:
                print(f"hub: {exc}", file=sys.stderr)
                return 2
            except Exception as exc:  # noqa: BLE001 - reported; the transaction left the schema as it was
                print(f"hub: migration failed, the database is as it was: {type(exc).__name__}: "
                      f"{str(exc).splitlines()[0][:300] if str(exc) else ''}", file=sys.stderr)
                return 1
            print(f"migrated: {', '.join(p.revision for p in pending)}")
            return 0
        finally:
            await engine.dispose()

    return asyncio.run(go())


def cmd_doctor(settings, args: argparse.Namespace) -> int:  # noqa: ANN001
    from ops.doctor import run_checks
    from ops.doctor_core import exit_status

    checks = asyncio.run(run_checks(settings, _settings_file(args)))
    for check in checks:
        print(check.line())
    failed = sum(c.status == "FAIL" for c in checks)
    print(f"{len(checks)} checks, {failed} failed" if failed else f"{len(checks)} checks, none failed")
    return exit_status(checks)


COMMANDS = {"backup": cmd_backup, "restore": cmd_restore, "upgrade": cmd_upgrade, "doctor": cmd_doctor}
