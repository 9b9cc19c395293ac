"""Report queries over 1,000,000 calls (and 300,000 inquiries), against bare SQL of the same aggregates.

    python -m bench.reports [--quick]

The database (the real schema, through the migrations, indexes included) is generated once into
var/bench/reports.sqlite3 with executemany, and — when the local PostgreSQL answers — into the database
``hub_bench_reports`` with COPY; both are reused while they hold the expected rows at the current schema.
A year of traffic: 20 departments of 20 agents, 200,000 clients, 20,000 properties; calls by a daytime
curve, 75 % inbound (12 % abandoned, 8 % unanswered), 20 % outbound (half of them call a missed number back).

Each report runs through ``reports.queries`` as the administrator over the whole year and over the
last 30 days, and as one department's head over the year (the median of 3 runs, after one warm-up run).
The SQL each report sends is captured and explained (SQLite ``EXPLAIN QUERY PLAN``, PostgreSQL
``EXPLAIN``): the indexes named there are printed. The peer is the same aggregate written by hand as bare
SQL on the driver (sqlite3 / asyncpg), over the same range, without role scoping; the ratio is
peer time / hub time (higher is better; 1.0 = as fast as the hand-written query).
"""

from __future__ import annotations

import asyncio
import random
import re
import sqlite3
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import event

from bench.common import emit, parse_args
from config.settings import DatabaseSettings
from crm_core.access import actor_for
from crm_core.db import create_engine, session_factory
from crm_core.migrate import alembic_config, migrate
from reports import queries
from reports.filters import ReportFilter
from reports.settings import ReportSettings

DB = Path("var/bench/reports.sqlite3")
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_NAME = "hub_bench_reports"
ZONE = ZoneInfo("Europe/Moscow")
DEPTS, PER_DEPT, CLIENTS, PROPERTIES = 20, 20, 200_000, 20_000
FIRST_DAY = date(2025, 11, 25)
DAYS = 365
HOUR_WEIGHTS = [1, 1, 1, 1, 1, 2, 4, 8, 14, 18, 20, 20, 18, 18, 20, 20, 18, 16, 12, 9, 6, 4, 2, 1]
DIDS = [f"+7495000{n:04d}" for n in range(10)]
UTMS = ["yandex", "google", "avito", "cian", "vk"]
SITES = ["site.ru", "novostroyki.ru", "arenda.ru"]


def _sizes(quick: bool) -> tuple[int, int, int]:
    """calls, inquiries, messages"""
    return (100_000, 30_000, 10_000) if quick else (1_000_000, 300_000, 100_000)


# --- generation --------------------------------------------------------------------------------------------

def _moments(rnd: random.Random, n: int) -> list[datetime]:
    """n moments in the year, by a daytime curve in Moscow time, ascending (as a PBX writes them)."""
    start = datetime.combine(FIRST_DAY, datetime.min.time(), ZONE).astimezone(UTC)
    days = rnd.choices(range(DAYS), k=n)
    hours = rnd.choices(range(24), weights=HOUR_WEIGHTS, k=n)
    secs = [rnd.randrange(3600) for _ in range(n)]
    # the hour is a Moscow hour: start is Moscow midnight, and Moscow has no summer time
    return sorted(start + timedelta(days=d, hours=h, seconds=s) for d, h, s in zip(days, hours, secs, strict=True))


def generate(n_calls: int, n_inq: int, n_msg: int) -> dict[str, list[tuple]]:
    """Every row, as tuples in the column order of ``COLUMNS``."""
    rnd = random.Random(20261125)
    now = datetime(2026, 11, 25, tzinfo=UTC)
    rows: dict[str, list[tuple]] = {}
    rows["divisions"] = [(i, f"Дивизион {i}", now) for i in range(1, 5)]
    rows["departments"] = [(d, f"Отдел {d}", 1 + (d - 1) % 4, now) for d in range(1, DEPTS + 1)]
    users = [(1, "root", "Администратор", "x", "admin", None, None, now)]
    agents: list[tuple[int, int]] = []
    uid = 2
    for d in range(1, DEPTS + 1):
        users.append((uid, f"head{d}", f"Руководитель {d}", "x", "dept_head", d, None, now))
        uid += 1
        for k in range(PER_DEPT):
            users.append((uid, f"a{d}_{k}", f"Агент {d}-{k}", "x", "agent", d, f"{d:02d}{k:02d}", now))
            agents.append((uid, d))
            uid += 1
    rows["users"] = users
    rows["clients"] = [(c, "person", f"Клиент {c}", agents[c % len(agents)][0] if c % 2 else None,
                        agents[c % len(agents)][1] if c % 2 else None, now) for c in range(1, CLIENTS + 1)]
    rows["properties"] = [(p, f"Улица {p % 500}, дом {p}", f"Район {p % 40}", 1 + p % DEPTS, now)
                          for p in range(1, PROPERTIES + 1)]
    inquiries = []
    statuses = rnd.choices(["new", "in_work", "done", "archived"], weights=[10, 30, 25, 35], k=n_inq)
    for i, (at, status) in enumerate(zip(_moments(rnd, n_inq), statuses, strict=True), start=1):
        owner, dept = agents[rnd.randrange(len(agents))] if rnd.random() < 0.8 else (None, 1 + i % DEPTS)
        kind = rnd.random()
        did = utm = None
        if kind < 0.5:
            channel, did = "call", rnd.choice(DIDS)
            source = did
        elif kind < 0.75:
            channel = "webform"
            utm = rnd.choice(UTMS) if rnd.random() < 0.6 else None
            source = utm or rnd.choice(SITES)
        else:
            channel, source = rnd.choice(["email", "telegram"]), None
        accepted = at + timedelta(minutes=rnd.randrange(5, 600)) if status != "new" else None
        inquiries.append((i, 1 + i % CLIENTS, channel, f"b{i}", source, did,
                          f'{{"utm_source": "{utm}"}}' if utm else "{}", status, "none", owner, dept,
                          1 + i % PROPERTIES if rnd.random() < 0.3 else None, 0, accepted,
                          accepted if status in ("done", "archived") else None, at, at))
    rows["inquiries"] = inquiries
    rows["messages"] = [(m, 1 + rnd.randrange(n_inq), "email", f"m{m}", "out", "Ответ", 0, "{}", now)
                        for m in range(1, n_msg + 1)]
    calls = []
    missed_numbers: list[str] = []
    for c, at in enumerate(_moments(rnd, n_calls), start=1):
        r = rnd.random()
        number = f"+79{rnd.randrange(300_000):09d}"
        client = int(number[3:]) + 1 if int(number[3:]) < CLIENTS else None
        inquiry = 1 + rnd.randrange(n_inq) if rnd.random() < 0.3 else None
        if r < 0.75:
            o = rnd.random()
            outcome = "answered" if o < 0.8 else "abandoned" if o < 0.92 else "no_answer"
            agent = agents[rnd.randrange(len(agents))][0] if outcome == "answered" else None
            if outcome != "answered":
                missed_numbers.append(number)
            wait = rnd.uniform(2, 120)
            answered = at + timedelta(seconds=wait) if agent else None
            talk = rnd.uniform(20, 600) if agent else None
            ended = (answered + timedelta(seconds=talk)) if agent else at + timedelta(seconds=wait)
            calls.append((c, f"u{c}", f"u{c}", "inbound", number, rnd.choice(["100", "200"]), None,
                          rnd.choice(DIDS), "sales", agent, client, inquiry, at, answered, ended, wait, talk,
                          outcome, "[]", at))
        elif r < 0.95:
            agent = agents[rnd.randrange(len(agents))][0]
            callee = missed_numbers[-1 - rnd.randrange(min(50, len(missed_numbers)))] \
                if missed_numbers and rnd.random() < 0.5 else number
            ok = rnd.random() < 0.7
            talk = rnd.uniform(20, 300) if ok else None
            calls.append((c, f"u{c}", f"u{c}", "outbound", None, callee, None, None, None, agent, client, inquiry,
                          at, at if ok else None, at + timedelta(seconds=talk or 30), None, talk,
                          "answered" if ok else "no_answer", "[]", at))
        else:
            agent = agents[rnd.randrange(len(agents))][0]
            calls.append((c, f"u{c}", f"u{c}", "internal", "1001", "1002", None, None, None, agent, None, None,
                          at, at, at + timedelta(seconds=60), 0, 60, "answered", "[]", at))
    rows["calls"] = calls
    rows["agency_property_links"] = [(k, 1 + rnd.randrange(PROPERTIES), None, 1 + rnd.randrange(n_calls), now)
                                     for k in range(1, n_calls // 10 + 1)]
    return rows


COLUMNS = {
    "divisions": ("id", "name", "created_at"),
    "departments": ("id", "name", "division_id", "created_at"),
    "users": ("id", "login", "full_name", "password_hash", "role", "department_id", "extension", "created_at"),
    "clients": ("id", "kind", "name", "owner_id", "department_id", "created_at"),
    "properties": ("id", "address", "district", "department_id", "created_at"),
    "inquiries": ("id", "client_id", "channel", "external_id", "source", "did", "utm", "status", "pool", "owner_id",
                  "department_id", "property_id", "refusals", "accepted_at", "closed_at", "created_at",
                  "updated_at"),
    "messages": ("id", "inquiry_id", "channel", "external_id", "direction", "body", "attempts", "meta",
                 "created_at"),
    "calls": ("id", "uniqueid", "linkedid", "direction", "caller", "callee", "caller_name", "did", "queue",
              "agent_id", "client_id", "inquiry_id", "started_at", "answered_at", "ended_at", "wait_s", "talk_s",
              "outcome", "agents_rung", "created_at"),
    "agency_property_links": ("id", "property_id", "inquiry_id", "call_id", "at"),
}
DEFAULTS = {
    "users": {"status": "offline", "skills": "[]", "locale": "ru", "is_active": True,
              "status_since": datetime(2026, 11, 25, tzinfo=UTC)},
    "properties": {"archived": False},
}


def _heads() -> set[str]:
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def _sqlite_value(v: object) -> object:
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return v


def _sqlite_usable(path: Path, n_calls: int) -> bool:
    try:
        with sqlite3.connect(path) as conn:
            revisions = {r[0] for r in conn.execute("SELECT version_num FROM alembic_version")}
            calls = conn.execute("SELECT count(*) FROM calls").fetchone()[0]
    except sqlite3.DatabaseError:
        return False
    return revisions == _heads() and calls == n_calls


async def ensure_sqlite(path: Path, sizes: tuple[int, int, int]) -> float:
    if path.exists() and _sqlite_usable(path, sizes[0]):
        return 0.0
    for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{partial}"))
    await migrate(engine)
    await engine.dispose()
    rows = generate(*sizes)
    conn = sqlite3.connect(partial)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-400000")
    with conn:
        for table, cols in COLUMNS.items():
            extra = DEFAULTS.get(table, {})
            names = (*cols, *extra)
            sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
            conn.executemany(sql, ([*map(_sqlite_value, (*r, *extra.values()))] for r in rows[table]))
    conn.execute("ANALYZE")
    conn.close()
    partial.rename(path)
    return time.perf_counter() - started


async def _pg_connect(database: str):  # noqa: ANN202
    import asyncpg

    return await asyncpg.connect(PG_ADMIN.rsplit("/", 1)[0] + "/" + database, timeout=5)


async def ensure_postgres(sizes: tuple[int, int, int]) -> tuple[str | None, float, str]:
    """The PostgreSQL URL (None when unreachable), seconds spent generating, and why not when None."""
    try:
        admin = await _pg_connect("postgres")
    except Exception as exc:  # noqa: BLE001 - any failure: no PostgreSQL here
        return None, 0.0, repr(exc)
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{PG_NAME}"
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", PG_NAME)
        if exists:
            conn = await _pg_connect(PG_NAME)
            try:
                heads = {r[0] for r in await conn.fetch("SELECT version_num FROM alembic_version")}
                calls = await conn.fetchval("SELECT count(*) FROM calls")
            except Exception:  # noqa: BLE001 - half made: make it again
                heads, calls = set(), -1
            finally:
                await conn.close()
            if heads == _heads() and calls == sizes[0]:
                return url, 0.0, ""
            await admin.execute(f'DROP DATABASE "{PG_NAME}" WITH (FORCE)')
        started = time.perf_counter()
        await admin.execute(f'CREATE DATABASE "{PG_NAME}"')
    finally:
        await admin.close()
    engine = create_engine(DatabaseSettings(url=url))
    await migrate(engine)
    await engine.dispose()
    rows = generate(*sizes)
    conn = await _pg_connect(PG_NAME)
    try:
        async with conn.transaction():
            for table, cols in COLUMNS.items():
                extra = DEFAULTS.get(table, {})
                await conn.copy_records_to_table(table, columns=[*cols, *extra],
                                                 records=[(*r, *extra.values()) for r in rows[table]])
            for table in COLUMNS:
                await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                   f"(SELECT max(id) FROM {table}))")
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return url, time.perf_counter() - started, ""


# --- timing ------------------------------------------------------------------------------------------------

PEERS_SQLITE = {
    "funnel": """SELECT i.department_id, count(*), sum(CASE WHEN i.accepted_at IS NOT NULL OR i.status IN
        ('in_work','done') OR EXISTS (SELECT 1 FROM messages m WHERE m.inquiry_id = i.id AND m.direction = 'out')
        THEN 1 ELSE 0 END), sum(CASE WHEN i.status = 'done' THEN 1 ELSE 0 END)
        FROM inquiries i WHERE i.created_at >= :a AND i.created_at < :b GROUP BY i.department_id""",
    "heatmap": """SELECT strftime('%Y-%m-%d %H', started_at), count(*),
        sum(CASE WHEN outcome IN ('abandoned','no_answer') THEN 1 ELSE 0 END) FROM calls
        WHERE direction = 'inbound' AND started_at >= :a AND started_at < :b GROUP BY 1""",
    "missed": """SELECT count(*), count(back) FROM (SELECT c.id, (SELECT min(o.started_at) FROM calls o
        WHERE o.direction = 'outbound' AND o.callee = c.caller AND o.started_at >= c.started_at) AS back
        FROM calls c WHERE c.direction = 'inbound' AND c.outcome IN ('abandoned','no_answer')
        AND c.started_at >= :a AND c.started_at < :b) AS m""",
    "cold": """SELECT c.caller, count(*), max(c.started_at) FROM calls c LEFT JOIN clients k ON k.id = c.client_id
        WHERE c.direction = 'inbound' AND c.caller IS NOT NULL AND k.owner_id IS NULL AND c.started_at >= :a
        AND c.started_at < :b GROUP BY c.caller ORDER BY max(c.started_at) DESC LIMIT 501""",
    "kpi": """SELECT agent_id, count(*), sum(talk_s) FROM calls WHERE answered_at IS NOT NULL AND agent_id
        IS NOT NULL AND started_at >= :a AND started_at < :b GROUP BY agent_id""",
}


def _pg_sql(sql: str) -> str:
    sql = sql.replace(":a", "$1").replace(":b", "$2")
    return sql.replace("strftime('%Y-%m-%d %H', started_at)",
                       "date_trunc('hour', started_at)").replace("GROUP BY 1", "GROUP BY 1")


INDEX_RE = {"sqlite": re.compile(r"USING (?:COVERING )?INDEX (\w+)"),
            "postgresql": re.compile(r"(?:Index|Index Only|Bitmap Index) Scan (?:Backward )?(?:using |on )(\w+)")}


async def _median(fn, n: int = 3) -> float:  # noqa: ANN001
    await fn()  # warm-up
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


async def bench_backend(url: str, label: str, peer_conn) -> dict:  # noqa: ANN001
    engine = create_engine(DatabaseSettings(url=url))
    sessions = session_factory(engine)
    dialect = engine.dialect.name
    captured: list[tuple[str, object]] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _capture(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ANN202, ARG001
        captured.append((statement, parameters))

    settings = ReportSettings()
    last = FIRST_DAY + timedelta(days=DAYS - 1)
    year = ReportFilter(FIRST_DAY, last, ZONE)
    month = ReportFilter(last - timedelta(days=29), last, ZONE)
    out: dict = {"backend": label, "reports": {}}
    async with sessions() as s:
        admin = await actor_for(s, 1)
        head = await actor_for(s, 2)  # head of department 1
    for name in queries.REPORTS:
        entry: dict = {}
        for who, actor, f in (("admin_year", admin, year), ("admin_30d", admin, month), ("head_year", head, year)):
            async def once(actor=actor, f=f, name=name) -> None:  # noqa: ANN001
                async with sessions() as s:
                    await queries.run(name, s, actor, f, settings, limit=500)
            captured.clear()
            entry[f"{who}_ms"] = round(1000 * await _median(once), 1)
        # explain what the admin/year run sent (the last run's statements)
        captured.clear()
        async with sessions() as s:
            await queries.run(name, s, admin, year, settings, limit=500)
        indexes: set[str] = set()
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            for statement, params in list(captured):
                if not statement.lstrip().upper().startswith("SELECT"):
                    continue
                plan = await _explain(raw, dialect, statement, params)
                indexes.update(INDEX_RE[dialect].findall(plan))
        entry["indexes"] = sorted(indexes)
        if name in PEERS_SQLITE:
            a, b = year.start, year.end
            if dialect == "sqlite":
                sql = PEERS_SQLITE[name]
                args = {"a": _sqlite_value(a), "b": _sqlite_value(b)}

                async def peer(sql=sql, args=args) -> None:  # noqa: ANN001
                    await asyncio.to_thread(lambda: peer_conn.execute(sql, args).fetchall())
            else:
                sql = _pg_sql(PEERS_SQLITE[name])

                async def peer(sql=sql, a=a, b=b) -> None:  # noqa: ANN001
                    await peer_conn.fetch(sql, a, b)
            entry["peer_bare_sql_year_ms"] = round(1000 * await _median(peer), 1)
            entry["ratio"] = round(entry["peer_bare_sql_year_ms"] / entry["admin_year_ms"], 3)
        out["reports"][name] = entry
    await engine.dispose()
    return out


async def _explain(raw, dialect: str, statement: str, params) -> str:  # noqa: ANN001
    if dialect == "sqlite":
        cur = await raw.driver_connection.execute("EXPLAIN QUERY PLAN " + statement, params)
        return "\n".join(str(r[-1]) for r in await cur.fetchall())
    rows = await raw.driver_connection.fetch("EXPLAIN " + statement, *(params or ()))
    return "\n".join(r[0] for r in rows)


def _print(r: dict) -> None:
    print(f"\n== {r['backend']}: median of 3, ms (peer = hand-written SQL of the same aggregate, admin, year)")
    print(f"{'report':<11}{'admin year':>11}{'admin 30d':>11}{'head year':>11}{'peer':>9}{'ratio':>7}  indexes")
    for name, e in r["reports"].items():
        print(f"{name:<11}{e['admin_year_ms']:>11}{e['admin_30d_ms']:>11}{e['head_year_ms']:>11}"
              f"{e.get('peer_bare_sql_year_ms', '—')!s:>9}{e.get('ratio', '—')!s:>7}  {', '.join(e['indexes'])}",
              flush=True)


async def main_async(quick: bool) -> None:
    sizes = _sizes(quick)
    db = DB.with_name("reports-quick.sqlite3") if quick else DB
    results = []
    t0 = time.perf_counter()
    generated = await ensure_sqlite(db, sizes)
    print(f"sqlite: {sizes[0]:,} calls, {sizes[1]:,} inquiries at {db} (generated in {generated:.1f} s)")
    peer = sqlite3.connect(db, check_same_thread=False)
    results.append(await bench_backend(f"sqlite+aiosqlite:///{db}", "sqlite", peer))
    _print(results[-1])
    peer.close()
    if not quick:
        url, pg_generated, why = await ensure_postgres(sizes)
        if url is None:
            print(f"postgresql: unreachable ({why}); SQLite only")
        else:
            print(f"postgresql: {PG_NAME} (generated with COPY in {pg_generated:.1f} s)")
            conn = await _pg_connect(PG_NAME)
            results.append(await bench_backend(url, "postgresql", conn))
            _print(results[-1])
            await conn.close()
    first = results[0]["reports"]
    hub = sum(e["admin_year_ms"] for n, e in first.items() if "ratio" in e)
    bare = sum(e["peer_bare_sql_year_ms"] for e in first.values() if "ratio" in e)
    emit({"bench": "reports", "unit": "report sets/s (funnel, heatmap, missed, cold, kpi; admin, a year)",
          "value": round(1000 / hub, 3), "peer": "hand-written bare SQL of the same aggregates",
          "peer_value": round(1000 / bare, 3), "calls": sizes[0], "inquiries": sizes[1],
          "results": results, "wall_s": round(time.perf_counter() - t0, 1)})


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    asyncio.run(main_async(args.quick))


if __name__ == "__main__":
    main()
