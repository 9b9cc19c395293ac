"""Live pushes to browsers: one WebSocket per logged-in tab, a bounded queue and writer per socket.

A slow browser fills only its own queue; when it is full the socket is closed
(the page reconnects and reloads its state) instead of holding up the others.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, web

log = logging.getLogger("hub.ws")


@dataclass(eq=False)
class Socket:
    user_id: int
    ws: web.WebSocketResponse
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    overflowed: bool = False


class SocketHub:
    def __init__(self, queue_size: int) -> None:
        self.queue_size = queue_size
        self._by_user: dict[int, set[Socket]] = defaultdict(set)
        self.dropped_slow = 0
        self.sent = 0

    @property
    def connections(self) -> int:
        return sum(len(s) for s in self._by_user.values())

    def add(self, user_id: int, ws: web.WebSocketResponse) -> Socket:
        sock = Socket(user_id, ws, asyncio.Queue(self.queue_size))
        self._by_user[user_id].add(sock)
        return sock

    def remove(self, sock: Socket) -> None:
        group = self._by_user.get(sock.user_id)
        if group is not None:
            group.discard(sock)
            if not group:
                del self._by_user[sock.user_id]

    def push(self, user_ids: list[int] | tuple[int, ...], kind: str, payload: dict[str, Any]) -> int:
        """Queue a frame for every socket of these users; never waits. Returns the sockets reached."""
        frame = json.dumps({"type": kind, **payload}, ensure_ascii=False, default=str)
        reached = 0
        for uid in user_ids:
            for sock in list(self._by_user.get(uid, ())):
                if sock.overflowed:
                    continue
                try:
                    sock.queue.put_nowait(frame)
                    reached += 1
                except asyncio.QueueFull:
                    sock.overflowed = True
                    self.dropped_slow += 1
                    log.warning("ws user=%s too slow, %d frames queued: closing its socket", uid, self.queue_size)
                    _clear(sock.queue)
                    sock.queue.put_nowait(None)
        return reached

    async def writer(self, sock: Socket) -> None:
        """Send queued frames to one socket until told to stop (None) or the socket is gone."""
        while True:
            frame = await sock.queue.get()
            if frame is None:
                if sock.overflowed:
                    await sock.ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too slow")
                return
            try:
                await sock.ws.send_str(frame)
                self.sent += 1
            except (ConnectionError, RuntimeError):
                return

    async def close_all(self) -> None:
        for group in list(self._by_user.values()):
            for sock in list(group):
                await sock.ws.close(code=WSCloseCode.GOING_AWAY, message=b"hub stopping")


def _clear(queue: asyncio.Queue[str | None]) -> None:
    while not queue.empty():
        queue.get_nowait()
