"""The job store: a recording ends up transcribed once, by one worker, even across restarts and crashes."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from config.settings import DatabaseSettings
from crm_core.db import create_engine, session_factory
from crm_core.models import Transcript, utcnow
from crm_core.models.speech import SpeechJob
from speech.queries import (
    claim_job,
    complete_job,
    enqueue_call,
    enqueue_transcription,
    fail_job,
    job_counts,
)
from tests.speech.conftest import ANSWERED, add_call


async def test_a_call_that_ends_queues_one_job_per_recording_once(db):
    async with db.sessions() as s, s.begin():
        call_id, rec_id = await add_call(s, ANSWERED)
        first = await enqueue_call(s, call_id)
        again = await enqueue_call(s, call_id)
        also = await enqueue_transcription(s, rec_id)
    assert [j.id for j in first] == [j.id for j in again] == [also.id]
    async with db.sessions() as s:
        assert await job_counts(s) == {"queued": 1}
        assert (await s.execute(select(Transcript.status))).scalar_one() == "queued"


async def test_two_workers_claiming_at_once_never_get_the_same_job(db):
    async with db.sessions() as s, s.begin():
        for _ in range(6):
            _, rec = await add_call(s, ANSWERED)
            await enqueue_transcription(s, rec)

    async def grab(worker: str) -> list[int]:
        got = []
        while True:
            async with db.sessions() as s, s.begin():
                job = await claim_job(s, worker, lease_s=60)
            if job is None:
                return got
            got.append(job.id)
            await asyncio.sleep(0)

    a, b = await asyncio.gather(grab("w1"), grab("w2"))
    assert sorted(a + b) == sorted(set(a + b)) and len(a + b) == 6


async def test_jobs_survive_a_restart_and_a_dead_workers_job_is_queued_again_after_its_lease(db):
    async with db.sessions() as s, s.begin():
        _, rec = await add_call(s, ANSWERED)
        await enqueue_transcription(s, rec, max_attempts=2)
        job = await claim_job(s, "dead-worker", lease_s=30)
    assert job is not None and job.attempt == 1
    await db.engine.dispose()  # the hub stops; a new process opens the same database
    engine = create_engine(DatabaseSettings(url=db.url))
    sessions = session_factory(engine)
    try:
        async with sessions() as s, s.begin():
            assert await claim_job(s, "new-worker", lease_s=30) is None  # the lease still runs
        later = utcnow() + timedelta(seconds=31)
        async with sessions() as s, s.begin():
            again = await claim_job(s, "new-worker", lease_s=30, now=later)
        assert again is not None and again.id == job.id and again.attempt == 2
        async with sessions() as s, s.begin():  # the dead worker's late result is refused
            assert not await complete_job(s, job, "dead-worker", words=[], text="", note=None, channels=1,
                                          duration_s=1.0)
        async with sessions() as s, s.begin():  # the second worker dies too: out of attempts, failed with reason
            assert await claim_job(s, "third", lease_s=30, now=later + timedelta(seconds=31)) is None
        async with sessions() as s:
            row = (await s.execute(select(SpeechJob))).scalar_one()
            tr = (await s.execute(select(Transcript))).scalar_one()
        assert row.status == "failed" and "lease expired" in row.reason and row.attempts == 2
        assert tr.status == "failed" and "lease expired" in tr.error
    finally:
        await engine.dispose()


async def test_a_bad_file_fails_at_once_and_a_passing_fault_is_retried(db):
    async with db.sessions() as s, s.begin():
        _, rec1 = await add_call(s, ANSWERED)
        _, rec2 = await add_call(s, ANSWERED)
        await enqueue_transcription(s, rec1)
        await enqueue_transcription(s, rec2)
        j1 = await claim_job(s, "w", lease_s=30)
        j2 = await claim_job(s, "w", lease_s=30)
        assert await fail_job(s, j1, "w", "not a WAV file", retry=False) == "failed"
        assert await fail_job(s, j2, "w", "worker crashed", retry=True) == "queued"
    async with db.sessions() as s:
        assert await job_counts(s) == {"failed": 1, "queued": 1}
        reasons = dict((await s.execute(select(Transcript.status, Transcript.error))).all())
    assert reasons == {"failed": "not a WAV file", "queued": "worker crashed"}
