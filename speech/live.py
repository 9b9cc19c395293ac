"""Live speech: calls transcribed while they go on, per leg, and listed phrases flagged within seconds.

``LiveSpeech`` (``hub.connectors["speech_live"]``) runs the AudioSocket server and a pool of worker processes
(``speech/live_worker.py``), each decoding many legs' streams with one loaded Vosk model. The PBX's stream is
never held up: each frame goes into the leg's bounded buffer (``speech/live_core.py``) and at most one chunk
per leg is at a worker at a time, so a slow worker means bigger chunks and, past ``live_buffer_s``, dropped
audio that the leg's transcript lists (the post-call transcription covers it). Each result updates the leg's
words (partial ones are replaced, final ones kept), is matched against the phrase lists, and a new match
becomes a ``LiveFlag`` handed to ``on_flag`` (the wiring pushes it to the supervisors). A worker that dies is
restarted (``speech/live_pool.py``); its legs go on elsewhere and what it held is listed as dropped. Logs carry ids
only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from bus.tasks import TaskSupervisor
from connectors.audiosocket.protocol import parse_leg_uuid
from connectors.audiosocket.server import AudioSocketServer
from speech.analytics import PhraseMatcher, tokens
from speech.live_core import FlagKey, FlagMemory, LegBuffer, percentile
from speech.live_pool import LivePool
from speech.recognizer import Result
from speech.settings import PhraseLists

log = logging.getLogger("hub.speech.live")
KEEP_S = 600.0  # a finished leg's words stay this long
MAX_CHUNK_S = 1.0  # a worker behind gets at most this much of a leg at a time: results keep coming meanwhile


@dataclass
class LiveFlag:
    stream: str
    linkedid: str | None
    leg: str
    category: str
    phrase: str
    heard: str
    at_s: float
    end_s: float
    delay_s: float  # from the word's end reaching the hub to the flag raised

    def payload(self) -> dict[str, Any]:
        return {"stream": self.stream, "linkedid": self.linkedid, "leg": self.leg, "category": self.category,
                "phrase": self.phrase, "heard": self.heard, "at_s": self.at_s, "delay_s": round(self.delay_s, 3)}


@dataclass(eq=False)
class Leg:
    stream: str
    linkedid: str | None
    leg: str
    worker: int
    buffer: LegBuffer
    final: list[dict] = field(default_factory=list)
    partial: list[dict] = field(default_factory=list)
    flags: FlagMemory = field(default_factory=FlagMemory)
    raised: list[LiveFlag] = field(default_factory=list)
    in_flight: bool = False
    sent_to_s: float = 0.0   # the stream time up to which audio went to a worker
    settled_s: float = 0.0   # the stream time up to which the words are final (a dead worker loses the rest)
    ended: str | None = None       # why the stream ended (closed, hangup, …)
    done_at: float | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)  # the last words are in

    def transcript(self) -> dict[str, Any]:
        gaps = [(round(g.start_s, 2), round(g.end_s, 2)) for g in self.buffer.gaps]
        note = (f"live transcription missed {self.buffer.dropped_s:.1f} s ({len(gaps)} gaps): "
                "the post-call transcription covers them") if gaps else None
        return {"stream": self.stream, "linkedid": self.linkedid, "leg": self.leg,
                "words": [dict(w, speaker=self.leg) for w in self.final + self.partial],
                "final": self.done.is_set(), "audio_s": round(self.buffer.received_s, 3), "dropped": gaps,
                "note": note, "ended": self.ended}


class _Sink:
    def __init__(self, service: LiveSpeech, leg: Leg) -> None:
        self.service, self.leg = service, leg

    def audio(self, pcm: bytes) -> None:
        self.service.audio(self.leg, pcm)

    def dtmf(self, digit: str) -> None:
        pass

    def end(self, reason: str) -> None:
        self.service.end(self.leg, reason)


class LiveSpeech:
    def __init__(self, *, model_path: str, workers: int = 2, host: str = "127.0.0.1", port: int = 9093,
                 phrases: PhraseLists | None = None, buffer_s: float = 10.0, chunk_s: float = 0.2,
                 answer_silence: bool = True, decoder: dict[str, float] | None = None,
                 on_flag: Callable[[LiveFlag], Coroutine[Any, Any, None]] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.model_path = model_path
        self.buffer_s = buffer_s
        self.chunk_s = chunk_s
        self.matcher = PhraseMatcher(phrases or PhraseLists())
        self.on_flag = on_flag
        self.clock = clock
        self.pool = LivePool(model_path, workers, self._reply, decoder)
        self.server = AudioSocketServer(self.open_stream, host, port, answer_silence=answer_silence)
        self.legs: dict[str, Leg] = {}
        self.calls: dict[str, dict[str, Leg]] = {}  # linkedid → leg name → Leg
        self.lags: deque[float] = deque(maxlen=20000)
        self.flag_delays: deque[float] = deque(maxlen=5000)
        self.listeners: list[Callable[[Leg, str, list[dict]], None]] = []  # (leg, "partial"/"final", words)
        self._state = "stopped"
        self._tasks = TaskSupervisor()

    @property
    def state(self) -> str:
        return self._state

    async def start(self) -> None:
        self._tasks = TaskSupervisor()
        self._state = "starting"
        try:
            await self.pool.start()
            await self.server.start()
        except Exception:
            self._state = "failed"
            await self.pool.stop()
            raise
        self._state = "running"

    async def stop(self) -> None:
        await self.server.stop()
        await self.pool.stop()
        await self._tasks.stop()
        self._state = "stopped"

    def stats(self) -> dict[str, Any]:
        lags = list(self.lags)
        return {"legs": len(self.legs), "active": self.server.stats.active,
                "lag_p50_s": round(percentile(lags, 50), 3), "lag_p95_s": round(percentile(lags, 95), 3),
                "flag_p95_s": round(percentile(list(self.flag_delays), 95), 3),
                "dropped_s": round(sum(leg.buffer.dropped_s for leg in self.legs.values()), 2)}

    # --- in: the AudioSocket server's side (synchronous, never blocks) -------------------------------------
    def open_stream(self, stream: str, peer: str) -> _Sink:
        self._forget(self.clock() - KEEP_S)
        linkedid, leg_name = parse_leg_uuid(stream) or (None, "unknown")
        worker = self.pool.pick()
        leg = Leg(stream, linkedid, leg_name, 0 if worker is None else worker, LegBuffer(cap_s=self.buffer_s))
        self.pool.streams[leg.worker] += 1
        self.legs[stream] = leg
        if linkedid:
            self.calls.setdefault(linkedid, {})[leg_name] = leg
        if worker is not None:  # else its worker is being restarted: the audio waits in the leg's buffer
            self.pool.send(leg.worker, ("open", stream))
        log.info("live stream %s call=%s leg=%s worker=%s", stream, linkedid, leg_name, leg.worker)
        return _Sink(self, leg)

    def audio(self, leg: Leg, pcm: bytes) -> None:
        leg.buffer.push(pcm, self.clock())
        if not leg.in_flight and leg.buffer.waiting_s >= self.chunk_s:
            self._dispatch(leg)

    def end(self, leg: Leg, reason: str) -> None:
        leg.ended = reason
        if leg.buffer.dropped_bytes:
            log.warning("live stream %s dropped %.1f s in %s gaps", leg.stream, leg.buffer.dropped_s,
                        len(leg.buffer.gaps))
        if not leg.in_flight:
            self._dispatch(leg)

    def _dispatch(self, leg: Leg) -> None:
        if not self.pool.alive[leg.worker]:
            return  # its worker is being restarted: the audio waits in the buffer (bounded) until then
        chunk = leg.buffer.take(max(self.chunk_s, MAX_CHUNK_S))
        if chunk is not None:
            self.pool.send(leg.worker, ("audio", leg.stream, chunk.start_s, chunk.pcm))
            leg.sent_to_s = chunk.end_s
            leg.in_flight = True
        elif leg.ended is not None:
            self.pool.send(leg.worker, ("close", leg.stream))
            leg.in_flight = True

    # --- out: the workers' results --------------------------------------------------------------------
    def _reply(self, worker: int, msg: tuple) -> None:
        if msg[0] in ("died", "restarted", "lost"):
            self._worker_event(worker, msg)
            return
        kind, stream, words, upto_s = msg
        leg = self.legs.get(stream)
        if leg is None:
            return
        leg.in_flight = False
        arrived = leg.buffer.arrived_at(upto_s)
        if arrived is not None:
            self.lags.append(max(0.0, self.clock() - arrived))
        leg.buffer.forget_before(upto_s)
        if kind == "closed":
            self._finish(leg, words)
            return
        if kind == "final":
            leg.settled_s = upto_s
            leg.final.extend(words)
            leg.partial = []
        else:
            leg.partial = words
        self._check(leg, words)
        for listener in self.listeners:
            listener(leg, kind, words)
        if leg.ended is not None or leg.buffer.waiting_s >= self.chunk_s:
            self._dispatch(leg)

    def _worker_event(self, worker: int, msg: tuple) -> None:
        """A worker died: what its recognizers held (audio since each leg's last final words) is listed as
        dropped, its legs go on at the least loaded live worker (or wait in their buffers for the restarted
        one), and the slot is restarted. A slot that cannot be restarted ends the legs left on it."""
        held = [leg for leg in self.legs.values() if leg.worker == worker and not leg.done.is_set()]
        if msg[0] == "died":
            log.error("live speech worker %s died holding %s streams; restarting it", worker, len(held))
            for leg in held:
                leg.buffer.lose(leg.settled_s, leg.sent_to_s)
                leg.settled_s, leg.partial, leg.in_flight = leg.sent_to_s, [], False
            with contextlib.suppress(RuntimeError):  # stopping
                self._tasks.spawn("live-speech-restart", self.pool.restart(worker))
        for leg in held:
            other = self.pool.pick(exclude=None if msg[0] == "restarted" else worker)
            if other is None:
                if msg[0] == "lost":
                    leg.ended = leg.ended or "worker died"
                    self._finish(leg, [])
                continue
            if other != leg.worker:
                self.pool.streams[leg.worker] -= 1
                self.pool.streams[other] += 1
                leg.worker = other
            if not leg.in_flight and (leg.ended is not None or leg.buffer.waiting_s >= self.chunk_s):
                self._dispatch(leg)

    def _finish(self, leg: Leg, words: list[dict]) -> None:
        leg.final.extend(words)
        leg.partial = []
        leg.in_flight = False
        self._check(leg, words)
        if not leg.done.is_set():
            self.pool.streams[leg.worker] -= 1
            leg.done_at = self.clock()
            leg.done.set()
            for listener in self.listeners:
                listener(leg, "final", words)
            log.info("live stream %s done: %s words, %.1f s, dropped %.1f s", leg.stream, len(leg.final),
                     leg.buffer.received_s, leg.buffer.dropped_s)

    def _check(self, leg: Leg, words: list[dict]) -> None:
        if not self.matcher.phrases or not words:
            return
        for m in self.matcher.find([dict(w, speaker=leg.leg) for w in words]):
            if m.at_s is None or m.category == "missing_script":
                continue
            if not leg.flags.is_new(FlagKey(m.category, m.phrase, leg.leg, float(m.at_s))):
                continue
            n = len(tokens(m.heard or "")) or 1
            first = next((i for i, w in enumerate(words) if w["start"] == m.at_s), 0)
            end_s = float(words[min(len(words) - 1, first + n - 1)]["end"])
            arrived = leg.buffer.arrived_at(end_s)
            delay = max(0.0, self.clock() - arrived) if arrived is not None else 0.0
            flag = LiveFlag(leg.stream, leg.linkedid, leg.leg, m.category, m.phrase, m.heard or "", float(m.at_s),
                            end_s, delay)
            leg.raised.append(flag)
            self.flag_delays.append(delay)
            log.info("live flag stream=%s call=%s leg=%s category=%s delay=%.2fs", leg.stream, leg.linkedid,
                     leg.leg, m.category, delay)
            if self.on_flag is not None:
                with contextlib.suppress(RuntimeError):
                    self._tasks.spawn("live-speech-flag", self.on_flag(flag))

    def _forget(self, before: float) -> None:
        """Finished legs are kept ``KEEP_S`` for their call's page, then dropped."""
        for stream, leg in list(self.legs.items()):
            if leg.done_at is not None and leg.done_at < before:
                del self.legs[stream]
                call = self.calls.get(leg.linkedid or "")
                if call is not None and call.get(leg.leg) is leg:
                    del call[leg.leg]
                    if not call:
                        del self.calls[leg.linkedid or ""]

    async def finished_call(self, linkedid: str, wait_s: float = 30.0) -> Result | None:
        """The call's transcript from its two legs as heard live, once both have ended (waiting up to ``wait_s``
        for their last words); None when a leg is missing, lost audio or ended on a dead worker."""
        legs = self.calls.get(linkedid, {})
        agent, client = legs.get("agent"), legs.get("client")
        if agent is None or client is None:
            return None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                await agent.done.wait()
                await client.done.wait()
        if not (agent.done.is_set() and client.done.is_set()) or any(
                leg.buffer.dropped_bytes or leg.ended == "worker died" for leg in (agent, client)):
            return None
        words = [dict(w, speaker=leg.leg) for leg in (agent, client) for w in leg.final]
        words.sort(key=lambda w: (w["start"], w["end"]))
        return Result(words, round(max(agent.buffer.received_s, client.buffer.received_s), 3), 2,
                      "transcribed live from the agent's and the client's legs")

    def call(self, linkedid: str) -> dict[str, dict[str, Any]]:
        """The call's legs' transcripts so far (agent / client)."""
        return {name: leg.transcript() for name, leg in self.calls.get(linkedid, {}).items()}
