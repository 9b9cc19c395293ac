"""Wallboard latency: AMI frame leaving the PBX → the wallboard update arriving at 200 supervisors' sockets.

    python -m bench.wallboard [--quick]

Three processes on loopback, as in production: the hub (``main.py run``, SQLite, 3 agents, 200 supervisors
— 180 department heads of one department and 20 administrators, so two audiences), this process with the
fake PBX replaying burst20.txt at 10× speed, and a process holding the 200 supervisors' WebSockets (bare
WebSocket protocols, ``bench/rawws.py``, each distinct frame parsed once: the crowd stands for 200 browsers
on their own machines and must not be the bottleneck it measures). The trace is played once more before
the measured rounds, as a warm-up that is not counted (a new process's first calls compile its statements).

What counts as "the update arriving": for every ``QueueCallerAbandon`` and ``AgentConnect`` the frame
whose abandoned/answered count of that queue reaches the event's number; for every ``QueueCallerJoin`` and
``QueueCallerLeave``/``Abandon`` the frame in which that caller appears in / disappears from the queue's
waiting list (a caller who joins and leaves within one coalescing window never shows: no sample). The send
time is the fake PBX's ``time.monotonic()`` as it writes the frame, the arrival time the sockets process's
(one system-wide clock). The hub's CPU share is its CPU time over the replay's wall time (100 = one core).

Peer, measured in the same run over the same 200 sockets: a bare relay — one AMI TCP session to the same
fake PBX replaying the same trace, frames split, the relevant frames of each read sent on at once as one small JSON to
every socket — the AMI frame → socket floor without the wallboard's logic, the hub, its database or its coalescing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import psutil
from aiohttp import web

from bench import rawws
from bench.common import ROOT, emit, free_port, hold_open, percentile, start_hub
from config.settings import DatabaseSettings
from connectors.asterisk.fake_pbx import FakePbx, parse_frame
from connectors.asterisk.protocol import AmiFrameSplitter
from crm_core.db import create_engine
from crm_core.migrate import migrate
from web.sessions import COOKIE

SUPERVISORS = 200
ADMINS = 20
SPEED = 10.0
TRACE = "burst20.txt"
PAUSE_S = 5.0  # between rounds, in the trace's time (0.5 s at 10×)
WATCHED = ("QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon", "AgentConnect")


async def prepare(workdir: Path) -> tuple[Path, list[str]]:
    """A migrated SQLite database with 3 agents and 200 supervisors, each with a web session (tokens returned)."""
    path = workdir / "wallboard.sqlite3"
    engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{path}"))
    await migrate(engine)
    await engine.dispose()
    tokens = [secrets.token_urlsafe(32) for _ in range(SUPERVISORS)]
    now, later = "2026-01-01 00:00:00.000000", "2099-01-01 00:00:00.000000"
    users = [(1, "anna", "Анна Смирнова", "agent", "101"), (2, "oleg", "Олег Иванов", "agent", "102"),
             (3, "maria", "Мария Козлова", "agent", "103")]
    users += [(10 + i, f"sup{i}", f"Руководитель {i}", "admin" if i < ADMINS else "dept_head", None)
              for i in range(SUPERVISORS)]
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO divisions (id, name, created_at) VALUES (1, 'Москва', ?)", (now,))
        conn.execute("INSERT INTO departments (id, name, division_id, created_at) VALUES (1, 'Колл-центр', 1, ?)",
                     (now,))
        conn.executemany(
            "INSERT INTO users (id, login, password_hash, full_name, role, department_id, extension, status, "
            "status_since, skills, locale, is_active, created_at) VALUES (?, ?, 'x', ?, ?, 1, ?, 'available', ?, "
            "'[]', 'ru', 1, ?)", ((i, login, name, role, ext, now, now) for i, login, name, role, ext in users))
        conn.executemany(
            "INSERT INTO web_sessions (id_hash, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
            ((hashlib.sha256(t.encode()).hexdigest(), 10 + i, secrets.token_urlsafe(16), now, later)
             for i, t in enumerate(tokens)))
    return path, tokens


class Keys:
    """Names each observable change the same way on both sides: ("abandoned", queue, k), ("in", queue,
    linkedid, 1), ...: the k-th of its kind (a count goes on rising over the rounds; each round's calls have
    their own Linkedids)."""

    def __init__(self) -> None:
        self.seen: dict[tuple, int] = defaultdict(int)

    def next(self, *kind: str) -> tuple:
        self.seen[kind] += 1
        return (*kind, self.seen[kind])


def sent_keys(log: list[tuple[float, bytes]]) -> dict[tuple, float]:
    """The fake PBX's frames (monotonic send time) as keys, in the order written."""
    keys, out = Keys(), {}
    waiting: dict[str, set[str]] = defaultdict(set)
    for t, data in log:
        frame = parse_frame(data)
        name, queue = frame.get("Event"), frame.get("Queue", "")
        caller = frame.get("Linkedid") or frame.get("Uniqueid", "")
        if name == "QueueCallerJoin":
            waiting[queue].add(caller)
            out[keys.next("in", queue, caller)] = t
        elif name in ("QueueCallerLeave", "QueueCallerAbandon") and caller in waiting[queue]:
            waiting[queue].discard(caller)
            out[keys.next("out", queue, caller)] = t
        if name == "QueueCallerAbandon":
            out[keys.next("abandoned", queue)] = t
        elif name == "AgentConnect":
            out[keys.next("answered", queue)] = t
    return out


class Observer:
    """One socket's view: wallboard frames (or the peer's bare events) turned into keys with arrival times."""

    def __init__(self) -> None:
        self.keys = Keys()
        self.arrived: dict[tuple, float] = {}
        self.waiting: dict[str, set[str]] = defaultdict(set)
        self.counts: dict[tuple[str, str], int] = defaultdict(int)

    def wallboard(self, frame: dict, t: float) -> None:
        for queue, q in (frame.get("queues") or {}).items():
            now = {w["id"] for w in q["waiting"]}
            for caller in sorted(now - self.waiting[queue]):
                self.arrived[self.keys.next("in", queue, caller)] = t
            for caller in sorted(self.waiting[queue] - now):
                self.arrived[self.keys.next("out", queue, caller)] = t
            self.waiting[queue] = now
            for kind in ("abandoned", "answered"):
                while self.counts[(kind, queue)] < q[kind]:
                    self.counts[(kind, queue)] += 1
                    self.arrived[(kind, queue, self.counts[(kind, queue)])] = t

    def peer(self, frame: dict, t: float) -> None:
        for event in frame["events"]:
            self._peer_event(event, t)

    def _peer_event(self, frame: dict, t: float) -> None:
        name, queue, caller = frame["event"], frame["queue"], frame["caller"]
        if name == "QueueCallerJoin":
            self.waiting[queue].add(caller)
            self.arrived[self.keys.next("in", queue, caller)] = t
        elif name in ("QueueCallerLeave", "QueueCallerAbandon") and caller in self.waiting[queue]:
            self.waiting[queue].discard(caller)
            self.arrived[self.keys.next("out", queue, caller)] = t
        if name == "QueueCallerAbandon":
            self.arrived[self.keys.next("abandoned", queue)] = t
        elif name == "AgentConnect":
            self.arrived[self.keys.next("answered", queue)] = t


# --- the sockets process --------------------------------------------------------------------------
async def hold_sockets(base: str, tokens: list[str], seconds: float) -> dict:
    """Hold the sockets; per message only its arrival time and which distinct frame it was are noted. The
    frames are read into keys after the run, so what a socket costs this process while frames arrive is a
    dictionary lookup: a crowd busy reading frames would delay the next socket's read and be measured as
    the hub's latency."""
    distinct: dict[bytes, int] = {}
    received: list[list[tuple[float, int]]] = [[] for _ in tokens]
    ready = 0

    def opened() -> None:
        nonlocal ready
        ready += 1

    async def one(token: str, got: list[tuple[float, int]]) -> None:
        def on_message(data: bytes, t: float) -> None:
            index = distinct.get(data)
            if index is None:
                index = distinct[data] = len(distinct)
            got.append((t, index))

        await rawws.hold_logged_in(base, f"{COOKIE}={token}", on_message, opened)

    await hold_open([one(t, g) for t, g in zip(tokens, received, strict=True)], lambda: ready, seconds)
    frames = [json.loads(data) for data in distinct]
    observers, count = [], 0
    for got in received:
        seen = Observer()
        for t, index in got:
            frame = frames[index]
            if frame.get("type") == "wallboard":
                count += 1
                seen.wallboard(frame, t)
            elif frame.get("type") == "peer":
                count += 1
                seen.peer(frame, t)
        observers.append(seen)
    return {"sockets": ready, "frames": count,
            "arrived": [[[list(k), v] for k, v in o.arrived.items()] for o in observers]}


def sockets_worker(args: argparse.Namespace) -> None:
    tokens = Path(args.tokens).read_text().split()
    gc.disable()  # a collection over the growing arrival lists would stall reads and be counted as the hub's
    Path(args.out).write_text(json.dumps(asyncio.run(hold_sockets(args.base, tokens, args.seconds))))


def start_sockets(
    base: str, tokens: list[str], workdir: Path, seconds: float, name: str,
) -> tuple[subprocess.Popen, Path]:
    tokens_file, out = workdir / "tokens.txt", workdir / f"arrived-{name}.json"
    tokens_file.write_text("\n".join(tokens))
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.wallboard", "--sockets-worker", "--base", base, "--tokens", str(tokens_file),
         "--seconds", str(seconds), "--out", str(out)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # type: ignore[union-attr]
    if line.strip() != "ready":
        raise RuntimeError(f"sockets process did not get ready: {line!r}")
    return proc, out


def warm_up_end(sent: dict[tuple, float]) -> float:
    """The send time that ends the first round (the warm-up): halfway through the pause after it."""
    return min(sent.values()) + replay_seconds(1) + PAUSE_S / SPEED / 2


def latencies(sent: dict[tuple, float], result: dict) -> list[float]:
    """Per arrival, ms from the AMI frame to the socket; the warm-up round is not counted."""
    out = []
    slow: dict[str, list[float]] = defaultdict(list)
    warm = warm_up_end(sent)
    for per_socket in result["arrived"]:
        for key, t in per_socket:
            start = sent.get(tuple(key))
            if start is not None and start > warm:
                out.append((t - start) * 1000)
                slow[key[0]].append(out[-1])
    if os.environ.get("BENCH_DETAIL"):
        first = min(sent.values())
        late = sorted(((t - sent[tuple(k)]) * 1000, sent[tuple(k)] - first, k) for per in result["arrived"]
                      for k, t in per if tuple(k) in sent and sent[tuple(k)] > warm)[-5:]
        print({k: round(percentile(v, 99), 1) for k, v in slow.items()}, late, file=sys.stderr)
    return out


def replay_seconds(rounds: int) -> float:
    from connectors.asterisk.traces import read_trace

    times = [t for t, d, data in read_trace(TRACE) if d == "<<<" and data.startswith(b"Event:")]
    return rounds * (times[-1] - times[0]) / SPEED


async def play(pbx: FakePbx, rounds: int) -> float:
    """Replay the trace ``rounds`` times (new ids each round); returns the wall time it took."""
    began = time.monotonic()
    pbx.keep_sent_log = True
    pbx.play()
    await pbx.replay_done.wait()
    return time.monotonic() - began


# --- the peer: a bare AMI → WebSocket relay ---------------------------------------------------------
async def bare_relay(workdir: Path, tokens: list[str], rounds: int) -> tuple[list[float], float]:
    sockets: list[web.WebSocketResponse] = []

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sockets.append(ws)
        async for _ in ws:
            pass
        return ws

    app = web.Application()
    app.router.add_get("/ws", ws_handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    secret = secrets.token_urlsafe(8)
    pbx = FakePbx(traces=[TRACE] * rounds, secret=secret, speed=SPEED, autoplay=False, pause_s=PAUSE_S)
    await pbx.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", pbx.port)
    writer.write(f"Action: Login\r\nUsername: hub\r\nSecret: {secret}\r\n\r\n".encode())
    cpu = psutil.Process()

    async def relay() -> None:
        splitter = AmiFrameSplitter()
        while data := await reader.read(65536):
            events = [{"event": frame["Event"], "queue": frame.get("Queue", ""),
                       "caller": frame.get("Linkedid") or frame.get("Uniqueid", "")}
                      for frame in splitter.feed(data) if frame.get("Event") in WATCHED]
            if events:  # what one read brought goes out as one message, encoded once, to every socket
                text = json.dumps({"type": "peer", "events": events})
                for ws in sockets:
                    await ws.send_str(text)

    relaying = asyncio.create_task(relay())
    proc, out = await asyncio.to_thread(start_sockets, f"http://127.0.0.1:{port}", tokens, workdir,
                                        replay_seconds(rounds) + PAUSE_S * rounds + 2, "peer")
    before = cpu.cpu_times()
    wall = await play(pbx, rounds)
    after = cpu.cpu_times()
    await asyncio.to_thread(proc.wait)
    relaying.cancel()
    writer.close()
    await pbx.stop()
    await runner.cleanup()
    sent = sent_keys(pbx.sent_log)
    used = (after.user + after.system - before.user - before.system) / wall * 100
    return latencies(sent, json.loads(out.read_text())), used


# --- the hub -----------------------------------------------------------------------------------------
async def through_the_hub(workdir: Path, db_path: Path, tokens: list[str], rounds: int) -> dict:
    secret = secrets.token_urlsafe(12)
    pbx = FakePbx(traces=[TRACE] * rounds, secret=secret, speed=SPEED, autoplay=False, pause_s=PAUSE_S)
    await pbx.start()
    port = free_port()
    env = {**os.environ, "HUB_DATABASE__URL": f"sqlite+aiosqlite:///{db_path}", "HUB_WEB__PORT": str(port),
           "HUB_WEB__HOST": "127.0.0.1", "HUB_ASTERISK__ENABLED": "true", "HUB_ASTERISK__PORT": str(pbx.port),
           "HUB_ASTERISK__SECRET": secret, "HUB_STORAGE__VAR_DIR": str(workdir / "var")}
    hub = await asyncio.to_thread(start_hub, env, workdir / "hub.log")
    try:
        async with asyncio.timeout(120):
            while pbx.listeners == 0:  # noqa: ASYNC110 - the hub logs in when it is up
                if hub.poll() is not None:
                    raise RuntimeError(f"hub exited: see {workdir / 'hub.log'}")
                await asyncio.sleep(0.1)
        await asyncio.sleep(1.5)  # the state rebuild after login and the wallboard's first database reading
        proc, out = await asyncio.to_thread(start_sockets, f"http://127.0.0.1:{port}", tokens, workdir,
                                            replay_seconds(rounds) + PAUSE_S * rounds + 2, "hub")
        cpu = psutil.Process(hub.pid)
        before = cpu.cpu_times()
        wall = await play(pbx, rounds)
        after = cpu.cpu_times()
        rss = cpu.memory_info().rss / (1024 * 1024)
        await asyncio.to_thread(proc.wait)
        result = json.loads(out.read_text())
    finally:
        hub.terminate()
        await asyncio.to_thread(hub.wait)
        await pbx.stop()
    sent = sent_keys(pbx.sent_log)
    return {"latencies": latencies(sent, result), "cpu_pct": (after.user + after.system - before.user - before.system)
            / wall * 100, "rss_mb": rss, "sockets": result["sockets"], "frames": result["frames"],
            "changes": len(sent)}


async def run(quick: bool) -> dict:
    rounds = 1 + (1 if quick else 4)  # the first is a warm-up (a new process's first calls), not counted
    (ROOT / "var" / "bench").mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="bench-wallboard-", dir=ROOT / "var" / "bench"))
    db_path, tokens = await prepare(workdir)
    peer, peer_cpu = await bare_relay(workdir, tokens, rounds)
    hub = await through_the_hub(workdir, db_path, tokens, rounds)
    lat = hub["latencies"]
    p99, peer_p99 = percentile(lat, 99), percentile(peer, 99)
    print(f"{TRACE} ×{rounds - 1} (after a warm-up round) at {SPEED:g}× speed, {hub['sockets']} supervisors' "
          f"sockets: {hub['changes']} board changes, {len(lat)} arrivals over {hub['frames']} frames; "
          f"AMI frame → wallboard update p50 {percentile(lat, 50):.2f} ms, p99 {p99:.2f} ms; hub CPU "
          f"{hub['cpu_pct']:.1f}% of a core, RSS {hub['rss_mb']:.0f} MB. Bare AMI → socket relay (peer): "
          f"p50 {percentile(peer, 50):.2f} ms, p99 {peer_p99:.2f} ms, CPU {peer_cpu:.1f}%")
    shutil.rmtree(workdir, ignore_errors=True)
    return {
        "bench": "wallboard", "unit": "ms", "p50_ms": round(percentile(lat, 50), 3), "p99_ms": round(p99, 3),
        "max_ms": round(max(lat), 3) if lat else None, "cpu_pct": round(hub["cpu_pct"], 1),
        "rss_mb": round(hub["rss_mb"], 1), "sockets": hub["sockets"], "samples": len(lat), "rounds": rounds - 1,
        "warm_up_rounds": 1,
        "speed": SPEED, "target_p99_ms": 50,
        "peer": "bare AMI frame → WebSocket relay, same trace and sockets, no wallboard logic",
        "peer_p50_ms": round(percentile(peer, 50), 3), "peer_p99_ms": round(peer_p99, 3),
        "peer_cpu_pct": round(peer_cpu, 1), "p99_over_peer": round(p99 / peer_p99, 2) if peer_p99 else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one replay of the trace instead of four")
    parser.add_argument("--sockets-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    parser.add_argument("--tokens", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sockets_worker:
        sockets_worker(args)
        return
    gc.disable()  # nor may one stall the fake PBX between a frame's time stamp and its write
    emit(asyncio.run(run(args.quick)))


if __name__ == "__main__":
    main()
