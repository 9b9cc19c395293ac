"""The hub's command line: run, migrate, create-user, import-clients, demo-data.

    python main.py run [--config hub.toml] [--demo]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import signal
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

from config import Settings, SettingsError, load_settings
from ops.cli import COMMANDS as OPS_COMMANDS
from ops.cli import add_parser as add_ops_parsers
from routing.calendar_cli import add_parser as add_calendar_parser
from routing.calendar_cli import cmd_calendar
from routing.cli import add_parser as add_simulate_parser
from routing.cli import cmd_simulate
from speech.cli import add_parsers as add_speech_parsers
from speech.cli import cmd_speech_eval, cmd_speech_worker

log = logging.getLogger("hub")
# Exit statuses of `hub run`, one per cause, so a service manager (or a person) can tell them apart.
EXIT_FAILED = 1            # another hub runs on this SQLite file, or a command failed
EXIT_CONFIG = 2            # a bad setting or config file
EXIT_CANNOT_LISTEN = 3     # the web address is taken or not allowed
EXIT_MISSING_FILE = 4      # a file the hub reads at start is not there
EXIT_DATABASE = 5          # the database stayed unreachable through every retry


class CannotListen(OSError):
    """Binding the web address failed (in use, not allowed, not on this machine)."""


class StartFailed(RuntimeError):
    """The hub could not finish starting (the database stayed unreachable); the message says why."""


def configure_logging(level: str, fmt: str = "text", levels: Mapping[str, str] | None = None) -> None:
    from ops.logs import configure  # plain lines or JSON lines ([log] format), a level per component

    configure(level, fmt, levels)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="hub", description="Contact-center hub")
    p.add_argument("--config", help="TOML settings file (default: $HUB_CONFIG)")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the hub (web workspace, connectors)")
    run.add_argument("--demo", action="store_true", help="load the demo agency (and demo PBX when available)")
    sub.add_parser("migrate", help="bring the database schema up to date")
    cu = sub.add_parser("create-user", help="create a user; the password is read from a prompt or stdin")
    cu.add_argument("login")
    cu.add_argument("--name", default="")
    cu.add_argument("--role", default="agent")
    cu.add_argument("--department", help="department name (created when missing)")
    cu.add_argument("--extension")
    cu.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    imp = sub.add_parser("import-clients", help="import clients from a CSV or XLSX file")
    imp.add_argument("file", type=Path)
    imp.add_argument("--map", action="append", default=[], metavar="COLUMN=FIELD",
                     help="map a file column to a field (name, phone, email, company, note, birthday, segment)")
    imp.add_argument("--dry-run", action="store_true", help="check and report, store nothing")
    imp.add_argument("--report", type=Path, help="write the per-row error report to this CSV file")
    sub.add_parser("demo-data", help="load a small demo agency")
    add_simulate_parser(sub)
    add_calendar_parser(sub)
    add_speech_parsers(sub)
    add_ops_parsers(sub)
    return p.parse_args(argv)


def cli(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        print(f"hub: bad configuration: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log.level, settings.log.format, settings.log.levels)
    commands = {
        "run": cmd_run, "migrate": cmd_migrate, "create-user": cmd_create_user,
        "import-clients": cmd_import_clients, "demo-data": cmd_demo_data, "simulate": cmd_simulate,
        "calendar": cmd_calendar, "speech-eval": cmd_speech_eval, "speech-worker": cmd_speech_worker,
        **OPS_COMMANDS,
    }
    return commands[args.command](settings, args)


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    if args.demo and not settings.asterisk.demo:
        settings = settings.model_copy(update={"asterisk": settings.asterisk.model_copy(update={"demo": True})})
    from crm_core.db import SecondInstance
    from ops.upgrade import refuse_newer_schema

    if (too_new := refuse_newer_schema(settings)) is not None:
        print(f"hub: {too_new}", file=sys.stderr)
        return EXIT_CONFIG
    from bootstrap import keep_settling

    keep_settling()
    try:
        asyncio.run(serve(settings, demo=args.demo))
    except SecondInstance as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except CannotListen as exc:
        print(f"hub: cannot listen on {settings.web.host}:{settings.web.port}: {exc.strerror} "
              f"(set [web] port or HUB_WEB__PORT)", file=sys.stderr)
        return EXIT_CANNOT_LISTEN
    except FileNotFoundError as exc:
        print(f"hub: a file the hub needs is missing: {exc.filename}", file=sys.stderr)
        return EXIT_MISSING_FILE
    except StartFailed as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return EXIT_DATABASE
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        print(f"hub: cannot start: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_FAILED
    return 0


async def serve(settings: Settings, *, demo: bool = False, ready: asyncio.Event | None = None,
                stop: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or ``stop``), then stop cleanly: connectors, tasks, sockets, database."""
    from aiohttp import web

    from bootstrap import build_hub
    from crm_core.db import hold_single_instance_lock
    from web.app import create_app

    lock = hold_single_instance_lock(settings.database)  # noqa: F841 - held until the process ends
    listening = listen_socket(settings.web.host, settings.web.port)  # first: a taken port stops nothing half-started
    demo_pbx = None
    try:
        if settings.asterisk.demo:
            demo_pbx, settings = await start_demo_pbx(settings)
    except BaseException:
        listening.close()
        raise
    hub = build_hub(settings)
    if demo:
        hub.tasks.spawn("demo-data", _load_demo_when_ready(hub, demo_pbx))
    elif demo_pbx is not None:
        demo_pbx.play()
    app = create_app(hub)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=2.0, access_log=None)
    await runner.setup()
    site = web.SockSite(runner, listening)
    await site.start()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    url = _url(settings, site)
    print(f"Hub running at {url}", flush=True)
    print(f"First login: user 'admin', password in {Path(settings.storage.var_dir) / 'first-login.txt'} "
          f"(written on the first start)", flush=True)
    if ready is not None:
        ready.set()
    from ops import sdnotify  # READY=1 and the watchdog under systemd (deploy/contact-hub.service)

    watchdog = sdnotify.ready()
    await _until_stopped_or_failed(stop, hub.failed)
    sdnotify.stopping()
    if watchdog is not None:
        watchdog.cancel()
    log.info("stopping")
    try:
        async with asyncio.timeout(5):
            await runner.cleanup()
    except TimeoutError:
        log.error("stop took longer than 5 s; exiting anyway")
    if demo_pbx is not None:
        await demo_pbx.stop()
    log.info("stopped")
    if hub.failure is not None:
        raise StartFailed(hub.failure)


def listen_socket(host: str, port: int) -> socket.socket:
    """The web's listening socket, bound before anything else starts; a taken or forbidden address raises
    ``CannotListen`` with the system's reason."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise CannotListen(exc.errno, exc.strerror) from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(512)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise CannotListen(exc.errno, exc.strerror) from exc
    return sock


async def _until_stopped_or_failed(stop: asyncio.Event, failed: asyncio.Event) -> None:
    """Wait for a signal (or ``stop``) or for the hub to give up starting; both waits are awaited here."""
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(failed.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
        await asyncio.gather(*waits, return_exceptions=True)


async def start_demo_pbx(settings: Settings):  # noqa: ANN201
    """The demo's PBX: the fake Asterisk on loopback looping the real traces, and the hub pointed at it."""
    import secrets

    from pydantic import SecretStr

    from connectors.asterisk.fake_pbx import FakePbx

    a = settings.asterisk
    secret = secrets.token_urlsafe(12)
    pbx = FakePbx(traces=a.demo_traces, secret=secret, username=a.username, loop=True, pause_s=a.demo_pause_s,
                  autoplay=False)
    await pbx.start()
    log.info("demo PBX replaying %s on 127.0.0.1:%s", ", ".join(a.demo_traces), pbx.port)
    asterisk = a.model_copy(update={"enabled": True, "host": "127.0.0.1", "port": pbx.port,
                                   "secret": SecretStr(secret)})
    return pbx, settings.model_copy(update={"asterisk": asterisk})


def _url(settings: Settings, site) -> str:  # noqa: ANN001
    server = getattr(site, "_server", None)
    port = settings.web.port
    if server is not None and server.sockets:
        port = server.sockets[0].getsockname()[1]
    return f"http://{settings.web.host}:{port}/"


async def _load_demo_when_ready(hub, pbx=None) -> None:  # noqa: ANN001
    await hub.database.ready.wait()
    await load_demo(hub)
    if pbx is not None:
        pbx.play()  # the demo calls start once the demo agents exist


async def load_demo(hub) -> None:  # noqa: ANN001
    import secrets

    from bootstrap import write_first_login
    from crm_core.demo import load_demo_data

    password_file = hub.var_dir / "demo-password.txt"
    if password_file.exists():
        password = password_file.read_text(encoding="utf-8").strip()
    else:
        password = secrets.token_urlsafe(9)
        hub.var_dir.mkdir(parents=True, exist_ok=True)
        password_file.write_text(password + "\n", encoding="utf-8")
        password_file.chmod(0o600)
        write_first_login(hub.var_dir, f"demo users (anna, oleg, maria, head, manager, director): {password}\n")
    summary = await load_demo_data(hub.database.sessions, password=password)
    log.info("demo data ready: %s", summary)


def _with_hub(settings: Settings, body) -> int:  # noqa: ANN001
    """Run a one-off command against a migrated database, then release it."""
    from bootstrap import build_hub

    async def go() -> int:
        hub = build_hub(settings)
        try:
            await hub.database.connect_and_migrate(0, 1.0)
            return await body(hub)
        except Exception:  # noqa: BLE001 - a command line tool reports, not crashes
            if hub.database.state == "down":
                print(f"hub: database unreachable: {hub.database.error}", file=sys.stderr)
                return 1
            raise
        finally:
            await hub.database.engine.dispose()

    return asyncio.run(go())


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    async def body(hub) -> int:  # noqa: ANN001
        print("database schema is up to date")
        return 0

    return _with_hub(settings, body)


def cmd_create_user(settings: Settings, args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from crm_core.models import Department
    from crm_core.users import UserError, create_user

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat: ") != password:
            print("hub: passwords differ", file=sys.stderr)
            return 1

    async def body(hub) -> int:  # noqa: ANN001
        async with hub.database.sessions() as s, s.begin():
            department_id = None
            if args.department:
                dept = (await s.execute(select(Department).where(Department.name == args.department))).scalar()
                if dept is None:
                    dept = Department(name=args.department)
                    s.add(dept)
                    await s.flush()
                department_id = dept.id
            try:
                user = await create_user(s, login=args.login, password=password, full_name=args.name,
                                         role=args.role, department_id=department_id, extension=args.extension)
            except UserError as exc:
                print(f"hub: {exc}", file=sys.stderr)
                return 1
        print(f"user {user.login} created (role {user.role})")
        return 0

    return _with_hub(settings, body)


def cmd_import_clients(settings: Settings, args: argparse.Namespace) -> int:
    from crm_core.importer import ImportFileError, import_clients, write_report_csv

    mapping = {}
    for item in args.map:
        column, sep, field = item.partition("=")
        if not sep:
            print(f"hub: --map {item!r}: expected COLUMN=FIELD", file=sys.stderr)
            return EXIT_CONFIG
        mapping[column.strip()] = field.strip()
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        print(f"hub: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 1

    async def body(hub) -> int:  # noqa: ANN001
        try:
            report = await import_clients(hub.database.sessions, data, args.file.name, mapping=mapping or None,
                                          region=settings.phones.default_region, dry_run=args.dry_run)
        except ImportFileError as exc:
            print(f"hub: {args.file.name}: {exc} — nothing imported", file=sys.stderr)
            return 1
        print(report.summary())
        for title, items in (("errors", report.errors), ("warnings", report.warnings)):
            if items:
                print(f"{title}:")
            for item in items[:50]:
                print(f"  {item}")
            if len(items) > 50:
                print(f"  … {len(items) - 50} more")
        if args.report:
            write_report_csv(report, args.report)
            print(f"report written to {args.report}")
        return 0

    return _with_hub(settings, body)


def cmd_demo_data(settings: Settings, args: argparse.Namespace) -> int:
    async def body(hub) -> int:  # noqa: ANN001
        await load_demo(hub)
        print(f"demo agency loaded; logins and password in {hub.var_dir / 'first-login.txt'}")
        return 0

    return _with_hub(settings, body)


if __name__ == "__main__":
    sys.exit(cli())
