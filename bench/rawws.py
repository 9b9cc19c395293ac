"""A bare WebSocket client for the benchmarks' socket crowds: an asyncio Protocol that parses frames as they
arrive and hands each text message, with its arrival time, to a callback.

Two hundred aiohttp client sockets in one Python process cost the measuring process more than the hub
spends sending to them (a task wake-up, a reader and a message object per frame per socket), so the
latency measured was the crowd's own queue. Here a message costs a header read and a slice, and the time
is taken when the bytes arrive. Real supervisors are browsers on their own machines.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

OnMessage = Callable[[bytes, float], None]


class RawWebSocket(asyncio.Protocol):
    def __init__(self, on_message: OnMessage) -> None:
        loop = asyncio.get_running_loop()
        self.on_message = on_message
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._parts: list[bytes] = []
        self._handshaken = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed before the handshake: {exc!r}"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        t = time.monotonic()
        self._buf += data
        if not self._handshaken:
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self._buf[:end])
            del self._buf[:end + 4]
            if not head.startswith(b"HTTP/1.1 101"):
                self.opened.set_exception(ConnectionError(head.split(b"\r\n", 1)[0].decode(errors="replace")))
                assert self.transport is not None
                self.transport.close()
                return
            self._handshaken = True
            self.opened.set_result(None)
        self._frames(t)

    def _frames(self, t: float) -> None:
        buf = self._buf
        while len(buf) >= 2:
            b0, b1 = buf[0], buf[1]
            length, pos = b1 & 0x7F, 2
            if length == 126:
                if len(buf) < 4:
                    return
                length, pos = int.from_bytes(buf[2:4], "big"), 4
            elif length == 127:
                if len(buf) < 10:
                    return
                length, pos = int.from_bytes(buf[2:10], "big"), 10
            if b1 & 0x80:
                pos += 4  # a server never masks; skip a key if one came anyway
            if len(buf) < pos + length:
                return
            payload = bytes(buf[pos:pos + length])
            del buf[:pos + length]
            opcode = b0 & 0x0F
            if opcode in (0, 1, 2):
                self._parts.append(payload)
                if b0 & 0x80:
                    message, self._parts = b"".join(self._parts), []
                    self.on_message(message, t)
            elif opcode == 9:
                self._send(0xA, payload)
            elif opcode == 8 and self.transport is not None:
                self.transport.close()

    def _send(self, opcode: int, payload: bytes) -> None:
        """A control frame (payload under 126 bytes), masked as a client must."""
        key = os.urandom(4)
        masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        assert self.transport is not None
        self.transport.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + key + masked)


async def connect(host: str, port: int, path: str, headers: Mapping[str, str], on_message: OnMessage) -> RawWebSocket:
    loop = asyncio.get_running_loop()
    _, ws = await loop.create_connection(lambda: RawWebSocket(on_message), host, port)
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}", "Sec-WebSocket-Version: 13",
             *(f"{k}: {v}" for k, v in headers.items())]
    assert ws.transport is not None
    ws.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await ws.opened
    return ws


async def hold_logged_in(base: str, cookie: str, on_message: OnMessage, on_open: Callable[[], None]) -> None:
    """One logged-in browser's socket to the hub's ``/ws`` (``cookie`` as ``name=value``), held until it
    closes or the task is cancelled; ``on_open`` is called once the handshake is done."""
    url = urlsplit(base.rstrip("/"))
    ws = await connect(url.hostname or "127.0.0.1", url.port or 80, "/ws",
                       {"Origin": base.rstrip("/"), "Cookie": cookie}, on_message)
    on_open()
    try:
        await ws.closed
    finally:
        if ws.transport is not None:
            ws.transport.close()
