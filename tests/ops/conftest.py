"""Hubs to back up and restore: a fresh database on each backend, filled with the demo agency and files."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text

from config.settings import DatabaseSettings
from crm_core.db import create_engine, session_factory
from crm_core.demo import load_demo_data
from crm_core.migrate import migrate
from tests.conftest import PG_ADMIN_URL, PG_ERROR, _pg_admin, missing_part, run_sync

DEMO_PASSWORD = "demo-password-1"


@pytest.fixture
def new_database(tmp_path: Path) -> Iterator[Callable[[str, str], str]]:
    """``new_database(backend, name)``: the URL of a new, empty database (PostgreSQL ones are dropped after)."""
    made: list[str] = []

    def make(backend: str, name: str) -> str:
        if backend == "sqlite":
            return f"sqlite+aiosqlite:///{tmp_path / name / 'hub.sqlite3'}"
        db = f"hub_ops_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        try:
            run_sync(_pg_admin(f'CREATE DATABASE "{db}"'))
        except Exception as exc:  # noqa: BLE001 - no PostgreSQL here
            PG_ERROR.append(repr(exc))
            missing_part(f"PostgreSQL at {PG_ADMIN_URL} unreachable: {PG_ERROR}")
        made.append(db)
        return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + db

    yield make
    for db in made:
        run_sync(_pg_admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))


_TEMPLATES: dict[str, str] = {}


async def _demo_database(url: str) -> None:
    from argon2 import PasswordHasher

    import crm_core.users

    engine = create_engine(DatabaseSettings(url=url))
    real = crm_core.users._hasher
    crm_core.users._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # test speed only
    try:
        await migrate(engine)
        await load_demo_data(session_factory(engine), password=DEMO_PASSWORD)
    finally:
        crm_core.users._hasher = real
        await engine.dispose()


@pytest.fixture(scope="session")
def demo_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One demo agency per backend for the whole run; each test takes a copy (the demo takes seconds)."""
    yield _TEMPLATES
    for key, value in _TEMPLATES.items():
        if key == "postgres":
            run_sync(_pg_admin(f'DROP DATABASE IF EXISTS "{value}" WITH (FORCE)'))
    _TEMPLATES.clear()


async def populate(url: str, var: Path, recordings: Path, templates: dict[str, str] | None = None) -> None:
    """The demo agency, plus mail attachments and call recordings on disk, as a hub in use has them."""
    if templates is None:
        await _demo_database(url)
    elif url.startswith("sqlite"):
        if "sqlite" not in templates:
            path = Path(tempfile.mkdtemp(prefix="hub-ops-demo-")) / "demo.sqlite3"
            await _demo_database(f"sqlite+aiosqlite:///{path}")
            templates["sqlite"] = str(path)
        target = Path(url.removeprefix("sqlite+aiosqlite:///"))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(templates["sqlite"], target)
    else:
        if "postgres" not in templates:
            name = f"hub_ops_demo_{os.getpid()}_{uuid.uuid4().hex[:8]}"
            run_sync(_pg_admin(f'CREATE DATABASE "{name}"'))
            templates["postgres"] = name
            await _demo_database(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
        target_db = url.rsplit("/", 1)[1]
        run_sync(_pg_admin(f'DROP DATABASE "{target_db}"'))
        run_sync(_pg_admin(f'CREATE DATABASE "{target_db}" TEMPLATE "{templates["postgres"]}"'))
    (var / "attachments" / "ab12").mkdir(parents=True, exist_ok=True)
    (var / "attachments" / "ab12" / "договор.pdf").write_bytes(b"%PDF-1.4 " + os.urandom(40_000))
    (var / "attachments" / "telegram").mkdir(parents=True, exist_ok=True)
    (var / "attachments" / "telegram" / "photo.jpg").write_bytes(os.urandom(25_000))
    (recordings / "2026" / "12").mkdir(parents=True, exist_ok=True)
    for n in range(3):
        (recordings / "2026" / "12" / f"in-101-{n}.wav").write_bytes(b"RIFF" + os.urandom(60_000))


async def table_counts(url: str) -> dict[str, int]:
    engine = create_engine(DatabaseSettings(url=url))
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: sa_inspect(c).get_table_names())
            return {n: (await conn.execute(text(f'SELECT count(*) FROM "{n}"'))).scalar_one() for n in names}
    finally:
        await engine.dispose()


def file_sums(root: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.name.startswith(skip)}


def hub_env(url: str, var: Path, recordings: Path, **more: str) -> dict[str, str]:
    return {"HUB_DATABASE__URL": url, "HUB_STORAGE__VAR_DIR": str(var),
            "HUB_SPEECH__RECORDINGS_DIR": str(recordings), "HUB_DATABASE__CONNECT_RETRIES": "0", **more}


@pytest.fixture
def hub_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # noqa: ANN201
    """``hub_cli(env, *args) -> (status, stdout, stderr)``: the `hub` command line run in this process (as
    ``python main.py ARGS`` with only ``env``'s HUB_* variables), without a new interpreter's start-up."""
    import logging

    from main import cli
    from ops.logs import HANDLER_NAME

    def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
        for key in [k for k in os.environ if k.startswith("HUB_")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        root = logging.getLogger()
        level = root.level
        capsys.readouterr()
        try:
            status = cli(list(args))
        finally:
            root.handlers[:] = [h for h in root.handlers if h.get_name() != HANDLER_NAME]
            root.setLevel(level)
        out, err = capsys.readouterr()
        return status, out, err

    return run
