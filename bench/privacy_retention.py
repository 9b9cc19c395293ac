"""One retention run over 100,000 old calls, each with a recording file and a transcript.

    python -m bench.privacy_retention [--quick] [--dry-run] [--postgres]

A fresh database (SQLite under var/bench/, or with --postgres the local ``hub_bench_privacy``) gets 100,000
calls a year and a half old (10,000 with --quick), each with a recording (a small file on disk) and a done
transcript, plus as many messages; then ``privacy.retention.Retention`` runs with the default periods.
It prints a progress line per batch, the seconds per kind, and as its last line one JSON object: the total
seconds (and the hub process's CPU seconds: on a busy machine the wall time mostly waits), rows per second,
and the files deleted.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, text

from bench.common import ROOT, emit
from config.settings import DatabaseSettings
from crm_core.db import create_engine, session_factory
from crm_core.migrate import migrate
from crm_core.models import Call, Client, Inquiry, Message, Recording, Transcript, utcnow
from privacy.files import FileRoots
from privacy.retention import Retention
from privacy.settings import RetentionSettings

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_NAME = "hub_bench_privacy"


async def _database(postgres: bool, folder: Path) -> str:
    if not postgres:
        path = folder / "privacy.sqlite3"
        path.unlink(missing_ok=True)
        return f"sqlite+aiosqlite:///{path}"
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{PG_NAME}"')
    finally:
        await conn.close()
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{PG_NAME}"


async def _seed(sessions, n: int, rec_dir: Path) -> None:  # noqa: ANN001
    old = utcnow() - timedelta(days=550)
    async with sessions() as s, s.begin():
        await s.execute(insert(Client), [{"name": f"Клиент {i}", "created_at": old} for i in range(n // 10)])
        await s.execute(insert(Inquiry), [{"client_id": 1 + i % (n // 10), "channel": "call", "external_id": f"i{i}",
                                           "subject": "Звонок", "created_at": old} for i in range(n // 10)])
    step = 10_000
    for start in range(0, n, step):
        ids = range(start + 1, min(n, start + step) + 1)
        for i in ids:
            (rec_dir / f"{i}.wav").write_bytes(b"RIFF")
        async with sessions() as s, s.begin():
            await s.execute(insert(Call), [{"id": i, "uniqueid": f"u{i}", "direction": "inbound",
                                            "caller": f"+7916{i:07d}", "client_id": 1 + i % (n // 10),
                                            "started_at": old, "recording_path": f"{i}.wav", "created_at": old}
                                           for i in ids])
            await s.execute(insert(Recording), [{"id": i, "call_id": i, "path": f"{i}.wav", "channels": 1,
                                                 "created_at": old} for i in ids])
            await s.execute(insert(Transcript), [{"recording_id": i, "status": "done", "text": "добрый день",
                                                  "words": [], "created_at": old} for i in ids])
            await s.execute(insert(Message), [{"inquiry_id": 1 + i % (n // 10), "client_id": 1 + i % (n // 10),
                                               "channel": "call", "external_id": f"m{i}", "body": "текст",
                                               "created_at": old} for i in ids])
        print(f"\rseeded {min(n, start + step)}/{n}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)


async def main(args: argparse.Namespace) -> None:
    n = 10_000 if args.quick else 100_000
    folder = ROOT / "var" / "bench" / "privacy"
    shutil.rmtree(folder, ignore_errors=True)
    rec_dir = folder / "rec"
    rec_dir.mkdir(parents=True)
    url = await _database(args.postgres, folder)
    engine = create_engine(DatabaseSettings(url=url))
    await migrate(engine)
    sessions = session_factory(engine)
    await _seed(sessions, n, rec_dir)
    if engine.dialect.name == "postgresql":
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
    retention = Retention(sessions, RetentionSettings(), FileRoots(folder, (rec_dir,)))

    def progress(kind: str, done: int) -> None:
        bar = "#" * int(30 * min(done, n) / n)
        print(f"\r{kind:<17} [{bar:<30}] {done}", end="", file=sys.stderr, flush=True)

    started, cpu = time.perf_counter(), time.process_time()
    report = await retention.run(dry_run=args.dry_run, progress=progress)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(file=sys.stderr)
    await engine.dispose()
    rows = sum(report.rows.values())
    emit({"name": "privacy_retention", "backend": engine.dialect.name, "calls": n, "dry_run": args.dry_run,
          "value": round(seconds, 2), "unit": "s", "cpu_s": round(cpu, 2), "rows": report.rows, "files": report.files,
          "rows_per_s": round(rows / seconds) if seconds else None})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 calls instead of 100,000")
    parser.add_argument("--dry-run", action="store_true", help="count only, change nothing")
    parser.add_argument("--postgres", action="store_true", help="the local PostgreSQL instead of SQLite")
    asyncio.run(main(parser.parse_args()))
