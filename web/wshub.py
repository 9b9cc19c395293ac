"""Live pushes to browsers: one WebSocket per logged-in tab, a bounded queue and writer per socket.

A slow browser fills only its own queue; when it is full the socket is closed
(the page reconnects and reloads its state) instead of holding up the others.

A frame for a socket with nothing queued is written at once, inside ``push`` (the send runs until it would
wait for the socket to drain, which only a slow reader makes it do; then a task finishes it). Waking one
writer task per socket per frame cost 200 turns of the event loop for a wallboard frame to 200 supervisors,
and in a burst of calls each turn waited behind everything else the loop had to do.

A frame for many sockets (the call feed to every agent of a department, a wallboard frame) is written to
``FANOUT_CHUNK`` sockets at once and to the rest in later turns of the loop, ``FANOUT_CHUNK`` a turn: written
in one go, 1,000 sockets held the loop some 15 ms, and every pop-up due meanwhile waited. A socket keeps its
order: a frame for a socket still owed an earlier frame is written after it (a small push, such as a pop-up,
writes what the socket is owed first and then its own frame, at once).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict, deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

log = logging.getLogger("hub.ws")
FANOUT_CHUNK = 64  # sockets written per turn of the event loop (about 1 ms)


@dataclass(eq=False)
class Socket:
    user_id: int
    ws: web.WebSocketResponse
    queue: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    overflowed: bool = False
    draining: bool = False  # a send is waiting for the socket to drain: frames go through the queue


class SocketHub:
    def __init__(self, queue_size: int) -> None:
        self.queue_size = queue_size
        self._by_user: dict[int, set[Socket]] = defaultdict(set)
        self.dropped_slow = 0
        self.sent = 0
        self._finishing: set[asyncio.Future[None]] = set()
        self._owed: dict[Socket, list[bytes]] = {}  # frames of a large push not yet written, per socket
        self._owed_order: deque[Socket] = deque()
        self._owed_scheduled = False

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
        self._owed.pop(sock, None)

    def push(self, user_ids: list[int] | tuple[int, ...], kind: str, payload: dict[str, Any]) -> int:
        """Queue a frame for every socket of these users; never waits. Returns the sockets reached."""
        frame = json.dumps({"type": kind, **payload}, ensure_ascii=False, default=str).encode()  # once, for all
        reached, budget = 0, FANOUT_CHUNK
        for uid in user_ids:
            for sock in list(self._by_user.get(uid, ())):
                if sock.overflowed:
                    continue
                owed = self._owed.get(sock)
                if budget > 0:
                    budget -= 1
                    if owed is not None:  # what the socket is owed goes first
                        del self._owed[sock]
                        for earlier in owed:
                            self._deliver(sock, earlier)
                    self._deliver(sock, frame)
                elif owed is not None:
                    owed.append(frame)
                else:
                    self._owed[sock] = [frame]
                    self._owed_order.append(sock)
                reached += 1
        if self._owed and not self._owed_scheduled:
            self._owed_scheduled = True
            asyncio.get_running_loop().call_soon(self._write_owed)
        return reached

    def _write_owed(self) -> None:
        """One more chunk of the large pushes' sockets; again next turn while any is owed."""
        self._owed_scheduled = False
        for _ in range(FANOUT_CHUNK):
            if not self._owed_order:
                break
            sock = self._owed_order.popleft()
            for frame in self._owed.pop(sock, ()):  # nothing when a small push wrote it meanwhile
                self._deliver(sock, frame)
        if self._owed_order:
            self._owed_scheduled = True
            asyncio.get_running_loop().call_soon(self._write_owed)

    def _deliver(self, sock: Socket, frame: bytes) -> None:
        if sock.overflowed:
            return
        if sock.queue.empty() and not sock.draining:
            self._send_now(sock, frame)
            return
        try:
            sock.queue.put_nowait(frame)
        except asyncio.QueueFull:
            sock.overflowed = True
            self.dropped_slow += 1
            log.warning("ws user=%s too slow, %d frames queued: closing its socket", sock.user_id, self.queue_size)
            _clear(sock.queue)
            sock.queue.put_nowait(None)

    def _send_now(self, sock: Socket, frame: bytes) -> None:
        """Write the frame now; if the send has to wait for the socket to drain, a task finishes it and the
        frames after it queue for the writer meanwhile (the bytes are in the transport in order either way)."""
        send = sock.ws.send_frame(frame, WSMsgType.TEXT)
        try:
            waiting = send.send(None)
        except StopIteration:
            self.sent += 1
            return
        except (ConnectionError, RuntimeError):
            return  # the socket is going; its reader ends and removes it
        sock.draining = True
        task = asyncio.ensure_future(self._finish(sock, send, waiting))
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)

    async def _finish(self, sock: Socket, send: Coroutine[Any, Any, None], waiting: Any) -> None:
        try:
            while True:
                if isinstance(waiting, asyncio.Future):
                    await asyncio.wait([waiting])  # the send reads the outcome itself when resumed
                else:
                    await asyncio.sleep(0)
                try:
                    waiting = send.send(None)
                except StopIteration:
                    self.sent += 1
                    return
        except (ConnectionError, RuntimeError):
            return
        finally:
            sock.draining = False  # frames queued meanwhile were sent by the writer, in order

    async def writer(self, sock: Socket) -> None:
        """Send queued frames to one socket until told to stop (None) or the socket is gone."""
        while True:
            frame = await sock.queue.get()
            if frame is None:
                if sock.overflowed:
                    await sock.ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too slow")
                return
            sock.draining = True  # until this send is done, later frames queue behind it
            try:
                await sock.ws.send_frame(frame, WSMsgType.TEXT)
                self.sent += 1
            except (ConnectionError, RuntimeError):
                return
            finally:
                sock.draining = False

    async def close_all(self) -> None:
        for group in list(self._by_user.values()):
            for sock in list(group):
                await sock.ws.close(code=WSCloseCode.GOING_AWAY, message=b"hub stopping")


def _clear(queue: asyncio.Queue[bytes | None]) -> None:
    while not queue.empty():
        queue.get_nowait()
