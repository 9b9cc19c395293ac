"""A contact-center day in one hub process: agents' sockets, calls, web forms, mail and Telegram at once.

    python -m bench.day [--quick] [--database postgresql://postgres@127.0.0.1:5432/postgres]
                        [--agents 2000] [--clients 1000000] [--seconds S]

Processes on loopback, as in production: the hub (``main.py run``) with routing and the SLA scheduler on
(working hours round the clock, so every inquiry is routed now); a process holding one bare WebSocket per
agent, each logged in (``bench/day_sockets.py``); a real Dovecot whose mailbox the hub's IMAP connector
watches; and this process: the fake PBX, the websites, the mail delivery agent, Telegram's webhook posts
and a fake Bot API for the hub's answers (``bench/day_load.py``). The world (``bench/day_world.py``): the
clients, each with a mobile number (callers and form senders are drawn from them), the agents with their
extensions and sessions, one rule giving every inquiry to the least loaded agent.

For ``--seconds`` (60; ``--quick``: 20): 50 new calls/s (answered.txt's shape: queued, an agent called,
answered, hung up, each its own ids, a random agent and client), 100 web forms/s, 10 mails/s, 10 Telegram
updates/s. Then, once the last call has ended, the hub is given up to 60 s to store what it was sent.

Reported (one JSON line): pop-up latency (``AgentCalled`` written by the PBX → the pop-up on the agent's
socket, one clock), form latency (post → 2xx), mail → screen (delivered into the mailbox → the inquiry's
routing offer or assignment on an agent's socket), ``lost``: outside ids (Linkedid, form key, Message-ID,
Telegram chat:message) not stored as exactly one record (a call row; a message, or a quarantined mail),
the hub's peak RSS and its CPU over the load (100 = one core). Peer: a bare AMI → WebSocket relay
(``bench/day_sockets.BareRelay``) over the same sockets and the same calls, ``peer_popup_*``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import psutil

from bench.common import ROOT, free_port, percentile, start_hub
from bench.day_load import Mailbox, Sent, calls, forms, mails, updates
from bench.day_sockets import BareRelay, Screens
from bench.day_world import extension_of, postgres_world, sqlite_world, token_of
from connectors.asterisk.fake_pbx import FakePbx

RATES = {"calls": 50.0, "forms": 100.0, "mails": 10.0, "updates": 10.0}
TARGETS = {"popup_p99_ms": 50, "form_p99_ms": 250, "lost": 0, "rss_mb": 300}
DRAIN_S = 60.0
TELEGRAM_TOKEN = "123456:bench-day-token"


STARTED = time.monotonic()


def say(what: str) -> None:
    """A progress line on stderr (the JSON line alone goes to stdout)."""
    print(f"[{time.monotonic() - STARTED:6.1f} s] {what}", file=sys.stderr, flush=True)


def _ms(values: list[float], p: float) -> float | None:
    return round(percentile(values, p), 2) if values else None


class Meter:
    """The hub's peak RSS and its CPU time, sampled every 0.25 s."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.rss_mb = 0.0
        self._task: asyncio.Task[None] | None = None
        self._cpu0 = self._t0 = 0.0

    async def _sample(self) -> None:
        with contextlib.suppress(psutil.NoSuchProcess):  # the hub died: the run says so after the load
            while True:
                self.rss_mb = max(self.rss_mb, self.proc.memory_info().rss / 2**20)
                await asyncio.sleep(0.25)

    def start(self) -> None:
        times = self.proc.cpu_times()
        self._cpu0, self._t0 = times.user + times.system, time.monotonic()
        self._task = asyncio.create_task(self._sample())

    def stop(self) -> float:
        """CPU over the time since ``start``, in % of one core."""
        times = self.proc.cpu_times()
        if self._task is not None:
            self._task.cancel()
        return (times.user + times.system - self._cpu0) / (time.monotonic() - self._t0) * 100


async def peer_run(workdir: Path, agents: int, clients: int, seconds: float, rates: dict[str, float]) -> list[float]:
    """The same calls into the bare relay, over the same number of sockets: pop-up latencies in ms."""
    relay = BareRelay({token_of(i): extension_of(i) for i in range(agents)})
    await relay.start()
    screens = Screens(relay.base, [token_of(i) for i in range(agents)], workdir, seconds + 30, "peer")
    sent = Sent()
    try:
        await screens.start()
        await calls(relay.pbx, rates["calls"], seconds, agents, clients, sent, run=0)
        await asyncio.sleep(1.0)
        got = (await screens.finish())["popups"]
    finally:
        screens.stop()
        await relay.stop()
    return [(got[k] - t) * 1000 for k, t in sent.calls.items() if k in got]


async def wait_up(hub, pbx: FakePbx, base: str, log: Path) -> None:  # noqa: ANN001 - Popen
    async with asyncio.timeout(180), aiohttp.ClientSession() as http:
        while True:
            if hub.poll() is not None:
                raise RuntimeError(f"the hub exited: see {log}")
            try:
                async with http.get(f"{base}/healthz") as resp:
                    body = await resp.json(content_type=None)
                if pbx.listeners and body.get("connectors", {}).get("imap") in ("connected", None):
                    return
            except (aiohttp.ClientError, ValueError):
                pass
            await asyncio.sleep(0.2)


async def settle(pid: int, limit_s: float = 30.0) -> None:
    """Agents log in over a morning, not in the second the calls start: wait until greeting the sockets is done."""
    proc = psutil.Process(pid)
    proc.cpu_percent(None)
    began = time.monotonic()
    while time.monotonic() - began < limit_s:
        await asyncio.sleep(0.5)
        if proc.cpu_percent(None) < 15:
            return


async def hub_run(url: str, workdir: Path, agents: int, clients: int, seconds: float,
                  rates: dict[str, float], profile: str | None = None) -> dict:
    from bench.day_report import Stored

    sent = Sent()
    secret, hook_secret = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with AsyncExitStack() as stack:
        from tests.connectors.fake_botapi import FakeBotApi

        box = Mailbox()
        await asyncio.to_thread(box.start)
        stack.callback(box.stop)
        botapi = FakeBotApi(TELEGRAM_TOKEN)
        await botapi.start()
        stack.push_async_callback(botapi.close)
        pbx = FakePbx(secret=secret)
        await pbx.start()
        stack.push_async_callback(pbx.stop)
        env = {**os.environ, "HUB_DATABASE__URL": url, "HUB_WEB__PORT": str(port), "HUB_WEB__HOST": "127.0.0.1",
               "HUB_STORAGE__VAR_DIR": str(workdir / "var"), "HUB_ROUTING__HOURS__INTERVALS": '[["00:00", "24:00"]]',
               "HUB_ASTERISK__ENABLED": "true", "HUB_ASTERISK__PORT": str(pbx.port), "HUB_ASTERISK__SECRET": secret,
               "HUB_WEBFORMS__PER_IP_PER_MINUTE": "100000000",
               "HUB_EMAIL__ENABLED": "true", "HUB_EMAIL__IMAP_PORT": str(box.port), "HUB_EMAIL__IMAP_USER": box.user,
               "HUB_EMAIL__IMAP_PASSWORD": box.password,
               "HUB_TELEGRAM__ENABLED": "true", "HUB_TELEGRAM__TOKEN": TELEGRAM_TOKEN,
               "HUB_TELEGRAM__BASE_URL": botapi.base_url, "HUB_TELEGRAM__BASE_FILE_URL": botapi.base_file_url,
               "HUB_TELEGRAM__MODE": "webhook", "HUB_TELEGRAM__WEBHOOK_SECRET": hook_secret}
        log = workdir / "hub.log"
        hub = await asyncio.to_thread(start_hub, env, log)

        async def end_hub() -> None:
            hub.terminate()
            await asyncio.to_thread(hub.wait)
        stack.push_async_callback(end_hub)
        await wait_up(hub, pbx, base, log)
        say(f"hub up; opening {agents} agents' sockets")
        screens = Screens(base, [token_of(i) for i in range(agents)], workdir, seconds + DRAIN_S + 60, "hub")
        stack.callback(screens.stop)
        await screens.start()
        await settle(hub.pid)
        say(f"load for {seconds:g} s: " + ", ".join(f"{k} {v:g}/s" for k, v in rates.items()))
        meter = Meter(hub.pid)
        meter.start()
        if profile:  # py-spy (PyPI) samples the hub over the load: where its time goes
            spy = await asyncio.to_thread(
                subprocess.Popen, ["py-spy", "record", "-p", str(hub.pid), "-d", str(int(seconds)), "-r", "50", "-f",
                                   "raw", "-o", profile], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            stack.callback(spy.wait)
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=60)  # a post unanswered this long is posted again
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            await asyncio.gather(
                calls(pbx, rates["calls"], seconds, agents, clients, sent, run=1),
                forms(http, base, rates["forms"], seconds, clients, sent, run=1),
                mails(box, rates["mails"], seconds, clients, sent, run=1),
                updates(http, base, hook_secret, rates["updates"], seconds, sent, run=1))
        cpu = meter.stop()
        say("load done; waiting for the hub to store it all")
        stored = Stored(url)
        drained = await stored.wait_for(sent, DRAIN_S)
        seen = await screens.finish()
        records = await stored.read()
        await stored.close()
        if hub.poll() is not None:
            raise RuntimeError(f"the hub exited during the run: see {log}")
    return {"sent": sent, "seen": seen, "records": records, "cpu_pct": cpu, "rss_mb": meter.rss_mb,
            "drain_s": drained, "bot_answers": len(botapi.sent)}


def account(sent: Sent, seen: dict, records: dict) -> dict:
    """Every outside id as exactly one record; the latencies."""
    calls_n = Counter(records["calls"])
    messages = Counter((ch, ext) for ch, ext, _ in records["messages"])
    inquiry_of = {(ch, ext): inq for ch, ext, inq in records["messages"]}
    quarantined = records["quarantined"]
    missing = {
        "calls": sum(calls_n[k] != 1 for k in sent.calls),
        "forms": sum(messages[("webform", k)] != 1 for k in sent.forms),
        "mails": sum(messages[("email", k)] + messages[("email", k.strip("<>"))] != 1 for k in sent.mails)
        - min(quarantined, len(sent.mails)),
        "updates": sum(messages[("telegram", k)] != 1 for k in sent.updates),
    }
    popups = seen["popups"]
    popup_ms = [(popups[k] - t) * 1000 for k, t in sent.calls.items() if k in popups]
    routed = seen["routed"]
    mail_ms = []
    for k, t in sent.mails.items():
        inquiry = inquiry_of.get(("email", k), inquiry_of.get(("email", k.strip("<>"))))
        if inquiry is not None and str(inquiry) in routed:
            mail_ms.append((routed[str(inquiry)] - t) * 1000)
    return {"missing": missing, "popup_ms": popup_ms, "mail_ms": mail_ms,
            "popups_missing": len(sent.calls) - len(popup_ms), "mails_unseen": len(sent.mails) - len(mail_ms)}


async def run(args: argparse.Namespace) -> dict:
    seconds = args.seconds or (20.0 if args.quick else 60.0)
    agents, clients = args.agents, args.clients
    rates = {kind: rate * args.load for kind, rate in RATES.items()}
    (ROOT / "var" / "bench").mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="bench-day-", dir=ROOT / "var" / "bench"))
    try:
        peer: list[float] = []
        if args.peer_seconds > 0:
            say(f"peer: bare relay, {agents} sockets")
            peer = await peer_run(workdir, agents, clients, min(seconds, args.peer_seconds), rates)
        say("the world: " + ("PostgreSQL" if args.database else "SQLite") + f", {clients:,} clients, {agents} agents")
        if args.database:
            async with postgres_world(args.database, clients, agents) as (url, generated):
                hub = await hub_run(url, workdir, agents, clients, seconds, rates, args.profile)
        else:
            url, generated = await sqlite_world(clients, agents, workdir)
            hub = await hub_run(url, workdir, agents, clients, seconds, rates, args.profile)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    sent: Sent = hub["sent"]
    acc = account(sent, hub["seen"], hub["records"])
    lost = sum(acc["missing"].values())
    result = {
        "bench": "day", "database": "postgresql" if args.database else "sqlite", "seconds": seconds,
        "rates_per_s": rates,
        "agents": agents, "sockets": hub["seen"]["sockets"], "clients": clients,
        "calls": len(sent.calls), "forms": len(sent.forms), "emails": len(sent.mails), "telegram": len(sent.updates),
        "popup_p50_ms": _ms(acc["popup_ms"], 50), "popup_p99_ms": _ms(acc["popup_ms"], 99),
        "popups": len(acc["popup_ms"]), "popups_missing": acc["popups_missing"],
        "form_p50_ms": _ms(sent.form_ms, 50), "form_p99_ms": _ms(sent.form_ms, 99),
        "email_to_screen_p50_ms": _ms(acc["mail_ms"], 50), "email_to_screen_p99_ms": _ms(acc["mail_ms"], 99),
        "emails_on_screen": len(acc["mail_ms"]),
        "lost": lost, "lost_by_kind": acc["missing"], "forms_refused": len(sent.form_failed),
        "form_retries_by_status": sent.form_retries,
        "telegram_refused": len(sent.update_failed), "telegram_answers": hub["bot_answers"],
        "rss_mb": round(hub["rss_mb"], 1), "cpu_pct": round(hub["cpu_pct"], 1), "drain_s": round(hub["drain_s"], 1),
        "frames_to_agents": hub["seen"]["frames"], "routed_on_screen": len(hub["seen"]["routed"]),
        "peer": "bare AMI → WebSocket relay, same sockets and calls", "peer_popup_p50_ms": _ms(peer, 50),
        "peer_popup_p99_ms": _ms(peer, 99), "peer_popups": len(peer),
        "generated_s": round(generated, 1), "targets": TARGETS,
    }
    result["targets_met"] = all(result[k] is not None and result[k] <= v for k, v in TARGETS.items())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 s of load instead of 60 s")
    parser.add_argument("--database", help="postgresql://USER@HOST:PORT/DB: run on PostgreSQL (a fresh database "
                        "on that server, dropped after); default: SQLite")
    parser.add_argument("--agents", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, help="the load's length (overrides --quick)")
    parser.add_argument("--load", type=float, default=1.0, help="a factor on every rate (a small world: < 1)")
    parser.add_argument("--peer-seconds", type=float, default=20.0,
                        help="the peer's length (at most --seconds; 0: no peer)")
    parser.add_argument("--profile", metavar="FILE", help="py-spy the hub over the load into FILE (collapsed stacks)")
    parser.add_argument("--keep", action="store_true", help="keep the run's folder (the hub's log) under var/bench")
    args = parser.parse_args()
    gc.disable()  # nor may a collection here stall the fake PBX between a frame's time stamp and its write
    print(json.dumps(asyncio.run(run(args)), ensure_ascii=False))


if __name__ == "__main__":
    main()
