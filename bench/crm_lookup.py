"""Client lookup by phone in any format among 1,000,000 clients, against a bare SQLAlchemy select.

    python -m bench.crm_lookup [--quick]

The database (the real schema, through the migrations) is generated once into
var/bench/crm_lookup.sqlite3 and reused. The hub side is ``find_client_by_phone``: raw numbers in mixed
formats (8 916…, +7 (916)…, 7916…, 916…), each number looked up for the first time (the normaliser's
cache is cold). The peer is a bare SQLAlchemy select on the indexed column with the E.164 value already
in hand, on the same engine and the same session pattern.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from pathlib import Path

from sqlalchemy import select

from bench.common import emit, parse_args, percentile, rss_mb
from config.settings import DatabaseSettings
from crm_core.db import create_engine, session_factory
from crm_core.lookup import find_client_by_phone
from crm_core.migrate import migrate
from crm_core.models import Contact, ContactKind
from crm_core.phones import normalize_phone

CLIENTS = 1_000_000
DB = Path("var/bench/crm_lookup.sqlite3")
FORMATS = ("8 {a} {b}-{c}-{d}", "+7 ({a}) {b} {c} {d}", "7{a}{b}{c}{d}", "{a}{b}{c}{d}", "+7{a}{b}{c}{d}")


def phone_of(n: int) -> str:
    return f"+79{n:09d}"


async def ensure_database() -> float:
    """Create the 1,000,000-client database once; returns the seconds spent (0 when reused)."""
    if DB.exists():
        with sqlite3.connect(DB) as conn:
            try:
                if conn.execute("SELECT count(*) FROM contacts").fetchone()[0] == CLIENTS:
                    return 0.0
            except sqlite3.DatabaseError:
                pass
        DB.unlink()
    DB.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{DB}"))
    await migrate(engine)
    await engine.dispose()
    conn = sqlite3.connect(DB)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    now = "2026-01-01 00:00:00.000000+00:00"
    with conn:
        conn.executemany("INSERT INTO clients (id, kind, name, created_at) VALUES (?, 'person', ?, ?)",
                         ((n, f"Клиент {n}", now) for n in range(1, CLIENTS + 1)))
        conn.executemany("INSERT INTO contacts (client_id, kind, value, created_at) VALUES (?, 'phone', ?, ?)",
                         ((n, phone_of(n), now) for n in range(1, CLIENTS + 1)))
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - started


def raw_format(e164: str, rnd: random.Random) -> str:
    digits = e164[2:]
    return rnd.choice(FORMATS).format(a=digits[:3], b=digits[3:6], c=digits[6:8], d=digits[8:])


async def run(lookups: int) -> dict:
    generated = await ensure_database()
    rnd = random.Random(7)
    picks = rnd.sample(range(1, CLIENTS + 1), lookups)
    raw = [raw_format(phone_of(n), rnd) for n in picks]
    e164 = [phone_of(n) for n in picks]
    engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{DB}"))
    sessions = session_factory(engine)
    normalize_phone.cache_clear()

    async with sessions() as s:  # warm the connection and the page cache for both sides alike
        for value in e164[:200]:
            await s.execute(select(Contact.client_id).where(Contact.kind == ContactKind.PHONE, Contact.value == value))

    # Hub and peer take turns in rounds, so a noisy neighbour on the machine hits both alike.
    latencies: list[float] = []
    found = peer_found = 0
    hub_s = peer_s = 0.0
    stmt = select(Contact.client_id).where(Contact.kind == ContactKind.PHONE)
    rounds = 10
    size = lookups // rounds
    async with sessions() as s:
        for r in range(rounds):
            chunk = slice(r * size, (r + 1) * size)
            started = time.perf_counter()
            for value in raw[chunk]:
                t0 = time.perf_counter()
                card = await find_client_by_phone(s, value)
                latencies.append((time.perf_counter() - t0) * 1000)
                found += card is not None
            hub_s += time.perf_counter() - started
            started = time.perf_counter()
            for value in e164[chunk]:
                peer_found += (await s.execute(stmt.where(Contact.value == value))).first() is not None
            peer_s += time.perf_counter() - started
    lookups = size * rounds
    await engine.dispose()
    if found != lookups or peer_found != lookups:
        raise SystemExit(f"lookups missed: hub found {found}, peer {peer_found} of {lookups}")
    return {
        "bench": "crm_lookup", "unit": "lookups/s", "value": round(lookups / hub_s, 1),
        "peer": "bare SQLAlchemy select on the indexed column", "peer_value": round(lookups / peer_s, 1),
        "p50_ms": round(percentile(latencies, 50), 3), "p99_ms": round(percentile(latencies, 99), 3),
        "rss_mb": round(rss_mb(), 1), "clients": CLIENTS, "lookups": lookups, "normaliser_cache": "cold",
        "generated_s": round(generated, 1),
    }


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    result = asyncio.run(run(3_000 if args.quick else 20_000))
    print(f"{result['lookups']} lookups among {CLIENTS:,} clients: hub {result['value']}/s "
          f"(p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms), bare select {result['peer_value']}/s, "
          f"RSS {result['rss_mb']} MB")
    emit(result)


if __name__ == "__main__":
    main()
