"""Reading recordings and converting them to what the model expects: 16-bit mono PCM at its sample rate.

WAV (PCM, 8/16/24/32-bit integer or 32-bit float, any rate, one or two channels) is read with the
standard library; resampling uses libsoxr (python-soxr), a proper band-limited resampler.
A file that cannot be read raises ``AudioError`` with the reason a person can act on.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from speech.errors import AudioError

__all__ = ["Audio", "AudioError"]  # AudioError lives in speech.errors (no NumPy there); callers may import it here


@dataclass(frozen=True, slots=True)
class Audio:
    channels: list[np.ndarray]  # float32 in [-1, 1], one array per channel
    rate: int
    note: str | None = None     # something wrong but readable (e.g. a truncated file)

    @property
    def duration_s(self) -> float:
        return len(self.channels[0]) / self.rate if self.channels else 0.0


_FORMATS = {1: "PCM", 3: "IEEE float", 6: "A-law", 7: "µ-law", 0xFFFE: "extensible"}


def read_wav(path: str | Path) -> Audio:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise AudioError(f"recording file not found: {path}") from None
    except OSError as exc:
        raise AudioError(f"recording file unreadable: {exc.strerror or exc}") from None
    if not data:
        raise AudioError("empty recording file (0 bytes)")
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RF64") or data[8:12] != b"WAVE":
        raise AudioError("not a WAV file (no RIFF/WAVE header)")
    fmt = None
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if cid == b"fmt ":
            if size < 16 or body + 16 > len(data):
                raise AudioError("corrupt WAV: the format chunk is cut short")
            tag, nch, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, body)
            if tag == 0xFFFE and size >= 26:
                tag = struct.unpack_from("<H", data, body + 24)[0]
            fmt = (tag, nch, rate, bits)
        elif cid == b"data":
            if fmt is None:
                raise AudioError("corrupt WAV: audio data before the format chunk")
            return _decode(data[body:body + size], size, *fmt)
        pos = body + size + (size & 1)
    if fmt is None:
        raise AudioError("corrupt WAV: no format chunk")
    raise AudioError("corrupt WAV: no audio data chunk")


def _decode(raw: bytes, declared: int, tag: int, nch: int, rate: int, bits: int) -> Audio:
    if tag not in (1, 3):
        raise AudioError(f"unsupported WAV encoding: {_FORMATS.get(tag, f'format {tag}')} (PCM or float needed)")
    if nch not in (1, 2):
        raise AudioError(f"unsupported channel count: {nch} (mono or stereo needed)")
    if not 4000 <= rate <= 192000:
        raise AudioError(f"implausible sample rate in the header: {rate} Hz")
    width = bits // 8
    if (tag == 1 and width not in (1, 2, 3, 4)) or (tag == 3 and width != 4):
        raise AudioError(f"unsupported sample width: {bits} bits")
    frame = width * nch
    usable = len(raw) - len(raw) % frame
    if usable == 0:
        raise AudioError("the recording holds no audio (empty data chunk)")
    note = None
    if len(raw) < declared:
        note = (f"truncated recording: the header declares {declared / frame / rate:.2f} s, "
                f"the file holds {usable / frame / rate:.2f} s; the readable part was transcribed")
    raw = raw[:usable]
    if tag == 3:
        samples = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    elif width == 1:
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        samples = (np.where(v >= 1 << 23, v - (1 << 24), v)).astype(np.float32) / float(1 << 23)
    else:
        samples = np.frombuffer(raw, dtype="<i4").astype(np.float32) / float(1 << 31)
    frames = samples.reshape(-1, nch)
    return Audio([np.ascontiguousarray(frames[:, c]) for c in range(nch)], rate, note)


def to_model_pcm(channel: np.ndarray, rate: int, model_rate: int) -> bytes:
    """One channel as 16-bit little-endian PCM at the model's rate (resampled with soxr when rates differ)."""
    if rate != model_rate:
        channel = soxr.resample(channel, rate, model_rate, quality="HQ")
    return (np.clip(channel, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
