"""A real receiving aiohttp server on 127.0.0.1 and the webhooks wired on a small hub over each database."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bus.bus import EventBus
from config.settings import Settings
from crm_core.intake import IntakeService
from webhooks.core import SIGNATURE_HEADER, verify
from webhooks.wiring import wire

FAST = {"timeout_s": 0.5, "retry_base_s": 0.05, "retry_max_s": 0.2, "poll_s": 0.05, "subscriptions_ttl_s": 0,
        "task_scan_s": 0.05}


@dataclass
class Hit:
    path: str
    status: int
    body: dict
    raw: str
    headers: dict
    signed_ok: bool
    at: float


@dataclass
class Receiver:
    """Answers each path by its script: ``fail[path]`` 500s first, ``hang`` paths never answer in time."""

    server: TestServer | None = None
    secrets: dict[str, str] = field(default_factory=dict)  # path -> the subscription's secret
    fail: dict[str, int] = field(default_factory=dict)
    hang: set[str] = field(default_factory=set)
    hits: list[Hit] = field(default_factory=list)
    decide: Callable[[str, dict], int] | None = None  # (path, body) -> the status to answer, before ``fail``
    released: asyncio.Event = field(default_factory=asyncio.Event)  # set at the end: hanging handlers return

    def url(self, path: str) -> str:
        assert self.server is not None
        return str(self.server.make_url(path))

    def ok(self, path: str) -> list[Hit]:
        return [h for h in self.hits if h.path == path and h.status == 200]

    async def wait_for(self, check, timeout: float = 5.0) -> None:  # noqa: ANN001, ASYNC109 - a predicate; a deadline that names what was missing
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"receiver did not see it in {timeout}s; hits: "
                                     f"{[(h.path, h.status, h.body.get('type')) for h in self.hits]}")
            await asyncio.sleep(0.02)

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.text()
        import json

        if request.path in self.hang:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(30):
                    await self.released.wait()
        status = self.decide(request.path, json.loads(raw)) if self.decide else 200
        if status == 200 and self.fail.get(request.path, 0) > 0:
            self.fail[request.path] -= 1
            status = 500
        secret = self.secrets.get(request.path, "")
        signed = verify(secret, request.headers.get(SIGNATURE_HEADER, ""), raw, int(time.time()))
        self.hits.append(Hit(request.path, status, json.loads(raw), raw, dict(request.headers), signed,
                             time.monotonic()))
        text = "принято" if status == 200 else "Internal <b>Error</b> \x00 boom"
        return web.Response(status=status, text=text)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", rec.handle)
    rec.server = TestServer(app, host="127.0.0.1")
    await rec.server.start_server()
    try:
        yield rec
    finally:
        rec.released.set()
        await rec.server.close()


@dataclass
class Wired:
    hub: SimpleNamespace
    intake: IntakeService

    @property
    def recorder(self):  # noqa: ANN201
        return self.hub.connectors["webhooks"]

    @property
    def sender(self):  # noqa: ANN201
        """The sender itself (on PostgreSQL the connector under leadership wraps it)."""
        found = self.hub.connectors["webhooks_sender"]
        return getattr(found, "connector", found)


@pytest.fixture
def webhook_settings() -> dict:
    return dict(FAST)


@pytest.fixture
async def wired(db, webhook_settings) -> AsyncIterator[Wired]:  # noqa: ANN001
    """The webhooks through their public wiring on one instance; on PostgreSQL its sender runs once this
    instance holds the ``hub:webhooks`` leadership."""
    bus = EventBus()
    dsn = db.url.replace("postgresql+asyncpg://", "postgresql://") if db.backend == "postgresql" else None
    hub = SimpleNamespace(settings=Settings.model_validate({"webhooks": webhook_settings}),
                          database=SimpleNamespace(sessions=db.sessions), bus=bus, connectors={}, pg_dsn=dsn,
                          telephony=None, instance="test")
    wire(hub)
    for connector in hub.connectors.values():
        await connector.start()
    led = hub.connectors["webhooks_sender"]
    if dsn is not None:
        assert hasattr(led, "leadership"), "on PostgreSQL the sender runs under leadership"
        async with asyncio.timeout(10):
            while led.state != "running":  # noqa: ASYNC110 - polling a plain condition in a test
                await asyncio.sleep(0.02)
    try:
        yield Wired(hub, IntakeService(db.sessions, bus))
    finally:
        for connector in hub.connectors.values():
            await connector.stop()
