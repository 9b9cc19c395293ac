"""SpeechService: pulls transcription jobs from the database and feeds the worker pool, off the event loop.

One dispatcher task per worker claims a job, hands the recording to a worker process and stores the
result; one more task renews the leases of the jobs in hand, so that only a dead or hung hub loses them.
Everything it starts it owns and awaits on ``stop``; jobs in hand at stop go back to the queue uncounted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from crm_core.db import write_first
from crm_core.models import Call, Role, User
from speech import queries as jobs
from speech import search
from speech.analytics import PhraseMatcher, store_flags
from speech.errors import AudioError
from speech.pool import ModelUnavailable, WorkerDied, WorkerPool
from speech.recognizer import Result
from speech.settings import SpeechSettings

log = logging.getLogger("hub.speech")


class SpeechService:
    def __init__(self, settings: SpeechSettings, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession],
                 bus=None, *, name: str | None = None, recordings_dir: Path | None = None) -> None:  # noqa: ANN001
        self.settings = settings
        self.engine = engine
        self.sessions = sessions
        self.bus = bus
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.recordings_dir = recordings_dir or settings.recordings_dir
        self.matcher = PhraseMatcher(settings.phrases)
        self.pool: WorkerPool | None = None
        self.error: str | None = None
        self.processed = 0
        self._state = "disabled" if settings.model_path is None else "stopped"
        self._tasks: set[asyncio.Task] = set()
        self._in_hand: dict[int, str] = {}  # job id → the dispatcher holding it
        self._wake = asyncio.Event()
        self.live = None  # speech.live.LiveSpeech: a call whose two legs it heard whole needs no decoding again

    @property
    def state(self) -> str:
        """For /healthz: disabled (no model configured) | starting | running | failed | stopped."""
        return self._state

    @property
    def enabled(self) -> bool:
        return self.settings.model_path is not None

    def _own(self, coro, name: str) -> None:  # noqa: ANN001
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start(self) -> None:
        if not self.enabled:
            log.info("transcription is off: no speech model configured ([speech] model_path)")
            return
        search.install(self.engine)
        async with self.sessions() as s, s.begin():
            await write_first(s)  # a writer from the start: a read that turned into a write could meet a newer
            restored = await search.reindex_missing(s)  # commit and fail at once ("database is locked")
        if restored:
            log.info("search index: %s transcripts restored from the database", restored)
        self._state = "starting"
        self._own(self._run(), "speech-service")

    async def _run(self) -> None:
        s = self.settings
        self.pool = WorkerPool(s.model_path, workers=s.workers, max_jobs=s.max_jobs_per_worker,
                               max_rss_mb=s.max_worker_rss_mb, job_timeout_s=s.job_timeout_s)
        try:
            await self.pool.start()
        except ModelUnavailable as exc:
            self._state, self.error = "failed", str(exc)
            log.error("transcription is off: %s", exc)
            return
        self._state = "running"
        for n in range(s.workers):
            self._own(self._dispatch(f"{self.name}:{n}"), f"speech-dispatch-{n}")
        self._own(self._renew(), "speech-leases")

    def poke(self) -> None:
        """A job was just queued: look now instead of at the next poll."""
        self._wake.set()

    async def enqueue_call(self, call_id: int) -> list[int]:
        """The call ended: queue its recordings (the lead wires this to the telephony's call-ended event)."""
        async with self.sessions() as s, s.begin():
            queued = await jobs.enqueue_call(s, call_id, max_attempts=self.settings.max_attempts)
        if queued:
            self.poke()
        return [j.id for j in queued]

    async def _dispatch(self, worker: str) -> None:
        while True:
            self._wake.clear()  # before looking: a job queued while we look still wakes us
            try:
                async with self.sessions() as s, s.begin():
                    job = await jobs.claim_job(s, worker, lease_s=self.settings.lease_s)
            except Exception:  # noqa: BLE001 - the database may be away for a while; keep trying
                log.exception("claiming a transcription job failed; retrying")
                job = None
            if job is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.poll_s)
                continue
            self._in_hand[job.id] = worker
            try:
                await self._process(job, worker)
            finally:
                self._in_hand.pop(job.id, None)

    def _resolve(self, path: str) -> Path:
        p = Path(path)
        return p if p.is_absolute() or self.recordings_dir is None else self.recordings_dir / p

    def legs(self, path: Path) -> tuple[Path, Path] | None:
        """MixMonitor's r()/t() files beside the mixed one, when the suffixes are set and both files exist."""
        a, c = self.settings.agent_leg_suffix, self.settings.client_leg_suffix
        if not a or not c:
            return None
        agent, client = path.with_name(path.stem + a + path.suffix), path.with_name(path.stem + c + path.suffix)
        return (agent, client) if agent.is_file() and client.is_file() else None

    async def _live_result(self, call_id: int) -> Result | None:
        """Both legs streamed live without a gap: their words are the transcript (the mixed file is not decoded)."""
        if self.live is None:
            return None
        async with self.sessions() as s:
            linkedid = (await s.execute(select(Call.linkedid).where(Call.id == call_id))).scalar_one_or_none()
        return await self.live.finished_call(linkedid) if linkedid else None

    async def _process(self, job: jobs.ClaimedJob, worker: str) -> None:
        assert self.pool is not None
        path = self._resolve(job.path)
        try:
            result = await self._live_result(job.call_id)
            if result is None:
                legs = await asyncio.to_thread(self.legs, path)
                result = await self.pool.transcribe(path, self.settings.agent_channel, legs)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                async with self.sessions() as s, s.begin():
                    await jobs.release_job(s, job, worker)
            raise
        except AudioError as exc:
            async with self.sessions() as s, s.begin():
                await jobs.fail_job(s, job, worker, str(exc), retry=False)
            return
        except WorkerDied as exc:
            async with self.sessions() as s, s.begin():
                await jobs.fail_job(s, job, worker, str(exc), retry=True)
            return
        matches = self.matcher.find(result.words) if self.matcher else []
        async with self.sessions() as s, s.begin():
            stored = await jobs.complete_job(s, job, worker, words=result.words, text=result.text, note=result.note,
                                             channels=result.channels, duration_s=result.duration_s)
            if not stored:
                return
            await search.index_document(s, job.transcript_id, job.call_id, result.text)
            await store_flags(s, job.transcript_id, job.call_id, matches)
        self.processed += 1
        log.info("transcribed job=%s call=%s words=%s flags=%s", job.id, job.call_id, len(result.words),
                 len(matches))
        flagged = [m for m in matches if m.category != "missing_script"]
        if flagged:
            await self._notify(job.call_id, sorted({m.category for m in flagged}))

    async def reanalyse(self, transcript_id: int) -> int:
        """Match the phrase lists again on a stored transcript (after the lists changed); returns the flag count."""
        from crm_core.models import Recording, Transcript
        from crm_core.models.speech import SpeechWord

        async with self.sessions() as s, s.begin():
            call_id = (await s.execute(select(Recording.call_id).join(Transcript, Transcript.recording_id ==
                                                                      Recording.id)
                                       .where(Transcript.id == transcript_id))).scalar_one()
            rows = (await s.execute(select(SpeechWord.word, SpeechWord.speaker, SpeechWord.start_s)
                                    .where(SpeechWord.transcript_id == transcript_id)
                                    .order_by(SpeechWord.position))).all()
            if rows:
                words = [{"word": w, "speaker": sp, "start": st} for w, sp, st in rows]
            else:  # a transcript stored without word times (imported text)
                from speech.analytics import words_from_text

                text = (await s.execute(select(Transcript.text).where(Transcript.id == transcript_id))).scalar_one()
                words = words_from_text(text or "")
            matches = self.matcher.find(words)
            await store_flags(s, transcript_id, call_id, matches)
        return len(matches)

    async def _notify(self, call_id: int, categories: list[str]) -> None:
        """Tell the supervisors of the call's agent's department (and administrators) that a call was flagged."""
        if self.bus is None:
            return
        from bus.events import Push

        async with self.sessions() as s:
            dept = (await s.execute(select(User.department_id).join(Call, Call.agent_id == User.id)
                                    .where(Call.id == call_id))).scalar_one_or_none()
            who = select(User.id).where(User.is_active.is_(True), (User.role == Role.ADMIN) | (
                User.role.in_([Role.DEPT_MANAGER, Role.DEPT_HEAD]) & (User.department_id == dept)))
            ids = tuple((await s.execute(who)).scalars())
        if ids:
            await self.bus.publish(Push(user_ids=ids, kind="speech_flag",
                                        payload={"call_id": call_id, "categories": categories}))

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self.settings.lease_s / 3)
            by_worker: dict[str, list[int]] = {}
            for job_id, worker in list(self._in_hand.items()):
                by_worker.setdefault(worker, []).append(job_id)
            try:
                async with self.sessions() as s, s.begin():
                    for worker, ids in by_worker.items():
                        await jobs.renew_leases(s, ids, worker, lease_s=self.settings.lease_s)
            except Exception:  # noqa: BLE001 - the next round tries again; the lease is three rounds long
                log.exception("renewing transcription leases failed")

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.pool is not None:
            await self.pool.stop()
            self.pool = None
        if self.enabled and self._state != "failed":
            self._state = "stopped"
