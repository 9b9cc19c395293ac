"""The world of ``bench.day``: N clients (one mobile number each), the agents with their extensions and a
web session each, one department, and routing rules that give every new inquiry to one of the agents.

SQLite: generated once into ``var/bench/day-<clients>c-<agents>a.sqlite3`` (reused while its schema
revision is the current one) and copied for each run. PostgreSQL: generated once into a template
database ``bench_day_tpl_<clients>_<agents>_<schema>`` on the given server (clients through COPY), and each
run works on its own ``CREATE DATABASE … TEMPLATE`` copy, dropped at the end (a world under 100,000 clients
is generated for the run alone and no template is kept).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.common import ROOT
from config.settings import DatabaseSettings
from crm_core.db import create_engine, session_factory
from crm_core.migrate import alembic_config, migrate

FIRST_EXTENSION = 2000
CACHE = ROOT / "var" / "bench"
CACHE_FROM = 100_000  # PostgreSQL: worlds this large are kept as a template database between runs
NOW = datetime(2026, 1, 1)
LATER = datetime(2099, 1, 1)
RULES: dict[str, Any] = {"rules": [], "default": {"target": {"departments": [1]}, "strategy": "least_loaded",
                                                   "on_no_agent": "department_pool"}}


def token_of(agent: int) -> str:
    """Agent n's web session cookie (fixed, so a cached world keeps working)."""
    return hashlib.sha256(f"bench-day-agent-{agent}".encode()).hexdigest()


def extension_of(agent: int) -> str:
    return str(FIRST_EXTENSION + agent)


def phone_of(n: int) -> str:
    """Client n's mobile number, E.164: +79000000001 …"""
    return f"+79{n:09d}"


def _schema() -> tuple[str, list[str]]:
    """A short name of the current schema (its Alembic heads), and the heads."""
    from alembic.script import ScriptDirectory

    heads = sorted(ScriptDirectory.from_config(alembic_config()).get_heads())
    return hashlib.sha256(",".join(heads).encode()).hexdigest()[:10], heads


def _clients(n: int, now: object) -> Iterator[tuple]:
    for i in range(1, n + 1):
        yield (i, "company" if i % 5 == 0 else "person", f"Клиент {i}", f"ООО «Компания {i}»" if i % 5 == 0 else None,
               now)


def _users(agents: int, now: object) -> Iterator[tuple]:
    for i in range(agents):
        yield (i + 1, f"agent{i}", "!", f"Агент {i}", "agent", 1, extension_of(i), "available", now, "[]", "ru",
               True, now)


def _sessions(agents: int, now: object, later: object) -> Iterator[tuple]:
    for i in range(agents):
        yield (hashlib.sha256(token_of(i).encode()).hexdigest(), i + 1, f"csrf-{i}", now, later)


USERS_SQL = ("INSERT INTO users (id, login, password_hash, full_name, role, department_id, extension, status, "
             "status_since, skills, locale, is_active, created_at) VALUES ({})")
USER_COLUMNS = ("id", "login", "password_hash", "full_name", "role", "department_id", "extension", "status",
                "status_since", "skills", "locale", "is_active", "created_at")


async def _rules(url: str) -> None:
    from routing.queries import save_rule_data

    engine = create_engine(DatabaseSettings(url=url))
    try:
        await save_rule_data(session_factory(engine), RULES)
    finally:
        await engine.dispose()


# --- SQLite -------------------------------------------------------------------------------------------
def _sqlite_usable(path: Path, clients: int, agents: int) -> bool:
    try:
        with sqlite3.connect(path) as conn:
            revisions = sorted(row[0] for row in conn.execute("SELECT version_num FROM alembic_version"))
            counts = conn.execute("SELECT (SELECT count(*) FROM clients), (SELECT count(*) FROM users)").fetchone()
    except sqlite3.DatabaseError:
        return False
    return revisions == _schema()[1] and counts == (clients, agents)


async def sqlite_world(clients: int, agents: int, workdir: Path) -> tuple[str, float]:
    """A copy of the cached world in ``workdir``; returns its URL and the seconds spent generating (0: cached)."""
    path = CACHE / f"day-{clients}c-{agents}a.sqlite3"
    spent = 0.0
    if not (path.exists() and _sqlite_usable(path, clients, agents)):
        started = time.perf_counter()
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.unlink(missing_ok=True)
        engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{partial}"))
        await migrate(engine)
        await engine.dispose()
        conn = sqlite3.connect(partial)
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("PRAGMA synchronous=OFF")
        now, later = (d.isoformat(" ", "microseconds") for d in (NOW, LATER))  # as SQLAlchemy stores them
        with conn:
            conn.executemany("INSERT INTO clients (id, kind, name, company_name, created_at) VALUES (?, ?, ?, ?, ?)",
                             _clients(clients, now))
            conn.executemany("INSERT INTO contacts (id, client_id, kind, value, created_at) "
                             "VALUES (?, ?, 'phone', ?, ?)", ((i, i, phone_of(i), now) for i in range(1, clients + 1)))
            conn.execute("INSERT INTO divisions (id, name, created_at) VALUES (1, 'Москва', ?)", (now,))
            conn.execute("INSERT INTO departments (id, name, division_id, created_at) VALUES (1, 'Колл-центр', 1, ?)",
                         (now,))
            conn.executemany(USERS_SQL.format(", ".join("?" * len(USER_COLUMNS))), _users(agents, now))
            conn.executemany("INSERT INTO web_sessions (id_hash, user_id, csrf_token, created_at, expires_at) "
                             "VALUES (?, ?, ?, ?, ?)", _sessions(agents, now, later))
        conn.execute("ANALYZE")
        conn.close()
        await _rules(f"sqlite+aiosqlite:///{partial}")
        partial.rename(path)
        spent = time.perf_counter() - started
    copy = workdir / "day.sqlite3"
    shutil.copyfile(path, copy)
    return f"sqlite+aiosqlite:///{copy}", spent


# --- PostgreSQL ---------------------------------------------------------------------------------------
def _server(url: str) -> tuple[str, str]:
    """``postgresql://user@host:port/db`` → (the asyncpg DSN of its ``postgres`` database, the base URL)."""
    parts = urlsplit(url.replace("postgresql+asyncpg://", "postgresql://"))
    base = f"postgresql://{parts.netloc}"
    return f"{base}/postgres", base


async def _admin(dsn: str, *sql: str) -> list:
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        out = []
        for statement in sql:
            out.append(await conn.fetch(statement))
        return out
    finally:
        await conn.close()


async def _pg_template(base: str, admin: str, name: str, clients: int, agents: int) -> None:
    import asyncpg

    await _admin(admin, f'DROP DATABASE IF EXISTS "{name}_partial" WITH (FORCE)', f'CREATE DATABASE "{name}_partial"')
    url = f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{name}_partial"
    engine = create_engine(DatabaseSettings(url=url))
    await migrate(engine)
    await engine.dispose()
    conn = await asyncpg.connect(f"{base}/{name}_partial", timeout=10)
    try:
        await conn.copy_records_to_table("clients", records=_clients(clients, NOW),
                                         columns=("id", "kind", "name", "company_name", "created_at"))
        await conn.copy_records_to_table("contacts", records=((i, i, "phone", phone_of(i), NOW)
                                                              for i in range(1, clients + 1)),
                                         columns=("id", "client_id", "kind", "value", "created_at"))
        await conn.execute("INSERT INTO divisions (id, name, created_at) VALUES (1, 'Москва', $1)", NOW)
        await conn.execute("INSERT INTO departments (id, name, division_id, created_at) "
                           "VALUES (1, 'Колл-центр', 1, $1)", NOW)
        await conn.copy_records_to_table("users", records=_users(agents, NOW), columns=USER_COLUMNS)
        await conn.copy_records_to_table("web_sessions", records=_sessions(agents, NOW, LATER),
                                         columns=("id_hash", "user_id", "csrf_token", "created_at", "expires_at"))
        for table in ("clients", "contacts", "users", "divisions", "departments"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - fixed names
                               f"(SELECT max(id) FROM {table}))")
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    await _rules(url)
    await _admin(admin, f'ALTER DATABASE "{name}_partial" RENAME TO "{name}"')


@asynccontextmanager
async def postgres_world(url: str, clients: int, agents: int):  # noqa: ANN201 - an async context manager
    """A fresh database copied from the cached template; yields (its URL, seconds spent generating)."""
    admin, base = _server(url)
    name = f"bench_day_run_{os.getpid()}_{int(time.time())}"
    started = time.perf_counter()
    if clients < CACHE_FROM:  # small: generated for the run alone, nothing left on the server
        await _pg_template(base, admin, name, clients, agents)
    else:
        template = f"bench_day_tpl_{clients}_{agents}_{_schema()[0]}"
        (found,) = await _admin(admin, f"SELECT 1 FROM pg_database WHERE datname = '{template}'")  # noqa: S608
        if not found:  # the schema changed (or the first run): templates of older schemas go
            stale = await _admin(admin, "SELECT datname FROM pg_database WHERE datname LIKE "  # noqa: S608
                                 f"'bench_day_tpl_{clients}_{agents}_%'")
            await _admin(admin, *(f'DROP DATABASE IF EXISTS "{row[0]}" WITH (FORCE)' for row in stale[0]))
            await _pg_template(base, admin, template, clients, agents)
        await _admin(admin, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    spent = time.perf_counter() - started
    try:
        yield f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{name}", spent
    finally:
        await _admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
