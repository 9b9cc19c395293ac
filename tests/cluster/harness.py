"""Real hub instances for the cluster tests and bench.scale: ``python3 main.py run`` processes on loopback
ports sharing one PostgreSQL database made for the occasion, pointed at a fake PBX and a fake Bot API that
run in the calling process (real TCP/HTTP servers on loopback)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg

from config.settings import DatabaseSettings
from crm_core.db import create_engine
from crm_core.migrate import migrate
from tests.conftest import PG_ADMIN_URL

ROOT = Path(__file__).resolve().parents[2]
LEASE_S, HEARTBEAT_S = 2.0, 0.5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def libpq(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(libpq(PG_ADMIN_URL), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A new, migrated PostgreSQL database (SQLAlchemy URL), dropped afterwards."""
    name = f"hub_cluster_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        engine = create_engine(DatabaseSettings(url=url))
        await migrate(engine)
        await engine.dispose()
        yield url
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Instance:
    """One ``main.py run`` process."""

    name: str
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**self.env, "HUB_WEB__PORT": str(self.port)}
        self.log = self.log_path.open("ab")
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "run"], env=env, cwd=ROOT,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    async def health(self, http: aiohttp.ClientSession) -> dict | None:
        try:
            async with http.get(self.base + "/healthz", timeout=aiohttp.ClientTimeout(total=2)) as resp:
                return await resp.json() if resp.status == 200 else None
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None

    async def wait_ready(self, http: aiohttp.ClientSession, limit_s: float = 60) -> dict:
        async with asyncio.timeout(limit_s):
            while True:
                assert self.alive, f"{self.name} exited: {self.log_text()[-3000:]}"
                body = await self.health(http)
                if body is not None and body.get("database", {}).get("state") == "up" and "leads" in body:
                    return body
                await asyncio.sleep(0.1)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(8)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def instance_env(url: str, var_dir: Path, *, broker: str = "postgres", extra: dict[str, str] | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update({
        "HUB_DATABASE__URL": url, "HUB_STORAGE__VAR_DIR": str(var_dir), "HUB_LOG__LEVEL": "INFO",
        "HUB_CLUSTER__BROKER": broker, "HUB_CLUSTER__LEASE_S": str(LEASE_S),
        "HUB_CLUSTER__HEARTBEAT_S": str(HEARTBEAT_S), "PYTHONPATH": str(ROOT),
    })
    env.update(extra or {})
    return env


def pbx_env(port: int, secret: str) -> dict[str, str]:
    return {"HUB_ASTERISK__ENABLED": "true", "HUB_ASTERISK__HOST": "127.0.0.1", "HUB_ASTERISK__PORT": str(port),
            "HUB_ASTERISK__SECRET": secret, "HUB_ASTERISK__USERNAME": "hub",
            "HUB_ASTERISK__BACKOFF_INITIAL_S": "0.2", "HUB_ASTERISK__BACKOFF_MAX_S": "1",
            "HUB_ASTERISK__PING_INTERVAL_S": "1", "HUB_ASTERISK__PING_TIMEOUT_S": "2"}


def botapi_env(base_url: str, base_file_url: str, token: str) -> dict[str, str]:
    return {"HUB_TELEGRAM__ENABLED": "true", "HUB_TELEGRAM__TOKEN": token, "HUB_TELEGRAM__BASE_URL": base_url,
            "HUB_TELEGRAM__BASE_FILE_URL": base_file_url, "HUB_TELEGRAM__POLL_TIMEOUT_S": "1"}


class Cluster:
    """N instances on one database; ``leader(name)`` asks their /healthz who leads what."""

    def __init__(self, url: str, tmp: Path, n: int, *, broker: str = "postgres",
                 extra: dict[str, str] | None = None) -> None:
        self.url = url
        self.instances = [
            Instance(chr(ord("a") + i), instance_env(url, tmp / f"i{i}", broker=broker, extra=extra),
                     tmp / f"instance-{chr(ord('a') + i)}.log")
            for i in range(n)
        ]
        self.http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Cluster:
        self.http = aiohttp.ClientSession()
        for inst in self.instances:
            inst.start()
        try:
            await asyncio.gather(*(inst.wait_ready(self.http) for inst in self.instances))
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.gather(*(asyncio.to_thread(inst.stop) for inst in self.instances))
        if self.http is not None:
            await self.http.close()

    @property
    def alive(self) -> list[Instance]:
        return [i for i in self.instances if i.alive]

    async def leaders(self, name: str, among: list[Instance] | None = None) -> list[Instance]:
        found = []
        for inst in among if among is not None else self.alive:
            body = await inst.health(self.http)
            if body is not None and body["leads"].get(name):
                found.append(inst)
        return found

    async def wait_leader(self, name: str, among: list[Instance] | None = None, limit_s: float = 15) -> Instance:
        """The one instance leading ``name`` (fails if two ever claim it at the same time)."""
        async with asyncio.timeout(limit_s):
            while True:
                found = await self.leaders(name, among)
                assert len(found) <= 1, f"two leaders of {name}: {[i.name for i in found]}"
                if found:
                    return found[0]
                await asyncio.sleep(0.05)


async def elapsed_until(predicate, limit_s: float, step_s: float = 0.05) -> float:  # noqa: ANN001
    """Seconds until the async predicate holds (fails after limit_s)."""
    started = time.monotonic()
    async with asyncio.timeout(limit_s):
        while not await predicate():  # noqa: ASYNC110 - polling another process
            await asyncio.sleep(step_s)
    return time.monotonic() - started
