"""One place that wires the hub from its settings: database, bus, intake, connectors, web.

Nothing is wired at import time; tests call ``build_hub`` with their own settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import importlib.util
import logging
import os
import secrets
import socket
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
from crm_core.migrate import migrate
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
    from crm_core.sla_scheduler import wire_routing

    wire_routing(hub)
    from crm_core import deals

    deals.subscribe(hub.bus, hub.database.sessions)  # a claimed owner lead hands its viewing task to the winner
    hub.connectors["webforms"] = _webforms(hub)
    if settings.email.enabled and settings.email.imap_user:
        hub.connectors["email"] = _imap(hub)
    if settings.telegram.enabled:
        hub.connectors["telegram"] = _telegram(hub)
    hub.connectors["speech"] = _speech(hub)  # without a model it shows "disabled": transcription is off
    if settings.asterisk.enabled or settings.asterisk.demo:
        hub.telephony = _telephony(hub)
        hub.connectors["asterisk"] = hub.telephony
    wire_capabilities(hub)
    _elect_single_consumers(hub)
    return hub


# Capabilities that plug services into the hub, each from `<package>/wiring.py` with `wire(hub)`: it may
# subscribe to the bus, listen to the PBX (`hub.telephony.add_listener`) and add services with
# start/stop/state to `hub.connectors` (they show on /healthz). Listed here so the order is explicit.
CAPABILITIES = ("notifications", "wallboard", "workflow", "callfeed")


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


def _speech(hub: Hub):  # noqa: ANN202
    """Transcription of finished calls' recordings in worker processes (the model loaded once per worker)."""
    from speech.service import SpeechService

    settings = hub.settings.speech
    recordings = settings.recordings_dir or Path(hub.settings.asterisk.recordings_dir)
    return SpeechService(settings, hub.database.engine, hub.database.sessions, hub.bus, name=hub.instance,
                         recordings_dir=recordings)


def _telephony(hub: Hub):  # noqa: ANN202
    """The PBX link: AMI events → call state → pop-ups (via the bus) and stored calls (via the call log)."""
    from crm_core.agent_states import set_status
    from crm_core.call_log import CallLog, load_agents, owner_of_caller
    from crm_core.caller_card import caller_details
    from crm_core.db import is_sqlite
    from crm_core.lookup import SqliteCallerLookup, find_client_by_phone
    from telephony.service import TelephonyService

    s = hub.settings.asterisk
    region = hub.settings.phones.default_region
    sessions = hub.database.sessions
    speech = hub.connectors.get("speech")
    call_log = CallLog(sessions, hub.intake, region=region, recordings_dir=s.recordings_dir,
                       callback_delay_s=s.callback_delay_s, callback_attempts=s.callback_attempts,
                       transcribe=hub.settings.speech.model_path is not None,
                       transcribe_attempts=hub.settings.speech.max_attempts,
                       transcription_queued=getattr(speech, "poke", None))

    async def pooled_lookup(number: str):  # noqa: ANN202
        async with sessions() as session:
            return await find_client_by_phone(session, number, region)

    lookup = pooled_lookup
    url = database_url(hub.settings.database)
    if is_sqlite(url) and url.database and url.database != ":memory:":
        lookup = SqliteCallerLookup(url.database, region, pooled_lookup)  # the pop-up's read, without hand-overs

    async def agent_state(user_id: int, status: str, reason: str | None, only_from: frozenset[str]) -> None:
        await set_status(sessions, hub.bus, user_id, status, reason=reason, source="pbx", only_from=only_from)

    async def details(client_id: int) -> dict:
        async with sessions() as session:
            return await caller_details(session, client_id)

    return TelephonyService(s, publish=hub.bus.publish, lookup=lookup, load_agents=lambda: load_agents(sessions),
                            details=details, store_call=call_log.store,
                            find_owner=lambda number: owner_of_caller(sessions, number, region),
                            set_agent_state=agent_state)


def _telegram(hub: Hub):  # noqa: ANN202
    from connectors.telegram.connector import TelegramConnector
    from crm_core.connector_state import DbCheckpoint
    from crm_core.telegram_service import TelegramService

    service = TelegramService(hub.database.sessions, hub.intake, hub.settings.phones.default_region,
                              time_zone=hub.settings.time_zone)

    async def cabinet_link(chat_id: int) -> str | None:
        from selfservice.wiring import service_of  # wired later by the call-feed capability

        self_service = service_of(hub)
        return await self_service.bot_link(chat_id) if self_service is not None else None

    service.cabinet_link = cabinet_link
    return TelegramConnector(hub.settings.telegram, service.handle, DbCheckpoint(hub.database.sessions),
                             files_dir=hub.var_dir / "attachments" / "telegram")


def _imap(hub: Hub):  # noqa: ANN202
    """Mail in: parse off the event loop, keep attachments on disk, then the intake service."""
    from connectors.email.imap import ImapConnector, MailRef
    from connectors.email.parse import parse_email
    from crm_core.connector_state import DbCheckpoint
    from crm_core.mail_intake import email_request, store_attachments

    attachments_dir = hub.var_dir / "attachments"

    async def on_mail(raw: bytes, ref: MailRef) -> None:
        mail = await asyncio.to_thread(parse_email, raw)
        refs = await asyncio.to_thread(store_attachments, attachments_dir, mail.message_id, mail.attachments)
        result = await hub.intake.accept(email_request(mail, refs))
        log.info("mail uid=%s message_id=%s inquiry=%s automatic=%s duplicate=%s", ref.uid, mail.message_id,
                 result.inquiry_id, mail.automatic, result.duplicate)

    return ImapConnector(hub.settings.email, on_mail, DbCheckpoint(hub.database.sessions))


def _webforms(hub: Hub):  # noqa: ANN202
    from connectors.webforms.connector import WebFormsConnector
    from connectors.webforms.events import FormOutcome, FormReceived
    from crm_core.intake import IntakeRequest
    from crm_core.models import Channel

    async def on_form(form: FormReceived) -> FormOutcome:
        result = await hub.intake.accept(IntakeRequest(
            channel=Channel.WEBFORM, external_id=form.external_id, name=form.name, phone=form.phone,
            email=form.email, text=form.message, subject=(form.message.splitlines() or [""])[0][:120] or None,
            source=form.utm.get("utm_source") or form.site, utm=dict(form.utm),
            meta={"site": form.site, "page_url": form.page_url, "referrer": form.referrer, "ip": form.client_ip},
        ))
        return FormOutcome(result.inquiry_id, result.duplicate)

    return WebFormsConnector(hub.settings.webforms, on_form)


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
    await hub.database.connect_and_migrate(s.connect_retries, s.retry_delay_s)
    await ensure_first_admin(hub)
    if hub.fanout is not None:
        await hub.fanout.start()
    for name, connector in hub.connectors.items():
        await connector.start()
        log.info("connector %s started", name)
    if hub.settings.email.enabled or "telegram" in hub.connectors:
        hub.tasks.spawn("outbox", run_outbox(hub))
    settle_the_heap()
    hub.started.set()


def settle_the_heap() -> None:
    """Everything loaded at start (modules, phone metadata, the ORM's mappers, settings) stays for the life
    of the process: move it out of the garbage collector's sight. A full collection walked all of it and
    stopped the event loop for over 100 ms in the middle of call bursts (a wallboard frame, a pop-up late)."""
    gc.collect()
    gc.freeze()


async def run_outbox(hub: Hub, poll_s: float = 5.0) -> None:
    """Send queued replies; woken at once when an agent queues one, else every few seconds for retries."""
    from connectors.email.smtp import SmtpSender
    from connectors.telegram.connector import TelegramChannel
    from crm_core.outbox import EmailChannel, deliver_due

    senders = {}
    if hub.settings.email.enabled:
        senders["email"] = EmailChannel(SmtpSender(hub.settings.email))
    if "telegram" in hub.connectors:
        bot = hub.connectors["telegram"]
        senders["telegram"] = TelegramChannel(getattr(bot, "connector", bot))  # any instance may send
    while True:
        try:
            while await deliver_due(hub.database.sessions, senders, hub.settings.email.retry_delays_s):
                pass
        except Exception:  # noqa: BLE001 - the loop must outlive a bad moment of the database
            log.exception("outbox pass failed; trying again in %.0fs", poll_s)
        hub.outbox_wakeup.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(poll_s):
                await hub.outbox_wakeup.wait()


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
