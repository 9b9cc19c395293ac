"""Pop-up latency: AMI ``AgentCalled`` frame leaving the PBX → pop-up frame arriving at the agent's socket.

    python -m bench.popup_latency [--quick]

Three processes on loopback, as in production:
- the hub (``main.py run``) on a SQLite database holding 1,000,000 clients (the crm_lookup database,
  copied) and 1,000 agents with extensions 2000–2999;
- this process: the fake PBX, generating 50 new calls per second from the real answered.txt (each call
  its own ids, a random agent's extension, a random client's number and name) at the trace's own pace;
- a separate process holding 1,000 WebSocket connections, one per agent, logged in.

The time an ``AgentCalled`` frame is written by the PBX and the time the matching pop-up (the ``call_id``
is the call's Linkedid) arrives at the agent's socket are both read from the same system-wide monotonic
clock. The hub also stores every finished call (call row, inquiry, timeline) as it would in production, in the same run.
Reported: p50/p99 in ms, pop-ups received / calls made, the same for the ``popup_details`` frame that
follows a known caller's card (owner, last calls, open inquiries), and the hub's RSS. Targets: p99 ≤ 10 ms,
RSS ≤ 150 MB. There is no outside peer for this figure; the transport floor (a bare aiohttp WebSocket
push to the same 1,000 sockets, same machine) is measured in the same run and given as ``peer``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import json
import os
import random
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from aiohttp import web

from bench import rawws
from bench.common import ROOT, emit, free_port, hold_open, percentile, start_hub
from bench.crm_lookup import CLIENTS, DB, phone_of, prepare_database
from connectors.asterisk.fake_pbx import FakePbx, shift_ids
from connectors.asterisk.traces import read_trace
from web.sessions import COOKIE

AGENTS = 1_000
FIRST_EXTENSION = 2000
RATE = 50  # new calls per second
SETTLE_MAX_S = 30.0



def prepare(workdir: Path) -> tuple[Path, list[str]]:
    """The 1,000,000-client database with 1,000 agents and a web session for each (tokens returned)."""
    prepare_database()
    path = workdir / "popup.sqlite3"
    shutil.copyfile(DB, path)
    tokens = [secrets.token_urlsafe(32) for _ in range(AGENTS)]
    now = "2026-01-01 00:00:00.000000"
    later = "2099-01-01 00:00:00.000000"
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO divisions (id, name, created_at) VALUES (1, 'Москва', ?)", (now,))
        conn.execute("INSERT INTO departments (id, name, division_id, created_at) VALUES (1, 'Колл-центр', 1, ?)",
                     (now,))
        conn.executemany(
            "INSERT INTO users (id, login, password_hash, full_name, role, department_id, extension, status, "
            "status_since, skills, locale, is_active, created_at) VALUES (?, ?, 'x', ?, 'agent', 1, ?, 'available', ?, "
            "'[]', 'ru', 1, ?)",
            ((i + 1, f"agent{i}", f"Агент {i}", str(FIRST_EXTENSION + i), now, now) for i in range(AGENTS)))
        conn.executemany(
            "INSERT INTO web_sessions (id_hash, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
            ((hashlib.sha256(t.encode()).hexdigest(), i + 1, secrets.token_urlsafe(16), now, later)
             for i, t in enumerate(tokens)))
    return path, tokens


def call_frames(template: list[tuple[float, bytes]], n: int, ext: str, client: int) -> list[tuple[float, bytes]]:
    phone, name = phone_of(client), f"Клиент {client}"
    out = []
    for t, data in template:
        data = data.replace(b"Local/101@agents", f"Local/{ext}@agents".encode())
        data = data.replace(b"+79161234567", phone.encode()).replace("Иван Петров".encode(), name.encode())
        out.append((t, shift_ids(data, 1_000_000 + n * 10)))
    return out


async def generate_calls(pbx: FakePbx, seconds: float, sent: dict[str, float]) -> int:
    template = [(t, data) for t, d, data in read_trace("answered.txt") if d == "<<<" and data.startswith(b"Event:")]
    t0 = template[0][0]
    template = [(t - t0, data) for t, data in template]
    rnd = random.Random(7)
    tasks = []

    async def one_call(frames: list[tuple[float, bytes]]) -> None:
        began = time.monotonic()
        for t, data in frames:
            delay = t - (time.monotonic() - began)
            if delay > 0:
                await asyncio.sleep(delay)
            if data.startswith(b"Event: AgentCalled\r\n"):
                linkedid = data.split(b"\r\nLinkedid: ", 1)[1].split(b"\r\n", 1)[0].decode()
                sent[linkedid] = time.monotonic()
            pbx.broadcast(data)

    began = time.monotonic()
    calls = int(seconds * RATE)
    for n in range(calls):
        delay = n / RATE - (time.monotonic() - began)
        if delay > 0:
            await asyncio.sleep(delay)
        ext = str(FIRST_EXTENSION + rnd.randrange(AGENTS))
        tasks.append(asyncio.create_task(one_call(call_frames(template, n, ext, rnd.randint(1, CLIENTS)))))
    await asyncio.gather(*tasks)
    return calls


# --- the sockets process --------------------------------------------------------------------------
async def hold_sockets(base: str, tokens: list[str], seconds: float, kinds: tuple[str, ...]) -> dict:
    """Bare WebSocket protocols (``bench/rawws.py``): a message is only stamped on arrival and kept; the
    messages are read after the run. A thousand aiohttp client sessions cost this process a task wake-up and
    a JSON parse per frame, and their garbage collections stalled reads: that was measured as the hub's
    latency. Real agents' browsers are on their own machines."""
    received: list[tuple[float, bytes]] = []
    ready = 0

    def on_message(data: bytes, t: float) -> None:
        received.append((t, data))

    def opened() -> None:
        nonlocal ready
        ready += 1

    async def one(token: str) -> None:
        await rawws.hold_logged_in(base, f"{COOKIE}={token}", on_message, opened)

    await hold_open([one(t) for t in tokens], lambda: ready, seconds)
    arrived: dict[str, float] = {}
    details: dict[str, float] = {}
    for t, data in received:
        frame = json.loads(data)
        if frame.get("type") in kinds and frame.get("call_id") and frame.get("title") in ("Входящий звонок", "bench"):
            arrived.setdefault(frame["call_id"], t)
        elif frame.get("type") == "popup_details" and frame.get("call_id"):
            details.setdefault(frame["call_id"], t)
    return {"arrived": arrived, "details": details, "sockets": ready}


def sockets_worker(args: argparse.Namespace) -> None:
    tokens = Path(args.tokens).read_text().split()
    gc.disable()  # a collection in the crowd would stall its reads and be counted as the hub's latency
    result = asyncio.run(hold_sockets(args.base, tokens, args.seconds, tuple(args.kinds.split(","))))
    Path(args.out).write_text(json.dumps(result))


def start_sockets(
    base: str, tokens: list[str], workdir: Path, seconds: float, kinds: str,
) -> tuple[subprocess.Popen, Path]:
    tokens_file, out = workdir / "tokens.txt", workdir / f"arrived-{kinds}.json"
    tokens_file.write_text("\n".join(tokens))
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.popup_latency", "--sockets-worker", "--base", base, "--tokens",
         str(tokens_file), "--seconds", str(seconds), "--out", str(out), "--kinds", kinds],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # type: ignore[union-attr]
    if line.strip() != "ready":
        raise RuntimeError(f"sockets process did not get ready: {line!r}")
    return proc, out


# --- the transport floor: a bare aiohttp WebSocket push -------------------------------------------
async def transport_floor(workdir: Path, tokens: list[str], pushes: int) -> list[float]:
    by_token: dict[str, web.WebSocketResponse] = {}

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        by_token[request.cookies.get(COOKIE, "")] = ws
        async for _ in ws:
            pass
        return ws

    app = web.Application()
    app.router.add_get("/ws", ws_handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    base = f"http://127.0.0.1:{port}"
    proc, out = await asyncio.to_thread(start_sockets, base, tokens, workdir, pushes / RATE + 3, "popup")
    rnd = random.Random(3)
    sent: dict[str, float] = {}
    began = time.monotonic()
    for n in range(pushes):
        delay = n / RATE - (time.monotonic() - began)
        if delay > 0:
            await asyncio.sleep(delay)
        ws = by_token[tokens[rnd.randrange(len(tokens))]]
        call_id = f"floor-{n}"
        sent[call_id] = time.monotonic()
        await ws.send_str(json.dumps({"type": "popup", "call_id": call_id, "title": "bench", "name": "x"}))
    await asyncio.to_thread(proc.wait)
    await runner.cleanup()
    arrived = json.loads(out.read_text())["arrived"]
    return [(arrived[k] - sent[k]) * 1000 for k in sent if k in arrived]



async def settle(hub: psutil.Process) -> float:
    """Wait until the hub is done greeting the 1,000 sockets that just connected (each socket's session,
    its first frames) — agents log in over a morning, not in the second the calls start. Returns the wait."""
    began = time.monotonic()
    hub.cpu_percent(None)
    while time.monotonic() - began < SETTLE_MAX_S:
        await asyncio.sleep(0.5)
        if hub.cpu_percent(None) < 10:
            break
    return time.monotonic() - began


async def run(quick: bool, profile: str | None = None) -> dict:
    seconds = 10.0 if quick else 60.0
    workdir = Path(tempfile.mkdtemp(prefix="bench-popup-", dir=ROOT / "var" / "bench"))
    db_path, tokens = await asyncio.to_thread(prepare, workdir)
    floor = await transport_floor(workdir, tokens, int(seconds * RATE / 2))
    secret = secrets.token_urlsafe(12)
    pbx = FakePbx(secret=secret)
    await pbx.start()
    port = free_port()
    env = {**os.environ, "HUB_DATABASE__URL": f"sqlite+aiosqlite:///{db_path}", "HUB_WEB__PORT": str(port),
           "HUB_WEB__HOST": "127.0.0.1", "HUB_ASTERISK__ENABLED": "true", "HUB_ASTERISK__PORT": str(pbx.port),
           "HUB_ASTERISK__SECRET": secret, "HUB_STORAGE__VAR_DIR": str(workdir / "var"),
           "HUB_WEB__WS_QUEUE_SIZE": "256"}
    hub = await asyncio.to_thread(start_hub, env, workdir / "hub.log")
    try:
        async with asyncio.timeout(120):
            while pbx.listeners == 0:  # noqa: ASYNC110 - the hub logs in when it is up
                if hub.poll() is not None:
                    raise RuntimeError(f"hub exited: see {workdir / 'hub.log'}")
                await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # the hub's state rebuild after login
        base = f"http://127.0.0.1:{port}"
        proc, out = await asyncio.to_thread(start_sockets, base, tokens, workdir, seconds + 6 + SETTLE_MAX_S,
                                            "popup")
        settled = await settle(psutil.Process(hub.pid))
        sent: dict[str, float] = {}
        spy = None
        if profile:  # py-spy (PyPI) samples the hub over the calls: where its time goes
            spy = await asyncio.to_thread(
                subprocess.Popen, ["py-spy", "record", "-p", str(hub.pid), "-d", str(int(seconds)), "-r", "100",
                                   "-f", "raw", "-o", profile], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        calls = await generate_calls(pbx, seconds, sent)
        if spy is not None:
            await asyncio.to_thread(spy.wait)
        rss = psutil.Process(hub.pid).memory_info().rss / (1024 * 1024)
        await asyncio.to_thread(proc.wait)
        result = json.loads(out.read_text())
    finally:
        hub.terminate()
        await asyncio.to_thread(hub.wait)
        await pbx.stop()
    arrived = result["arrived"]
    latencies = [(arrived[k] - sent[k]) * 1000 for k in sent if k in arrived]
    details = [(result["details"][k] - sent[k]) * 1000 for k in sent if k in result["details"]]
    print(f"{calls} calls at {RATE}/s to {AGENTS} agents' sockets ({result['sockets']} open), "
          f"{CLIENTS:,} clients: {len(latencies)} pop-ups, p50 {percentile(latencies, 50):.2f} ms, "
          f"p99 {percentile(latencies, 99):.2f} ms; their details (owner, last calls, open inquiries) "
          f"{len(details)}, p50 {percentile(details, 50):.2f} ms, p99 {percentile(details, 99):.2f} ms; "
          f"hub RSS {rss:.1f} MB; bare WebSocket push p50 "
          f"{percentile(floor, 50):.2f} ms, p99 {percentile(floor, 99):.2f} ms")
    shutil.rmtree(workdir, ignore_errors=True)
    return {
        "bench": "popup_latency", "unit": "ms", "p50_ms": round(percentile(latencies, 50), 3),
        "p99_ms": round(percentile(latencies, 99), 3), "max_ms": round(max(latencies), 3) if latencies else None,
        "details_p50_ms": round(percentile(details, 50), 3), "details_p99_ms": round(percentile(details, 99), 3),
        "calls": calls, "popups": len(latencies), "details": len(details), "sockets": result["sockets"],
        "rss_mb": round(rss, 1),
        "clients": CLIENTS, "rate_per_s": RATE, "settle_s": round(settled, 1),
        "peer": "bare aiohttp WebSocket push, same sockets process", "peer_p50_ms": round(percentile(floor, 50), 3),
        "peer_p99_ms": round(percentile(floor, 99), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s of calls instead of 60 s")
    parser.add_argument("--sockets-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    parser.add_argument("--tokens", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--kinds", default="popup", help=argparse.SUPPRESS)
    parser.add_argument("--profile", metavar="FILE", help="py-spy the hub over the calls into FILE (collapsed stacks)")
    args = parser.parse_args()
    if args.sockets_worker:
        sockets_worker(args)
        return
    gc.disable()  # nor may one stall the fake PBX between a frame's time stamp and its write
    emit(asyncio.run(run(args.quick, args.profile)))


if __name__ == "__main__":
    main()
