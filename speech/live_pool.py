"""The live-speech worker processes: a sender and a reader thread each (the event loop never waits on a pipe),
and a dead worker restarted in its slot.

A worker that dies (killed, out of memory, a crash in the decoder) is reported to ``on_reply`` as
``(i, ("died",))``; ``restart(i)`` starts a fresh process in the same slot, loads the model and reports
``(i, ("restarted",))``, or ``(i, ("lost", reason))`` when the model cannot be loaded any more. What the
legs of the dead worker do meanwhile is the caller's business (``speech/live.py`` moves them on).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import queue
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

log = logging.getLogger("hub.speech.live")


class LivePool:
    def __init__(self, model_path: str, workers: int, on_reply: Callable[[int, tuple], None],
                 decoder: dict[str, float] | None = None) -> None:
        self.model_path = model_path
        self.decoder = dict(decoder or {})
        self.size = workers
        self.on_reply = on_reply
        self.streams = [0] * workers
        self.alive = [False] * workers
        self.pids = [0] * workers
        self.restarts = 0
        self._ctx = multiprocessing.get_context("spawn")
        self._procs: list[Any] = [None] * workers
        self._outboxes: list[queue.SimpleQueue] = [queue.SimpleQueue() for _ in range(workers)]
        self._threads: list[threading.Thread] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False

    async def start(self, timeout_s: float = 180) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        conns = [await self._spawn(i) for i in range(self.size)]
        for i, conn in enumerate(conns):
            reason = await self._ready(i, conn, timeout_s)
            for attempt in range(2):  # a process that died while starting (not a model that cannot load) gets
                if reason is None or "cannot load" in reason:  # another chance before the hub gives up
                    break
                log.warning("live speech worker %s ended while starting (attempt %s): spawning it again", i,
                            attempt + 1)
                reason = await self._ready(i, await self._spawn(i), timeout_s)
            if reason is not None:
                await self.stop()
                raise RuntimeError(reason)

    async def _spawn(self, i: int) -> Connection:
        from speech import live_worker

        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(target=live_worker.main, args=(child, self.model_path, self.decoder), daemon=True,
                                 name="hub-live-speech")
        await asyncio.to_thread(proc.start)
        child.close()
        self._procs[i] = proc
        return parent

    async def _ready(self, i: int, conn: Connection, timeout_s: float) -> str | None:
        """Wait for the worker's model; start its threads. Returns the reason when it failed."""
        try:
            ready = await asyncio.wait_for(asyncio.to_thread(conn.recv), timeout_s)
        except (EOFError, OSError, TimeoutError):
            ready = ("error", "the live speech worker ended while loading the model")
        if ready[0] != "ready":
            conn.close()
            return str(ready[1])
        self.pids[i] = int(ready[1])
        outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._outboxes[i] = outbox
        self.alive[i] = True
        for target, name in ((self._send_loop, "send"), (self._read_loop, "read")):
            t = threading.Thread(target=target, args=(i, conn, outbox), daemon=True, name=f"live-speech-{name}-{i}")
            t.start()
            self._threads.append(t)
        return None

    async def restart(self, i: int, timeout_s: float = 180) -> None:
        """A fresh process in slot ``i`` (the old one is dead); its legs' new audio goes to it after ``restarted``."""
        if self._stopping:
            return
        self.restarts += 1
        old = self._procs[i]
        if old is not None:
            if old.is_alive():
                old.kill()
            await asyncio.to_thread(old.join, 5)
        conn = await self._spawn(i)
        reason = None if self._stopping else await self._ready(i, conn, timeout_s)
        if self._stopping:  # the pool stopped meanwhile: the fresh process goes too
            self._outboxes[i].put(None)
            proc = self._procs[i]
            if proc.is_alive():
                proc.kill()
            await asyncio.to_thread(proc.join, 5)
            return
        if reason is None:
            log.info("live speech worker %s restarted as pid %s", i, self.pids[i])
            self.on_reply(i, ("restarted",))
        else:
            log.error("live speech worker %s cannot be restarted: %s", i, reason)
            self.on_reply(i, ("lost", reason))

    def _send_loop(self, i: int, conn: Connection, outbox: queue.SimpleQueue) -> None:
        while (msg := outbox.get()) is not None:
            try:
                conn.send(msg)
            except (OSError, ValueError):
                return  # the reader sees the end and reports it
        with contextlib.suppress(OSError, ValueError):
            conn.send(None)

    def _read_loop(self, i: int, conn: Connection, outbox: queue.SimpleQueue) -> None:
        loop = self._loop
        assert loop is not None
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                if outbox is self._outboxes[i]:  # not a worker already replaced
                    self.alive[i] = False
                outbox.put(None)  # ends this worker's sender
                with contextlib.suppress(OSError):
                    conn.close()
                if not self._stopping:
                    with contextlib.suppress(RuntimeError):
                        loop.call_soon_threadsafe(self.on_reply, i, ("died",))
                return
            with contextlib.suppress(RuntimeError):  # the loop closed: the hub is gone
                loop.call_soon_threadsafe(self.on_reply, i, msg)

    def pick(self, exclude: int | None = None) -> int | None:
        """The live worker with the fewest legs (None: none is running)."""
        live = [i for i in range(self.size) if self.alive[i] and i != exclude]
        if not live:
            return None
        return min(live, key=lambda k: self.streams[k])

    def send(self, i: int, msg: tuple) -> None:
        self._outboxes[i].put(msg)

    async def stop(self) -> None:
        self._stopping = True
        for outbox in self._outboxes:
            outbox.put(None)
        for proc in self._procs:
            if proc is None:
                continue
            await asyncio.to_thread(proc.join, 5)
            if proc.is_alive():
                proc.kill()
                await asyncio.to_thread(proc.join, 5)
        for t in self._threads:
            await asyncio.to_thread(t.join, 2)
        self._threads.clear()
        self.alive = [False] * self.size
