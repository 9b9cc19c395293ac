"""A fake PBX leg: plays a WAV (or raw slin16 8 kHz audio) over AudioSocket, at real time or faster.

Sends what Asterisk 22 sends (``tests/fixtures/audiosocket``): the UUID packet, then 320-byte audio frames
every 20 ms (the last one shorter), then closes the connection without a HANGUP packet (``hangup=True``
sends one first). The server's answers are read meanwhile (as Asterisk does) and their size returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import wave
from pathlib import Path

from connectors.audiosocket import protocol as p


def wav_pcm(path: str | Path) -> bytes:
    """A WAV's samples as slin16 8 kHz mono (the fixtures' format; other formats are refused)."""
    with wave.open(str(path), "rb") as w:
        if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, 2, p.RATE):
            raise ValueError(f"{path}: not 16-bit 8 kHz mono")
        return w.readframes(w.getnframes())


async def stream_pcm(host: str, port: int, stream_id: str, pcm: bytes, *, speed: float = 1.0,
                     hangup: bool = False, sent_at: list[float] | None = None, answers_expected: bool = True,
                     hold_at_s: float | None = None, resume: asyncio.Event | None = None) -> int:
    """Stream ``pcm`` as one leg; ``speed`` 1.0 is real time (0: as fast as possible). Returns the bytes of
    the server's answers. ``sent_at`` (if given) gets the send time of each frame. With ``hold_at_s`` the
    call goes quiet after that much audio, the connection open, until ``resume`` is set."""
    reader, writer = await asyncio.open_connection(host, port)
    answered = 0

    async def drain_answers() -> None:
        nonlocal answered
        while data := await reader.read(65536):
            answered += len(data)

    answers = asyncio.create_task(drain_answers())
    try:
        writer.write(p.uuid_packet(stream_id))
        start = time.monotonic()
        hold = None if hold_at_s is None else int(hold_at_s * 2 * p.RATE)
        for n, i in enumerate(range(0, len(pcm), p.FRAME_BYTES)):
            if hold is not None and i >= hold and resume is not None:
                hold = None
                await writer.drain()
                held = time.monotonic()
                await resume.wait()
                start += time.monotonic() - held
            if speed > 0:
                delay = start + n * 0.02 / speed - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            writer.write(p.encode(p.AUDIO, pcm[i:i + p.FRAME_BYTES]))
            if sent_at is not None:
                sent_at.append(time.monotonic())
            await writer.drain()
        if hangup:
            writer.write(p.encode(p.HANGUP))
        await writer.drain()
        if answers_expected:
            await _settle(lambda: answered >= len(pcm) + p.HEADER * -(-len(pcm) // p.FRAME_BYTES))
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(answers, 1.0)
        answers.cancel()
    return answered


async def _settle(done, timeout_s: float = 2.0) -> None:  # noqa: ANN001
    """Give the server's answers time to arrive before closing (as Asterisk reads them until it hangs up)."""
    end = time.monotonic() + timeout_s
    while not done() and time.monotonic() < end:  # noqa: ASYNC110 - a counter the reading task updates
        await asyncio.sleep(0.01)


async def replay_capture(host: str, port: int, capture: bytes, *, chunk: int = 4096) -> bytes:
    """Send a captured stream's bytes as they are (arbitrary splits), read the answers, then close like
    Asterisk does (no HANGUP). Returns the answers."""
    reader, writer = await asyncio.open_connection(host, port)
    got = bytearray()

    async def read() -> None:
        while data := await reader.read(65536):
            got.extend(data)

    answers = asyncio.create_task(read())
    for i in range(0, len(capture), chunk):
        writer.write(capture[i:i + chunk])
        await writer.drain()
    expected = sum(p.HEADER + len(x.payload) for x in p.Decoder().feed(capture) if x.kind == p.AUDIO)
    await _settle(lambda: len(got) >= expected)
    answers.cancel()
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    return bytes(got)
