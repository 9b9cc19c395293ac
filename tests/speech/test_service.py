"""The speech service end to end: a call ends, worker processes transcribe it, the database holds the result."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import numpy as np
import pytest
from sqlalchemy import func, select

from crm_core.models import Call, Recording, Transcript
from crm_core.models.speech import SpeechFlag, SpeechJob, SpeechWord
from speech.pool import WorkerPool
from speech.service import SpeechService
from speech.settings import PhraseLists, SpeechSettings
from tests.speech.conftest import ANSWERED, REAL_WAVS, RING, TRANSFER, add_call, duration, read_wav, write_wav


async def wait_for(check, limit_s: float = 90.0):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError("condition not reached in time")


def service_for(db, model_path, **kw) -> SpeechService:  # noqa: ANN001
    settings = SpeechSettings(model_path=model_path, poll_s=0.2, **kw)
    return SpeechService(settings, db.engine, db.sessions)


async def statuses(db) -> dict[int, str]:  # noqa: ANN001
    async with db.sessions() as s:
        return dict((await s.execute(select(SpeechJob.recording_id, SpeechJob.status))).all())


async def test_finished_calls_are_transcribed_and_bad_files_fail_with_the_call_intact(db, model_path, tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.wav"
    text.write_text("не звук")
    async with db.sessions() as s, s.begin():
        calls = [await add_call(s, p) for p in (*REAL_WAVS, empty, text)]
    service = service_for(db, model_path, workers=2)
    await service.start()
    try:
        for call_id, _ in calls:
            await service.enqueue_call(call_id)
        await wait_for(lambda: _all_finished(db, len(calls)))
    finally:
        await service.stop()
    async with db.sessions() as s:
        rows = (await s.execute(select(Recording.call_id, Recording.path, Transcript.status, Transcript.error,
                                       Transcript.text, Recording.duration_s)
                                .join(Transcript, Transcript.recording_id == Recording.id))).all()
        words = (await s.execute(select(SpeechWord).order_by(SpeechWord.transcript_id, SpeechWord.position))
                 ).scalars().all()
        n_calls = (await s.execute(select(func.count()).select_from(Call))).scalar()
    by_path = {r.path: r for r in rows}
    for p in REAL_WAVS:
        r = by_path[str(p)]
        assert r.status == "done" and r.text and r.error is None
        assert r.duration_s == pytest.approx(duration(p), abs=0.01)
    assert by_path[str(empty)].status == "failed" and by_path[str(empty)].error == "empty recording file (0 bytes)"
    assert by_path[str(text)].status == "failed" and "not a WAV file" in by_path[str(text)].error
    assert n_calls == 5  # every call record is still there
    assert words and all(0 <= w.start_s <= w.end_s for w in words) and all(0 <= w.conf <= 1 for w in words)


async def _all_finished(db, n: int) -> bool:  # noqa: ANN001
    return sorted((await statuses(db)).values()) != [] and all(
        v in ("done", "failed") for v in (await statuses(db)).values()) and len(await statuses(db)) == n


async def test_a_worker_killed_mid_job_is_replaced_and_the_job_finishes_once(db, model_path, tmp_path):
    parts = [read_wav(p)[0][:, 0] for p in (RING, ANSWERED, TRANSFER, RING, ANSWERED, RING)]
    long = write_wav(tmp_path / "long.wav", np.concatenate(parts), 8000)  # long enough to be caught mid-job
    async with db.sessions() as s, s.begin():
        call_id, rec_id = await add_call(s, long)
    service = service_for(db, model_path, workers=1, max_attempts=3)
    await service.start()
    try:
        await wait_for(lambda: _running(service))
        first_pid = service.pool.pids[0]
        await service.enqueue_call(call_id)
        busy = await wait_for(lambda: _busy(service))
        assert busy == [first_pid]
        os.kill(first_pid, signal.SIGKILL)
        await wait_for(lambda: _done(db, rec_id))
        assert service.pool.stats.died == 1 and first_pid not in service.pool.pids
    finally:
        await service.stop()
    async with db.sessions() as s:
        job = (await s.execute(select(SpeechJob))).scalar_one()
        positions = (await s.execute(select(SpeechWord.position).where(SpeechWord.transcript_id == job.transcript_id)
                                     )).scalars().all()
    assert job.attempts == 2 and job.status == "done"
    assert positions == list(range(len(positions))) and positions  # one set of words, not two


async def _running(service: SpeechService) -> bool:
    return service.state == "running"


async def _busy(service: SpeechService) -> list[int]:
    return service.pool.busy_pids() if service.pool else []


async def _done(db, rec_id: int) -> bool:  # noqa: ANN001
    return (await statuses(db)).get(rec_id) == "done"


async def test_flagged_phrases_are_stored_with_the_time_they_were_said(db, model_path):
    async with db.sessions() as s, s.begin():
        call_id, rec_id = await add_call(s, RING)
    service = service_for(db, model_path, phrases=PhraseLists(required=["добрый день"]))
    await service.start()
    try:
        await service.enqueue_call(call_id)
        await wait_for(lambda: _done(db, rec_id))
    finally:
        await service.stop()
    async with db.sessions() as s:
        flags = (await s.execute(select(SpeechFlag))).scalars().all()
        words = (await s.execute(select(SpeechWord).order_by(SpeechWord.position))).scalars().all()
    assert [(f.category, f.phrase, f.at_s) for f in flags] == [("missing_script", "добрый день", None)]
    # The Korean model hears Korean words in a Russian prompt; a supervisor who lists one of the words heard
    # (the lists changed) gets the call flagged at the moment it was said.
    said = words[len(words) // 2]
    relisted = service_for(db, model_path, phrases=PhraseLists(forbidden=[said.word]))
    assert await relisted.reanalyse(words[0].transcript_id) >= 1
    async with db.sessions() as s:
        flags = (await s.execute(select(SpeechFlag))).scalars().all()
    assert {f.category for f in flags} == {"forbidden"} and all(f.call_id == call_id for f in flags)
    assert said.start_s in {f.at_s for f in flags}
    assert all(0 <= f.at_s <= duration(RING) and f.heard for f in flags)


async def test_workers_are_recycled_after_their_job_quota(model_path):
    pool = WorkerPool(model_path, workers=1, max_jobs=1)
    await pool.start()
    try:
        first = pool.pids
        await pool.transcribe(TRANSFER)
        await pool.transcribe(TRANSFER)  # waits for the fresh worker
        assert pool.stats.recycled >= 1 and pool.pids != first
        assert all(mb > 0 for mb in pool.stats.peak_rss_mb.values())
    finally:
        await pool.stop()


async def test_with_no_model_configured_transcription_is_off_and_jobs_wait(db):
    service = SpeechService(SpeechSettings(), db.engine, db.sessions)
    await service.start()
    assert service.state == "disabled" and not service.enabled
    async with db.sessions() as s, s.begin():
        call_id, rec_id = await add_call(s, ANSWERED)
    await service.enqueue_call(call_id)
    assert await statuses(db) == {rec_id: "queued"}
    await service.stop()


async def test_a_model_that_cannot_load_is_reported(db, tmp_path):
    service = SpeechService(SpeechSettings(model_path=tmp_path), db.engine, db.sessions)
    await service.start()
    await wait_for(lambda: _failed(service))
    assert "no Vosk model" in service.error
    await service.stop()


async def _failed(service: SpeechService) -> bool:
    return service.state == "failed"


async def test_mixmonitor_legs_beside_the_mixed_file_give_agent_and_client(db, model_path, tmp_path):
    mixed = tmp_path / "1795391275.106.wav"
    mixed.write_bytes(RING.read_bytes())  # what the call page plays
    (tmp_path / "1795391275.106-r.wav").write_bytes(RING.read_bytes())  # r(): the agent's leg
    (tmp_path / "1795391275.106-t.wav").write_bytes(TRANSFER.read_bytes())  # t(): the client's leg
    async with db.sessions() as s, s.begin():
        call_id, rec_id = await add_call(s, mixed.name)  # a relative path, read from recordings_dir
    service = service_for(db, model_path, agent_leg_suffix="-r", client_leg_suffix="-t", recordings_dir=tmp_path)
    await service.start()
    try:
        await service.enqueue_call(call_id)
        await wait_for(lambda: _done(db, rec_id))
    finally:
        await service.stop()
    async with db.sessions() as s:
        words = (await s.execute(select(SpeechWord).order_by(SpeechWord.position))).scalars().all()
        channels = (await s.execute(select(Recording.channels))).scalar_one()
    assert channels == 2 and {w.speaker for w in words} == {"agent", "client"}
    assert all(w.end_s <= duration(TRANSFER) + 0.05 for w in words if w.speaker == "client")
    assert max(w.end_s for w in words if w.speaker == "agent") > duration(TRANSFER)
    assert [w.start_s for w in words] == sorted(w.start_s for w in words)
