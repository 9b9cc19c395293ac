"""A fake Asterisk for tests: an asyncio TCP server speaking AMI and replaying a captured trace."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from pathlib import Path

from connectors.asterisk.protocol import AmiFrameSplitter
from connectors.asterisk.traces import read_trace

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def encode_frame(headers: dict[str, str]) -> bytes:
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items()) + b"\r\n"


class FakePbx:
    """Accepts AMI clients on 127.0.0.1; after a good Login replays the trace's events at ``speed``x."""

    def __init__(
        self, trace: str | Path | None = None, *, secret: str, username: str = "hub", speed: float = 1.0
    ) -> None:
        self.username = username
        self.secret = secret
        self.speed = speed
        self.actions: Counter[str] = Counter()
        self.replay_done = asyncio.Event()
        self._replay = self._events_of(trace) if trace else []
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @staticmethod
    def _events_of(trace: str | Path) -> list[tuple[float, bytes]]:
        entries = read_trace(trace)
        return [(t, data) for t, direction, data in entries if direction == "<<<" and data.startswith(b"Event:")]

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FakePbx:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        splitter = AmiFrameSplitter()
        writer.write(BANNER)
        try:
            while data := await reader.read(65536):
                for frame in splitter.feed(data):
                    if not await self._answer(frame, writer):
                        return
                await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, frame: dict[str, str], writer: asyncio.StreamWriter) -> bool:
        action = frame.get("Action", "")
        self.actions[action] += 1
        reply = {"Response": "Success"}
        if "ActionID" in frame:
            reply["ActionID"] = frame["ActionID"]
        if action.lower() == "login":
            if frame.get("Username") != self.username or frame.get("Secret") != self.secret:
                # As badlogin.txt: Error / Authentication failed, then Asterisk closes the connection.
                reply.update(Response="Error", Message="Authentication failed")
                writer.write(encode_frame(reply))
                await writer.drain()
                return False
            writer.write(encode_frame({**reply, "Message": "Authentication accepted"}))
            task = asyncio.create_task(self._play(writer))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif action.lower() == "ping":
            writer.write(encode_frame({**reply, "Ping": "Pong", "Timestamp": f"{time.time():.6f}"}))
        elif action.lower() == "logoff":
            writer.write(encode_frame({"Response": "Goodbye", **reply, "Message": "Thanks for all the fish."}))
            return False
        else:
            writer.write(encode_frame({**reply, "Message": f"{action} accepted by fake PBX"}))
        return True

    async def _play(self, writer: asyncio.StreamWriter) -> None:
        start = self._replay[0][0] if self._replay else 0.0
        loop = asyncio.get_running_loop()
        began = loop.time()
        for t, data in self._replay:
            delay = (t - start) / self.speed - (loop.time() - began)
            if delay > 0:
                await asyncio.sleep(delay)
            if writer.is_closing():
                return
            writer.write(data)
        await writer.drain()
        self.replay_done.set()
