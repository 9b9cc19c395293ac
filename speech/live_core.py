"""Live speech, the pure part: one leg's bounded audio buffer, its clock and its flags.

Audio is appended as it arrives from the PBX and never refused: when the buffer holds more than ``cap_s``
seconds the oldest waiting audio is dropped and the dropped span (in stream time) is recorded, so the
transcript can say what the live view missed (the post-call transcription covers it). ``take`` hands the
waiting audio to the recognizer with its stream time; ``arrived_at`` maps a stream time back to when that
audio reached the hub (the lag of a result, the delay of a flag).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

BYTES_PER_S = 16000  # slin16, 8 kHz mono


@dataclass(frozen=True, slots=True)
class Chunk:
    start_s: float
    pcm: bytes

    @property
    def end_s(self) -> float:
        return self.start_s + len(self.pcm) / BYTES_PER_S


@dataclass(frozen=True, slots=True)
class Gap:
    start_s: float
    end_s: float


@dataclass
class LegBuffer:
    cap_s: float = 10.0
    received_bytes: int = 0
    dropped_bytes: int = 0
    gaps: list[Gap] = field(default_factory=list)
    _pending: bytearray = field(default_factory=bytearray)
    _pending_start: int = 0  # byte offset in the stream of _pending[0]
    _arrivals: deque[tuple[int, float]] = field(default_factory=deque)  # (end byte, arrival time)

    def push(self, pcm: bytes, now: float) -> int:
        """Append audio that arrived at ``now``; returns the bytes dropped to stay under the cap."""
        self._pending += pcm
        self.received_bytes += len(pcm)
        self._arrivals.append((self.received_bytes, now))
        cap = int(self.cap_s * BYTES_PER_S) & ~1
        over = len(self._pending) - cap
        if over <= 0:
            return 0
        over += over & 1  # whole samples
        start = self._pending_start
        del self._pending[:over]
        self._pending_start += over
        self.dropped_bytes += over
        s, e = start / BYTES_PER_S, (start + over) / BYTES_PER_S
        if self.gaps and abs(self.gaps[-1].end_s - s) < 1e-9:
            self.gaps[-1] = Gap(self.gaps[-1].start_s, e)
        else:
            self.gaps.append(Gap(s, e))
        return over

    def lose(self, start_s: float, end_s: float) -> None:
        """Audio the hub had handed on and will not get words for (its worker died): listed as a gap."""
        if end_s <= start_s:
            return
        self.dropped_bytes += int((end_s - start_s) * BYTES_PER_S) & ~1
        self.gaps.append(Gap(start_s, end_s))
        self.gaps.sort(key=lambda g: g.start_s)

    @property
    def waiting_s(self) -> float:
        return len(self._pending) / BYTES_PER_S

    @property
    def received_s(self) -> float:
        return self.received_bytes / BYTES_PER_S

    @property
    def dropped_s(self) -> float:
        return self.dropped_bytes / BYTES_PER_S

    def take(self, max_s: float = 2.0) -> Chunk | None:
        """Up to ``max_s`` seconds of the waiting audio, oldest first, with its stream time."""
        if not self._pending:
            return None
        n = min(len(self._pending), int(max_s * BYTES_PER_S) & ~1) or len(self._pending)
        chunk = Chunk(self._pending_start / BYTES_PER_S, bytes(self._pending[:n]))
        del self._pending[:n]
        self._pending_start += n
        return chunk

    def arrived_at(self, t_s: float) -> float | None:
        """When the audio at stream time ``t_s`` reached the hub (None: not yet, or forgotten)."""
        want = int(t_s * BYTES_PER_S)
        for end, at in self._arrivals:
            if end >= want:
                return at
        return None

    def forget_before(self, t_s: float) -> None:
        """Arrival times before ``t_s`` (minus a margin for word ends) are no longer needed."""
        keep = int((t_s - 30.0) * BYTES_PER_S)
        while len(self._arrivals) > 1 and self._arrivals[0][0] < keep:
            self._arrivals.popleft()

    def covered(self, words: list[dict[str, object]]) -> list[dict[str, object]]:
        """Words outside the dropped spans (a recognizer restarted after a gap never straddles one)."""
        def inside(w: dict[str, object]) -> bool:
            start = w.get("start")
            return isinstance(start, float | int) and any(g.start_s <= start < g.end_s for g in self.gaps)
        return [w for w in words if not inside(w)]


@dataclass(frozen=True, slots=True)
class FlagKey:
    category: str
    phrase: str
    speaker: str
    at_s: float


class FlagMemory:
    """A listed phrase is flagged once per occurrence: a partial result and the final one that confirms it,
    whose times move by a few hundredths, are one occurrence (within ``tolerance_s``)."""

    def __init__(self, tolerance_s: float = 1.0) -> None:
        self.tolerance_s = tolerance_s
        self._seen: list[FlagKey] = []

    def is_new(self, key: FlagKey) -> bool:
        for k in self._seen:
            if (k.category, k.phrase, k.speaker) == (key.category, key.phrase, key.speaker) \
                    and abs(k.at_s - key.at_s) <= self.tolerance_s:
                return False
        self._seen.append(key)
        return True

    def __len__(self) -> int:
        return len(self._seen)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    i = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[i]
