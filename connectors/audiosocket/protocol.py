"""AudioSocket packets: wire bytes in, ``Packet`` values out (and back).

A packet is 1 byte of type, 2 bytes of payload length (big-endian) and the payload. Asterisk sends ``UUID``
(16 raw bytes) first, then ``AUDIO`` (signed linear 16-bit little-endian, 8 kHz mono, 320 bytes = 20 ms), and
``DTMF`` (one ASCII digit); ``HANGUP`` (0x00) is optional: Asterisk 22 closes the TCP connection without it,
so a closed socket is the end of the stream (``Decoder.close``). ``ERROR`` carries an optional code byte.

Which call and which leg a stream belongs to is carried in the UUID the dialplan passes (``leg_uuid``):
the call's linked id (``1795390910.12``) and the leg (agent or client), no lookup needed.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

HANGUP = 0x00
UUID = 0x01
DTMF = 0x03
AUDIO = 0x10
ERROR = 0xFF
KNOWN = frozenset({HANGUP, UUID, DTMF, AUDIO, ERROR})
HEADER = 3
RATE = 8000
FRAME_BYTES = 320  # 20 ms of slin16 at 8 kHz
DEFAULT_MAX_PAYLOAD = 4096  # Asterisk sends 320; a few frames of slin at higher rates still fit
LEGS = ("agent", "client")
LEG_MARK = "a5c0"  # the third group of a hub leg UUID


class PacketTooLarge(Exception):
    """A packet announced a payload longer than the configured cap (a garbled or hostile stream)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"AudioSocket payload of {size} bytes exceeds the {limit}-byte limit")
        self.size = size
        self.limit = limit


@dataclass(frozen=True, slots=True)
class Packet:
    kind: int
    payload: bytes

    @property
    def uuid(self) -> str:
        return str(uuid.UUID(bytes=self.payload)) if self.kind == UUID and len(self.payload) == 16 else ""


class Decoder:
    """Split an AudioSocket byte stream into packets.

    ``feed`` returns the whole packets read so far; ``close`` (the socket closed) ends the stream and counts
    an unfinished packet's bytes in ``truncated_bytes``. Unknown packet types are skipped and counted in
    ``unknown_packets``; a UUID packet that is not 16 bytes long is counted in ``bad_uuid``.
    """

    def __init__(self, max_payload: int = DEFAULT_MAX_PAYLOAD) -> None:
        self.max_payload = max_payload
        self.unknown_packets = 0
        self.bad_uuid = 0
        self.truncated_bytes = 0
        self.audio_bytes = 0
        self.ended = False
        self.error: PacketTooLarge | None = None
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Packet]:
        self.check()
        if self.ended:
            return []
        self._buf += data
        buf = self._buf
        out: list[Packet] = []
        start = 0
        while len(buf) - start >= HEADER:
            kind = buf[start]
            size = int.from_bytes(buf[start + 1:start + 3], "big")
            if size > self.max_payload:
                self.error = PacketTooLarge(size, self.max_payload)
                if not out:
                    raise self.error
                break  # the packets before it are handed out; the next ``feed`` or ``check`` raises
            end = start + HEADER + size
            if end > len(buf):
                break
            payload = bytes(buf[start + HEADER:end])
            start = end
            if kind not in KNOWN:
                self.unknown_packets += 1
                continue
            if kind == UUID and size != 16:
                self.bad_uuid += 1
                continue
            if kind == AUDIO:
                self.audio_bytes += size
            out.append(Packet(kind, payload))
            if kind == HANGUP:
                self.ended = True
                break
        del buf[:start]
        return out

    def check(self) -> None:
        """Raise the ``PacketTooLarge`` met after the packets the last ``feed`` returned."""
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        """The connection closed: the end of the stream, with or without a HANGUP packet."""
        self.truncated_bytes += len(self._buf)
        self._buf.clear()
        self.ended = True

    @property
    def audio_s(self) -> float:
        return self.audio_bytes / (2 * RATE)


def encode(kind: int, payload: bytes = b"") -> bytes:
    if len(payload) > 0xFFFF:
        raise PacketTooLarge(len(payload), 0xFFFF)
    return bytes((kind,)) + len(payload).to_bytes(2, "big") + payload


def uuid_packet(stream_id: str) -> bytes:
    return encode(UUID, uuid.UUID(stream_id).bytes)


def silence(size: int) -> bytes:
    """The answer the hub sends to an audio frame: silence of the same length."""
    return encode(AUDIO, bytes(size))


def leg_uuid(linkedid: str, leg: str) -> str:
    """The UUID the dialplan builds for one leg of a call (see docs/speech.md): ``EEEEEEEE-EE0L-a5c0-0000-SSSS…``
    with the linked id's seconds E (10 digits), its sequence S (12 digits) and the leg L (1 agent, 2 client)."""
    secs, _, seq = linkedid.partition(".")
    if not (secs.isdigit() and seq.isdigit() and len(secs) <= 10 and len(seq) <= 12 and leg in LEGS):
        raise ValueError(f"cannot build a leg UUID from {linkedid!r} and {leg!r}")
    e = secs.zfill(10)
    return f"{e[:8]}-{e[8:]}0{LEGS.index(leg) + 1}-{LEG_MARK}-0000-{seq.zfill(12)}"


_LEG_UUID = re.compile(rf"^(\d{{8}})-(\d\d)0([12])-{LEG_MARK}-0000-(\d{{12}})$")


def parse_leg_uuid(stream_id: str) -> tuple[str, str] | None:
    """``(linkedid, leg)`` from a hub leg UUID, None for any other UUID."""
    m = _LEG_UUID.match(stream_id.lower())
    if m is None:
        return None
    return f"{int(m.group(1) + m.group(2))}.{int(m.group(4))}", LEGS[int(m.group(3)) - 1]
