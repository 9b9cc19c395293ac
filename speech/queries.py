"""The transcription job store: one job per recording, claimed by one worker at a time, surviving restarts.

queued → running (a worker holds a lease) → done | failed (with the reason). A worker that dies leaves its
lease to expire; the next claim puts the job back in the queue, or fails it once ``max_attempts`` are used.
Claiming is ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL and a conditional UPDATE on SQLite, so two
workers never get the same job. Every function works inside the caller's transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Call, Recording, Transcript, utcnow
from crm_core.models.speech import SpeechJob, SpeechWord

log = logging.getLogger("hub.transcription")


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: int
    recording_id: int
    transcript_id: int
    call_id: int
    path: str
    attempt: int
    max_attempts: int


async def enqueue_transcription(session: AsyncSession, recording_id: int, *, max_attempts: int = 3) -> SpeechJob:
    """Store a job for the recording (once: a second call returns the job already there)."""
    existing = (await session.execute(select(SpeechJob).where(SpeechJob.recording_id == recording_id))
                ).scalar_one_or_none()
    if existing is not None:
        return existing
    try:
        async with session.begin_nested():
            transcript = Transcript(recording_id=recording_id, status=JobStatus.QUEUED)
            session.add(transcript)
            await session.flush()
            job = SpeechJob(recording_id=recording_id, transcript_id=transcript.id, status=JobStatus.QUEUED,
                            attempts=0, max_attempts=max_attempts)
            session.add(job)
            await session.flush()
    except IntegrityError:  # another instance enqueued the same recording a moment ago
        return (await session.execute(select(SpeechJob).where(SpeechJob.recording_id == recording_id))).scalar_one()
    log.info("transcription queued recording=%s job=%s", recording_id, job.id)
    return job


async def enqueue_call(session: AsyncSession, call_id: int, *, max_attempts: int = 3) -> list[SpeechJob]:
    """When a call ends: a job for each of its recordings (a bare ``calls.recording_path`` becomes a recording)."""
    recordings = list((await session.execute(select(Recording).where(Recording.call_id == call_id))).scalars())
    if not recordings:
        path = (await session.execute(select(Call.recording_path).where(Call.id == call_id))).scalar_one_or_none()
        if not path:
            return []
        rec = Recording(call_id=call_id, path=path, channels=1)
        session.add(rec)
        await session.flush()
        recordings = [rec]
    return [await enqueue_transcription(session, r.id, max_attempts=max_attempts) for r in recordings]


async def _reap_expired(session: AsyncSession, now: datetime) -> None:
    """Jobs whose worker stopped renewing its lease: back to the queue, or failed when out of attempts."""
    expired = and_(SpeechJob.status == JobStatus.RUNNING, SpeechJob.lease_until < now)
    spent = and_(expired, SpeechJob.attempts >= SpeechJob.max_attempts)
    reason = "the worker stopped during the job on every attempt (lease expired)"
    await session.execute(update(Transcript).where(Transcript.id.in_(select(SpeechJob.transcript_id).where(spent)))
                          .values(status=JobStatus.FAILED, error=reason, finished_at=now))
    await session.execute(update(SpeechJob).where(spent).values(status=JobStatus.FAILED, reason=reason,
                                                                finished_at=now, worker=None))
    back = (await session.execute(
        update(SpeechJob).where(expired)
        .values(status=JobStatus.QUEUED, worker=None, lease_until=None,
                reason="the worker stopped during the job (lease expired); queued again")
        .returning(SpeechJob.id, SpeechJob.transcript_id)
    )).all()
    if back:
        await session.execute(update(Transcript).where(Transcript.id.in_([t for _, t in back]))
                              .values(status=JobStatus.QUEUED))
        log.warning("transcription jobs re-queued after an expired lease: %s", [j for j, _ in back])


async def claim_job(session: AsyncSession, worker: str, *, lease_s: float, now: datetime | None = None
                    ) -> ClaimedJob | None:
    """Take the oldest queued job for this worker, or None when the queue is empty."""
    now = now or utcnow()
    await _reap_expired(session, now)
    queued = select(SpeechJob.id).where(SpeechJob.status == JobStatus.QUEUED).order_by(SpeechJob.id).limit(1)
    take = dict(status=JobStatus.RUNNING, worker=worker, lease_until=now + timedelta(seconds=lease_s),
                attempts=SpeechJob.attempts + 1, started_at=now)
    if session.bind.dialect.name == "postgresql":
        job_id = (await session.execute(queued.with_for_update(skip_locked=True))).scalar_one_or_none()
        if job_id is None:
            return None
        await session.execute(update(SpeechJob).where(SpeechJob.id == job_id).values(**take))
    else:
        for _ in range(10):
            job_id = (await session.execute(queued)).scalar_one_or_none()
            if job_id is None:
                return None
            taken = await session.execute(update(SpeechJob).where(SpeechJob.id == job_id,
                                                                  SpeechJob.status == JobStatus.QUEUED).values(**take))
            if taken.rowcount == 1:
                break
        else:
            return None
    row = (await session.execute(
        select(SpeechJob.id, SpeechJob.recording_id, SpeechJob.transcript_id, Recording.call_id, Recording.path,
               SpeechJob.attempts, SpeechJob.max_attempts)
        .join(Recording, Recording.id == SpeechJob.recording_id).where(SpeechJob.id == job_id)
    )).one()
    await session.execute(update(Transcript).where(Transcript.id == row.transcript_id)
                          .values(status=JobStatus.RUNNING))
    return ClaimedJob(*row)


def _owned(job_id: int, worker: str):  # noqa: ANN202
    return and_(SpeechJob.id == job_id, SpeechJob.status == JobStatus.RUNNING, SpeechJob.worker == worker)


async def renew_leases(session: AsyncSession, job_ids: list[int], worker: str, *, lease_s: float) -> None:
    if job_ids:
        await session.execute(update(SpeechJob).where(SpeechJob.id.in_(job_ids), SpeechJob.worker == worker,
                                                      SpeechJob.status == JobStatus.RUNNING)
                              .values(lease_until=utcnow() + timedelta(seconds=lease_s)))


async def complete_job(session: AsyncSession, job: ClaimedJob, worker: str, *, words: list[dict], text: str,
                       note: str | None, channels: int, duration_s: float) -> bool:
    """Store the result. False (and nothing stored) when the job is no longer this worker's."""
    now = utcnow()
    done = await session.execute(update(SpeechJob).where(_owned(job.id, worker))
                                 .values(status=JobStatus.DONE, finished_at=now, lease_until=None, reason=note))
    if done.rowcount != 1:
        log.warning("job %s finished by %s after losing its lease; result dropped", job.id, worker)
        return False
    await session.execute(delete(SpeechWord).where(SpeechWord.transcript_id == job.transcript_id))
    if words:
        await session.execute(insert(SpeechWord), [
            {"transcript_id": job.transcript_id, "position": i, "speaker": w["speaker"], "word": w["word"][:200],
             "start_s": w["start"], "end_s": w["end"], "conf": w["conf"]} for i, w in enumerate(words)])
    await session.execute(update(Transcript).where(Transcript.id == job.transcript_id)
                          .values(status=JobStatus.DONE, text=text, error=note, finished_at=now))
    await session.execute(update(Recording).where(Recording.id == job.recording_id)
                          .values(channels=channels, duration_s=duration_s))
    return True


async def fail_job(session: AsyncSession, job: ClaimedJob, worker: str, reason: str, *, retry: bool) -> str:
    """A failed attempt: queued again when ``retry`` and attempts remain, otherwise failed with the reason."""
    now = utcnow()
    again = retry and job.attempt < job.max_attempts
    status = JobStatus.QUEUED if again else JobStatus.FAILED
    res = await session.execute(update(SpeechJob).where(_owned(job.id, worker)).values(
        status=status, reason=reason, worker=None, lease_until=None, finished_at=None if again else now))
    if res.rowcount != 1:
        return "lost"
    await session.execute(update(Transcript).where(Transcript.id == job.transcript_id).values(
        status=status, error=reason, finished_at=None if again else now))
    log.warning("transcription job %s attempt %s failed (%s): %s", job.id, job.attempt, status, reason)
    return status


async def release_job(session: AsyncSession, job: ClaimedJob, worker: str) -> None:
    """Put a job back untouched (the hub is stopping): the attempt is not counted."""
    res = await session.execute(update(SpeechJob).where(_owned(job.id, worker)).values(
        status=JobStatus.QUEUED, worker=None, lease_until=None, attempts=SpeechJob.attempts - 1))
    if res.rowcount == 1:
        await session.execute(update(Transcript).where(Transcript.id == job.transcript_id)
                              .values(status=JobStatus.QUEUED))


async def job_counts(session: AsyncSession) -> dict[str, int]:
    rows = (await session.execute(select(SpeechJob.status, func.count()).group_by(SpeechJob.status))).all()
    return {str(s): int(n) for s, n in rows}


__all__ = ["ClaimedJob", "JobStatus", "claim_job", "complete_job", "enqueue_call", "enqueue_transcription",
           "fail_job", "job_counts", "release_job", "renew_leases"]
