"""Backup and restore of a big hub: 1,000,000 clients (with their phones) and 100,000 calls.

    python -m ops.bench_backup [--runs 3] [--skip-postgres]

SQLite: the client database of ``bench.crm_lookup`` (generated once, cached in var/bench/), copied, plus
100,000 calls. PostgreSQL: the same rows loaded with COPY into a database made for the run (dropped after).
Each backend: ``make_backup`` timed ``--runs`` times (median and worst), the backup's size, and one restore
into an empty database (timed). Prints one JSON line per backend.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sqlite3
import statistics
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

from config.settings import DatabaseSettings, Settings
from crm_core.db import create_engine
from crm_core.migrate import migrate
from ops.backup import make_backup, plan_of
from ops.restore import restore

CLIENTS = 1_000_000
CALLS = 100_000
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _call_rows(now: datetime) -> list[tuple]:
    return [(n, f"bench-{n}.1", f"bench-{n}.1", "inbound", f"+79{n:09d}", "101", "[]", (n % CLIENTS) + 1,
             now, now, now, 12.5, 95.0, "answered", now) for n in range(1, CALLS + 1)]


CALL_COLUMNS = ("id", "uniqueid", "linkedid", "direction", "caller", "callee", "agents_rung", "client_id",
                "started_at", "answered_at", "ended_at", "wait_s", "talk_s", "outcome", "created_at")


def sqlite_hub(folder: Path) -> Path:
    from bench.crm_lookup import DB, prepare_database

    prepare_database()
    path = folder / "hub.sqlite3"
    shutil.copyfile(DB, path)
    conn = sqlite3.connect(path)
    with conn:
        marks = ", ".join("?" * len(CALL_COLUMNS))
        conn.executemany(f"INSERT INTO calls ({', '.join(CALL_COLUMNS)}) VALUES ({marks})",  # noqa: S608
                         [(*r[:8], *(x.isoformat(sep=" ") if isinstance(x, datetime) else x for x in r[8:]))
                          for r in _call_rows(datetime(2026, 1, 1))])
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    return path


async def pg_hub(name: str) -> str:
    import asyncpg

    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    engine = create_engine(DatabaseSettings(url=url.replace("postgresql://", "postgresql+asyncpg://")))
    await migrate(engine)
    await engine.dispose()
    conn = await asyncpg.connect(url)
    now = datetime(2026, 1, 1)
    await conn.copy_records_to_table("clients", columns=("id", "kind", "name", "company_name", "created_at"), records=(
        (n, "company" if n % 5 == 0 else "person", f"Клиент {n}", f"ООО «Компания {n}»" if n % 5 == 0 else None, now)
        for n in range(1, CLIENTS + 1)))
    await conn.copy_records_to_table("contacts", columns=("id", "client_id", "kind", "value", "created_at"),
                                     records=((n, n, "phone", f"+79{n:09d}", now) for n in range(1, CLIENTS + 1)))
    await conn.copy_records_to_table("calls", columns=CALL_COLUMNS, records=_call_rows(now))
    await conn.execute("ANALYZE")
    await conn.close()
    return url.replace("postgresql://", "postgresql+asyncpg://")


async def measure(url: str, work: Path, runs: int) -> dict:
    var = work / "var"
    var.mkdir(exist_ok=True)
    settings = Settings.model_validate({"database": {"url": url}, "storage": {"var_dir": str(var)}})
    seconds, sizes, last = [], [], None
    for _ in range(runs):
        started = time.perf_counter()
        last = await make_backup(plan_of(settings, None, work / "backups"), work / "backups", keep=1)
        seconds.append(time.perf_counter() - started)
        sizes.append(sum(p.stat().st_size for p in last.rglob("*") if p.is_file()))
    return {"backup_s_median": round(statistics.median(seconds), 2), "backup_s_worst": round(max(seconds), 2),
            "backup_mb": round(sizes[-1] / (1 << 20), 1), "runs": runs, "folder": str(last)}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    Path("var/bench").mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - before anything runs
    work = Path(tempfile.mkdtemp(prefix="hub-bench-backup-", dir="var/bench"))
    try:
        if not args.skip_sqlite:
            db = sqlite_hub(work)
            result = await measure(f"sqlite+aiosqlite:///{db}", work, args.runs)
            result["database_mb"] = round(db.stat().st_size / (1 << 20), 1)  # noqa: ASYNC240
            started = time.perf_counter()
            target = Settings.model_validate({"database": {"url": f"sqlite+aiosqlite:///{work / 'r' / 'hub.sqlite3'}"},
                                              "storage": {"var_dir": str(work / "r" / "var")}})
            await restore(plan_of(target, None), Path(result.pop("folder")))
            result["restore_s"] = round(time.perf_counter() - started, 2)
            print(json.dumps({"backend": "sqlite", "clients": CLIENTS, "calls": CALLS, **result}), flush=True)
        if not args.skip_postgres:
            import asyncpg

            name, name2 = f"hub_bench_{uuid.uuid4().hex[:8]}", f"hub_bench_{uuid.uuid4().hex[:8]}"
            try:
                url = await pg_hub(name)
                shutil.rmtree(work / "backups", ignore_errors=True)
                shutil.rmtree(work / "var", ignore_errors=True)
                result = await measure(url, work, args.runs)
                admin = await asyncpg.connect(PG_ADMIN)
                result["database_mb"] = round(await admin.fetchval("SELECT pg_database_size($1)", name) / (1 << 20), 1)
                await admin.execute(f'CREATE DATABASE "{name2}"')
                await admin.close()
                started = time.perf_counter()
                target = Settings.model_validate({
                    "database": {"url": PG_ADMIN.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0]
                                 + "/" + name2}, "storage": {"var_dir": str(work / "pr" / "var")}})
                await restore(plan_of(target, None), Path(result.pop("folder")))
                result["restore_s"] = round(time.perf_counter() - started, 2)
                print(json.dumps({"backend": "postgresql", "clients": CLIENTS, "calls": CALLS, **result}), flush=True)
            finally:
                admin = await asyncpg.connect(PG_ADMIN)
                for n in (name, name2):
                    await admin.execute(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)')
                await admin.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
