"""The agents' screens of ``bench.day``: a separate process holding one bare WebSocket (``bench/rawws.py``)
per agent, logged in with the agent's session cookie; and the peer, a bare AMI → WebSocket relay.

The sockets process stamps each message on arrival and keeps only the frames the benchmark times (pop-ups,
their details, routing offers and assignments; the rest are counted); it parses them after the run, with
the garbage collector off, so its own work is not counted as the hub's latency. Its arrival times and the
load generator's send times are read from the same system-wide monotonic clock.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import secrets
import subprocess
import sys
from pathlib import Path

from aiohttp import web

from bench import rawws
from bench.common import ROOT, free_port
from connectors.asterisk.fake_pbx import FakePbx
from connectors.asterisk.protocol import AmiFrameSplitter
from web.sessions import COOKIE

LOGINS_AT_ONCE = 50  # agents log in over a morning: 2,000 handshakes at once exhausted PostgreSQL's pool (500s)
KEPT = (b'{"type": "popup', b'{"type": "routing.offer"', b'{"type": "routing.assigned"')


async def hold_sockets(base: str, tokens: list[str], seconds: float) -> dict:
    kept: list[tuple[float, bytes]] = []
    frames = 0
    ready = 0

    def on_message(data: bytes, t: float) -> None:
        nonlocal frames
        frames += 1
        if data.startswith(KEPT):
            kept.append((t, data))

    def opened() -> None:
        nonlocal ready
        ready += 1

    logging_in = asyncio.Semaphore(LOGINS_AT_ONCE)

    async def one(token: str) -> None:
        done = False

        def opened_one() -> None:
            nonlocal done
            done = True
            opened()
            logging_in.release()

        await logging_in.acquire()
        try:
            await rawws.hold_logged_in(base, f"{COOKIE}={token}", on_message, opened_one)
        finally:
            if not done:
                logging_in.release()

    tasks = [asyncio.create_task(one(t)) for t in tokens]
    async with asyncio.timeout(120):
        while ready < len(tasks):  # noqa: ASYNC110 - the sockets' own tasks count themselves in
            for task in tasks:
                if task.done():
                    task.result()  # a socket that failed to connect fails the benchmark, with its reason
            await asyncio.sleep(0.05)
    print("ready", flush=True)
    with contextlib.suppress(TimeoutError):  # until the parent says "stop" (or its time is up)
        async with asyncio.timeout(seconds):
            await asyncio.to_thread(sys.stdin.readline)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    popups: dict[str, float] = {}
    details: dict[str, float] = {}
    routed: dict[str, float] = {}
    for t, data in kept:
        frame = json.loads(data)
        kind = frame.get("type")
        if kind == "popup" and frame.get("call_id"):
            popups.setdefault(str(frame["call_id"]), t)
        elif kind == "popup_details" and frame.get("call_id"):
            details.setdefault(str(frame["call_id"]), t)
        elif kind in ("routing.offer", "routing.assigned") and frame.get("inquiry_id") is not None:
            routed.setdefault(str(frame["inquiry_id"]), t)
    return {"popups": popups, "details": details, "routed": routed, "frames": frames, "sockets": ready}


def worker(args: argparse.Namespace) -> None:
    tokens = Path(args.tokens).read_text().split()
    gc.disable()  # a collection in the crowd would stall its reads and be counted as the hub's latency
    result = asyncio.run(hold_sockets(args.base, tokens, args.seconds))
    Path(args.out).write_text(json.dumps(result))


class Screens:
    """The sockets process: ``start`` returns once every socket is open; ``finish`` closes them and returns
    what arrived."""

    def __init__(self, base: str, tokens: list[str], workdir: Path, seconds: float, name: str) -> None:
        self.tokens_file, self.out = workdir / f"tokens-{name}.txt", workdir / f"screens-{name}.json"
        self.tokens_file.write_text("\n".join(tokens))
        self.argv = [sys.executable, "-m", "bench.day_sockets", "--base", base, "--tokens", str(self.tokens_file),
                     "--seconds", str(seconds), "--out", str(self.out)]
        self.proc: subprocess.Popen | None = None

    async def start(self) -> None:
        proc: subprocess.Popen = await asyncio.to_thread(subprocess.Popen, self.argv, cwd=ROOT, stdin=subprocess.PIPE,
                                                         stdout=subprocess.PIPE, text=True)
        self.proc = proc
        line = await asyncio.to_thread(proc.stdout.readline)  # type: ignore[union-attr]
        if line.strip() != "ready":
            proc.kill()
            raise RuntimeError(f"the sockets process did not get ready: {line!r}")

    async def finish(self) -> dict:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write("stop\n")
        self.proc.stdin.flush()
        await asyncio.to_thread(self.proc.wait)
        return json.loads(self.out.read_text())

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class BareRelay:
    """The peer: one AMI session to its own fake PBX; each ``AgentCalled`` frame is sent on at once as a
    small JSON pop-up to the socket of the agent whose extension is called. No lookup, no database, no
    bus: the AMI frame → agent's socket floor on this machine, over the same sockets."""

    def __init__(self, extension_of_token: dict[str, str]) -> None:
        self.extension_of_token = extension_of_token
        self.sockets: dict[str, web.WebSocketResponse] = {}
        self.secret = secrets.token_urlsafe(8)
        self.pbx = FakePbx(secret=self.secret)
        self.port = free_port()
        self._runner: web.AppRunner | None = None
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        extension = self.extension_of_token.get(request.cookies.get(COOKIE, ""), "")
        self.sockets[extension] = ws
        async for _ in ws:
            pass
        return ws

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/ws", self._ws)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        await self.pbx.start()
        reader, self._writer = await asyncio.open_connection("127.0.0.1", self.pbx.port)
        self._writer.write(f"Action: Login\r\nUsername: hub\r\nSecret: {self.secret}\r\n\r\n".encode())
        self._task = asyncio.create_task(self._relay(reader))

    async def _relay(self, reader: asyncio.StreamReader) -> None:
        splitter = AmiFrameSplitter()
        while data := await reader.read(65536):
            for frame in splitter.feed(data):
                if frame.get("Event") != "AgentCalled":
                    continue
                extension = frame.get("Interface", "").removeprefix("Local/").split("@", 1)[0]
                ws = self.sockets.get(extension)
                if ws is not None:
                    await ws.send_str(json.dumps({"type": "popup", "call_id": frame.get("Linkedid", ""),
                                                  "title": "bench", "name": frame.get("CallerIDName", "")}))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._writer is not None:
            self._writer.close()
        await self.pbx.stop()
        if self._runner is not None:
            await self._runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description="bench.day's sockets process")
    parser.add_argument("--base", required=True)
    parser.add_argument("--tokens", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--out", required=True)
    worker(parser.parse_args())


if __name__ == "__main__":
    main()
