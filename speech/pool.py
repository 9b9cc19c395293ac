"""A pool of worker processes, each holding one loaded Vosk model; the event loop only waits on pipes.

A worker is replaced after ``max_jobs`` recordings or when its memory passes ``max_rss_mb`` (Vosk's memory
grows with use), and at once when it dies or overruns ``job_timeout_s``; the job it held then raises
``WorkerDied`` so that the job store retries it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from speech.errors import AudioError
from speech.recognizer import Result

log = logging.getLogger("hub.speech.pool")


class WorkerDied(RuntimeError):
    """The worker process ended or hung during the job (worth another attempt)."""


class ModelUnavailable(RuntimeError):
    """No worker could load the model."""


@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    conn: Connection
    pid: int
    jobs: int = 0
    rss_mb: float = 0.0


@dataclass
class PoolStats:
    started: int = 0
    recycled: int = 0
    died: int = 0
    peak_rss_mb: dict[int, float] = field(default_factory=dict)  # pid → highest RSS seen


class WorkerPool:
    def __init__(self, model_path: str | Path, *, workers: int = 1, max_jobs: int = 200,
                 max_rss_mb: float = 2000, job_timeout_s: float = 1800, start_timeout_s: float = 120) -> None:
        self.model_path = str(model_path)
        self.size = workers
        self.max_jobs = max_jobs
        self.max_rss_mb = max_rss_mb
        self.job_timeout_s = job_timeout_s
        self.start_timeout_s = start_timeout_s
        self.stats = PoolStats()
        self._ctx = multiprocessing.get_context("spawn")
        self._threads = ThreadPoolExecutor(max_workers=workers * 2 + 1, thread_name_prefix="speech-pipe")
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._all: set[_Worker] = set()
        self._tasks: set[asyncio.Task] = set()
        self._closing = False

    async def _thread(self, fn, *args):  # noqa: ANN001, ANN002, ANN202
        return await asyncio.get_running_loop().run_in_executor(self._threads, fn, *args)

    async def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        from speech import worker

        proc = self._ctx.Process(target=worker.main, args=(child, self.model_path), daemon=True,
                                 name="hub-speech-worker")
        await self._thread(proc.start)
        child.close()  # our copy: the pipe then reports EOF as soon as the worker dies
        try:
            msg = await asyncio.wait_for(self._thread(parent.recv), self.start_timeout_s)
        except (EOFError, OSError, TimeoutError):
            await self._kill(proc)
            raise ModelUnavailable(f"the speech worker ended while loading the model from {self.model_path}"
                                   ) from None
        if msg[0] == "error":
            await self._thread(proc.join, 5)
            raise ModelUnavailable(msg[1])
        w = _Worker(proc, parent, msg[1], rss_mb=msg[2])
        self.stats.started += 1
        self._note_rss(w)
        self._all.add(w)
        log.info("speech worker pid=%s ready (model loaded, %.0f MB)", w.pid, w.rss_mb)
        return w

    def _note_rss(self, w: _Worker) -> None:
        self.stats.peak_rss_mb[w.pid] = max(self.stats.peak_rss_mb.get(w.pid, 0.0), w.rss_mb)

    async def _kill(self, proc: BaseProcess) -> None:
        with contextlib.suppress(Exception):
            proc.kill()
        await self._thread(proc.join, 10)

    async def start(self) -> None:
        workers = await asyncio.gather(*(self._spawn() for _ in range(self.size)), return_exceptions=True)
        errors = [w for w in workers if isinstance(w, BaseException)]
        for w in workers:
            if isinstance(w, _Worker):
                self._idle.put_nowait(w)
        if errors:
            await self.stop()
            raise errors[0]

    @property
    def pids(self) -> list[int]:
        return sorted(w.pid for w in self._all)

    def busy_pids(self) -> list[int]:
        idle = {id(w) for w in self._idle._queue}  # noqa: SLF001 - a read-only look for tests and health
        return sorted(w.pid for w in self._all if id(w) not in idle)

    def _retire(self, w: _Worker, why: str) -> None:
        """Replace a worker in the background; the new one joins the idle queue once its model is loaded."""
        self._all.discard(w)

        async def replace() -> None:
            if w.process.is_alive():
                with contextlib.suppress(Exception):
                    w.conn.send(None)
                await self._thread(w.process.join, 10)
                if w.process.is_alive():
                    await self._kill(w.process)
            w.conn.close()
            if self._closing:
                return
            log.info("speech worker pid=%s replaced: %s", w.pid, why)
            while not self._closing:
                try:
                    self._idle.put_nowait(await self._spawn())
                    return
                except ModelUnavailable as exc:
                    log.error("speech worker could not be restarted: %s; retrying in 10 s", exc)
                    await asyncio.sleep(10)

        task = asyncio.get_running_loop().create_task(replace(), name=f"speech-replace-{w.pid}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def transcribe(self, path: str | Path, agent_channel: int = 0,
                         legs: tuple[Path, Path] | None = None) -> Result:
        w = await self._idle.get()
        try:
            w.conn.send(("job", str(path), agent_channel, tuple(map(str, legs)) if legs else None))
            reply = await asyncio.wait_for(self._thread(w.conn.recv), self.job_timeout_s)
        except (EOFError, OSError, BrokenPipeError):
            self.stats.died += 1
            self._retire(w, "it died during a job")
            raise WorkerDied(f"the speech worker (pid {w.pid}) ended during the job") from None
        except TimeoutError:
            self.stats.died += 1
            await self._kill(w.process)
            self._retire(w, "it overran the job time limit")
            raise WorkerDied(f"decoding took longer than {self.job_timeout_s:.0f} s; the worker was stopped"
                             ) from None
        except asyncio.CancelledError:
            await self._kill(w.process)  # stopping mid-job: the job store puts the job back
            self._retire(w, "the hub is stopping")
            raise
        kind, payload, w.rss_mb = reply
        w.jobs += 1
        self._note_rss(w)
        if w.jobs >= self.max_jobs:
            self.stats.recycled += 1
            self._retire(w, f"{w.jobs} jobs done")
        elif w.rss_mb > self.max_rss_mb:
            self.stats.recycled += 1
            self._retire(w, f"memory {w.rss_mb:.0f} MB over the {self.max_rss_mb:.0f} MB limit")
        else:
            self._idle.put_nowait(w)
        if kind == "ok":
            return Result(**payload)
        if kind == "bad":
            raise AudioError(payload)
        raise WorkerDied(payload)

    async def stop(self) -> None:
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for w in list(self._all):
            with contextlib.suppress(Exception):
                w.conn.send(None)
        for w in list(self._all):
            await self._thread(w.process.join, 10)
            if w.process.is_alive():
                await self._kill(w.process)
            w.conn.close()
        self._all.clear()
        self._threads.shutdown(wait=False, cancel_futures=True)
