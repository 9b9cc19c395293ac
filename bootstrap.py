"""One place that wires the hub from its settings: database, bus, intake, connectors, web.

Nothing is wired at import time; tests call ``build_hub`` with their own settings.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import importlib.util
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bus.bus import EventBus
from bus.events import Push
from bus.tasks import TaskSupervisor
from config.settings import Settings
from crm_core.db import create_engine, database_url, session_factory
from crm_core.intake import IntakeService
from crm_core.migrate import SchemaTooNew, migrate
from crm_core.models import Role, User
from crm_core.users import create_user

log = logging.getLogger("hub")
FIRST_LOGIN_FILE = "first-login.txt"


class Connector(Protocol):
    """What every connector shows the hub: a lifecycle and a state for /healthz."""

    @property
    def state(self) -> str: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class Database:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    state: str = "starting"
    error: str | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def connect_and_migrate(self, retries: int, delay_s: float) -> None:
        """Reach the database and migrate it, retrying while it is down; the web stays up meanwhile."""
        attempt = 0
        while True:
            attempt += 1
            try:
                await migrate(self.engine)
            except SchemaTooNew as exc:  # retrying cannot help: a newer hub migrated this database
                self.state, self.error = "down", str(exc)
                raise
            except (TimeoutError, OSError, Exception) as exc:  # noqa: BLE001 - reported, retried
                self.state, self.error = "down", _short_reason(exc)
                if attempt > retries:
                    log.error("database unreachable after %d attempts, giving up: %s", attempt, self.error)
                    raise
                log.warning("database unreachable (attempt %d/%d): %s; retrying in %.1fs",
                            attempt, retries + 1, self.error, delay_s)
                await asyncio.sleep(delay_s)
                continue
            self.state, self.error = "up", None
            self.ready.set()
            log.info("database up and migrated")
            return

    async def ping(self, timeout_s: float = 2.0) -> bool:
        if not self.ready.is_set():
            return False
        try:
            async with asyncio.timeout(timeout_s), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - reported on /healthz
            self.state, self.error = "down", _short_reason(exc)
            return False
        self.state, self.error = "up", None
        return True


def _short_reason(exc: BaseException) -> str:
    """The cause without the connection string or anything else that may carry a password."""
    message = str(exc).splitlines()[0] if str(exc) else ""
    if "://" in message:
        message = ""
    return f"{type(exc).__name__}: {message}"[:300]


@dataclass
class Hub:
    settings: Settings
    database: Database
    bus: EventBus
    tasks: TaskSupervisor
    intake: IntakeService
    connectors: dict[str, Connector] = field(default_factory=dict)
    var_dir: Path = Path("var")
    started: asyncio.Event = field(default_factory=asyncio.Event)
    outbox_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    instance: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    fanout: object | None = None
    telephony: object | None = None  # telephony.service.TelephonyService when a PBX is configured
    mail: object | None = None  # channels.email.service.MailIntake: mail in, its quarantine and system mail
    utm_table: object | None = None  # telephony.ad_sources.UtmTable: the web forms' UTM → source names, cached
    failure: str | None = None  # why the start was given up (the database stayed unreachable); `hub run` exits
    failed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def pg_dsn(self) -> str | None:
        """A plain libpq address for the leader locks and LISTEN/NOTIFY (PostgreSQL only)."""
        url = database_url(self.settings.database)
        if url.get_backend_name() != "postgresql":
            return None
        return url.set(drivername="postgresql").render_as_string(hide_password=False)

    def leaders(self) -> dict[str, bool]:
        return {name: c.leadership.leading for name, c in self.connectors.items() if hasattr(c, "leadership")}

    def connector_states(self) -> dict[str, str]:
        return {name: c.state for name, c in self.connectors.items()}


def build_hub(settings: Settings) -> Hub:
    engine = create_engine(settings.database)
    database = Database(engine, session_factory(engine))
    bus = EventBus()
    hub = Hub(
        settings=settings, database=database, bus=bus, tasks=TaskSupervisor(),
        intake=IntakeService(database.sessions, bus, settings.phones.default_region),
        var_dir=Path(settings.storage.var_dir),
    )
    # Routing first: connectors start in this order, and routing must be listening before intake begins.
    from agency.wiring import wire as wire_agency
    from channels.email.wiring import imap_connector
    from channels.telegram.wiring import telegram_connector
    from channels.webforms.wiring import webforms_connector
    from channels.wiring import messaging_connectors
    from routing.wiring import wire as wire_routing
    from speech.wiring import live_speech, speech_service
    from telephony.wiring import telephony_service

    wire_routing(hub)
    wire_agency(hub)
    hub.connectors["webforms"] = webforms_connector(hub)
    if settings.email.enabled and settings.email.imap_user:
        hub.connectors["email"] = imap_connector(hub)
    if settings.telegram.enabled:
        hub.connectors["telegram"] = telegram_connector(hub)
    hub.connectors.update(messaging_connectors(hub))  # VK, WhatsApp (channels/wiring.py)
    hub.connectors["speech"] = speech_service(hub)  # without a model it shows "disabled": transcription is off
    if settings.asterisk.enabled or settings.asterisk.demo:
        hub.telephony = telephony_service(hub)
        hub.connectors["asterisk"] = hub.telephony
    if settings.speech.live_enabled and settings.speech.model_path:
        hub.connectors["speech_live"] = live_speech(hub)  # AudioSocket server + live workers (docs/speech.md)
    wire_capabilities(hub)
    _elect_single_consumers(hub)
    return hub


# Capabilities that plug services into the hub, each from `<package>/wiring.py` with `wire(hub)`: it may
# subscribe to the bus, listen to the PBX (`hub.telephony.add_listener`) and add services with
# start/stop/state to `hub.connectors` (they show on /healthz). Listed here so the order is explicit.
CAPABILITIES = ("notifications", "wallboard", "workflow", "callfeed", "privacy", "webhooks")


def wire_capabilities(hub: Hub) -> None:
    for package in CAPABILITIES:
        if importlib.util.find_spec(package) is None or importlib.util.find_spec(f"{package}.wiring") is None:
            continue
        importlib.import_module(f"{package}.wiring").wire(hub)


SINGLE_CONSUMERS = ("email", "telegram", "asterisk")


def _elect_single_consumers(hub: Hub) -> None:
    """On PostgreSQL several instances may run: a mailbox, the bot poller and the PBX session get one
    consumer each, chosen by advisory lock. On SQLite there is one instance (start-up refuses a second)."""
    from bus.leader import LedConnector

    dsn = hub.pg_dsn
    if dsn is None:
        return
    for name in SINGLE_CONSUMERS:
        connector = hub.connectors.get(name)
        if connector is None or (name == "telegram" and hub.settings.telegram.mode == "webhook"):
            continue
        hub.connectors[name] = LedConnector(connector, dsn, f"hub:{name}", hub.instance,
                                            **hub.settings.cluster.leader_timing)


def wire_web_pushes(hub: Hub, sockets) -> None:  # noqa: ANN001 - web.wshub.SocketHub, kept loose to avoid a cycle
    """Pushes reach this instance's browsers; with a broker (PostgreSQL LISTEN/NOTIFY by default, Redis or
    NATS by `[cluster] broker`) every instance's."""
    from bus.fanout import make_fanout

    fanout = make_fanout(hub.settings.cluster, hub.pg_dsn, sockets.push)
    if fanout is not None:
        hub.fanout = fanout

        async def on_push(event: Push) -> None:
            await fanout.publish(event)
        hub.bus.subscribe(Push, on_push)
    else:  # straight into the sockets' queues, inside publish: no turn of the event loop in between
        hub.bus.subscribe_inline(Push, lambda event: sockets.push(event.user_ids, event.kind, event.payload))


async def start_hub(hub: Hub) -> None:
    """Reach the database (retrying), then start the connectors. Runs as an owned task."""
    s = hub.settings.database
    try:
        await hub.database.connect_and_migrate(s.connect_retries, s.retry_delay_s)
    except Exception as exc:
        hub.failure = str(exc) if isinstance(exc, SchemaTooNew) else (
            f"database unreachable after {s.connect_retries + 1} attempts: {hub.database.error} "
            f"(check [database] url or HUB_DATABASE__URL)")
        hub.failed.set()
        raise
    await ensure_first_admin(hub)
    if hub.fanout is not None:
        await hub.fanout.start()
    for name, connector in hub.connectors.items():
        try:
            await connector.start()
        except Exception as exc:  # `hub run` exits with the reason rather than serving without the connector
            hub.failure = f"{name} could not start: {str(exc)[:300]}"
            hub.failed.set()
            raise
        log.info("connector %s started", name)
    from channels.wiring import outbox_needed, run_outbox

    if outbox_needed(hub):
        hub.tasks.spawn("outbox", run_outbox(hub))
    settle_the_heap()
    hub.started.set()


def settle_the_heap() -> None:
    """Everything loaded at start (modules, phone metadata, the ORM's mappers, settings) stays for the life
    of the process: move it out of the garbage collector's sight. A full collection walked all of it and
    stopped the event loop for over 100 ms in the middle of call bursts (a wallboard frame, a pop-up late)."""
    gc.collect()
    gc.freeze()


def keep_settling() -> None:
    """In the hub's own process (``hub run``), what comes later and lives long (the agents' sockets and
    sessions, caches) is frozen the same way after each full collection (issue 23: those walks were the
    pop-up's tail). Not in processes that build and drop many hubs (the tests): there the frozen garbage of
    the hubs already gone would wait for the hourly thaw."""
    if _freeze_survivors not in gc.callbacks:
        gc.callbacks.append(_freeze_survivors)


THAW_S = 3600.0  # once an hour a full collection walks everything again (cycles among frozen objects freed)
_thawed_at = [0.0]


def _freeze_survivors(phase: str, info: dict) -> None:
    """After a full collection, what survived it is long-lived: freeze it, so the next full collection walks
    only what is newer (a few ms instead of 40–120 ms with 1,000 sockets up). A frozen object that later
    dies in a reference cycle would stay, so once every ``THAW_S`` everything is unfrozen instead: the next
    full collection (one longer pause an hour) frees such cycles, and its survivors are frozen again."""
    if phase != "stop" or info.get("generation") != 2:
        return
    now = time.monotonic()
    if not _thawed_at[0]:
        _thawed_at[0] = now
    if now - _thawed_at[0] > THAW_S:
        _thawed_at[0] = now
        gc.unfreeze()
    else:
        gc.freeze()


async def stop_hub(hub: Hub) -> None:
    for name, connector in hub.connectors.items():
        try:
            await connector.stop()
        except Exception:  # noqa: BLE001 - a failing stop must not keep the others running
            log.exception("connector %s failed to stop", name)
    if hub.fanout is not None:
        await hub.fanout.stop()
    await hub.tasks.stop()
    await hub.database.engine.dispose()


async def ensure_first_admin(hub: Hub) -> str | None:
    """On an empty database create `admin` with a random password written to var/first-login.txt (0600).

    The password goes to a file only the owner can read, never to the log or the console.
    """
    async with hub.database.sessions() as s, s.begin():
        if (await s.execute(select(func.count()).select_from(User))).scalar_one():
            return None
        password = secrets.token_urlsafe(12)
        await create_user(s, login="admin", password=password, full_name="Администратор", role=Role.ADMIN)
    path = write_first_login(hub.var_dir, f"login: admin\npassword: {password}\n")
    log.info("created the first administrator 'admin'; its password is in %s", path)
    return password


def write_first_login(var_dir: Path, content: str) -> Path:
    var_dir.mkdir(parents=True, exist_ok=True)
    path = var_dir / FIRST_LOGIN_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(content)
    return path
