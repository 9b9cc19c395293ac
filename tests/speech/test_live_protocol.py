"""The AudioSocket wire format against the real stream Asterisk 22.10.1 sent (tests/fixtures/audiosocket),
and a leg's live buffer: what a slow worker makes it drop, and what it then says."""

from __future__ import annotations

import random

import pytest

from connectors.audiosocket import protocol as p
from speech.live_core import FlagKey, FlagMemory, LegBuffer
from tests.conftest import FIXTURES
from tests.speech.conftest import ANSWERED, read_wav

CAPTURE = (FIXTURES / "audiosocket" / "audiosocket_stream.bin").read_bytes()
FIXTURE_UUID = "40325ec2-5efd-4bd3-805f-53576e581d13"


def decode(data: bytes, split: int | None = None) -> tuple[list[p.Packet], p.Decoder]:
    d = p.Decoder()
    out: list[p.Packet] = []
    rnd = random.Random(split)
    i = 0
    while i < len(data):
        n = rnd.randint(1, 700) if split is not None else len(data)
        out += d.feed(data[i:i + n])
        i += n
    d.close()
    return out, d


@pytest.mark.parametrize("split", [None, 1, 2, 3])
def test_the_real_stream_decodes_into_its_uuid_and_9_1_seconds_of_audio(split):
    packets, d = decode(CAPTURE, split)
    assert packets[0].kind == p.UUID and packets[0].uuid == FIXTURE_UUID
    audio = [x for x in packets[1:] if x.kind == p.AUDIO]
    assert len(audio) == len(packets) - 1 == 456
    # 20 ms frames; each played file's last frame is shorter (Playback ends the file there): 3 files
    assert [(i, len(x.payload)) for i, x in enumerate(audio) if len(x.payload) != 320] == [
        (100, 276), (377, 276), (455, 276)]
    assert round(d.audio_s, 1) == 9.1
    assert not any(x.kind == p.HANGUP for x in packets)  # Asterisk just closed the connection
    assert d.ended and d.truncated_bytes == 0 and d.unknown_packets == 0
    assert b"".join(p.encode(x.kind, x.payload) for x in packets) == CAPTURE  # byte for byte


def test_the_first_recording_arrives_sample_for_sample():
    packets, _ = decode(CAPTURE)
    pcm = b"".join(x.payload for x in packets if x.kind == p.AUDIO)
    samples, rate = read_wav(ANSWERED)
    assert rate == p.RATE
    wav = samples[:, 0].astype("<i2").tobytes()
    # the file's 101 frames went out as 100 frames and one of 276 bytes: all but its last 22 samples
    assert len(wav) == 101 * 320 and pcm[:100 * 320 + 276] == wav[:100 * 320 + 276]


def test_a_cut_stream_ends_at_the_close_and_counts_the_unfinished_packet():
    packets, d = decode(CAPTURE[:1000])
    assert packets[0].uuid == FIXTURE_UUID and d.ended
    assert d.truncated_bytes == (1000 - 19) % 323 and len(packets) == 1 + (1000 - 19) // 323


def test_an_oversized_packet_is_refused_by_name_and_unknown_ones_are_skipped():
    d = p.Decoder(max_payload=1024)
    with pytest.raises(p.PacketTooLarge) as err:
        d.feed(bytes((p.AUDIO,)) + (5000).to_bytes(2, "big"))
    assert err.value.size == 5000 and err.value.limit == 1024
    d = p.Decoder()
    got = d.feed(p.encode(0x42, b"xx") + p.encode(p.UUID, b"short") + p.encode(p.DTMF, b"5") + p.encode(p.HANGUP)
                 + p.encode(p.AUDIO, bytes(320)))
    assert [(x.kind, x.payload) for x in got] == [(p.DTMF, b"5"), (p.HANGUP, b"")]  # nothing after HANGUP
    assert (d.unknown_packets, d.bad_uuid, d.ended) == (1, 1, True)


def test_a_leg_uuid_names_the_call_and_the_leg():
    u = p.leg_uuid("1795390910.102", "client")
    assert u == "17953909-1002-a5c0-0000-000000000102"
    assert p.parse_leg_uuid(u) == ("1795390910.102", "client")
    assert p.parse_leg_uuid(p.leg_uuid("1795390910.0", "agent")) == ("1795390910.0", "agent")
    assert p.Packet(p.UUID, p.uuid_packet(u)[3:]).uuid == u
    assert p.parse_leg_uuid(FIXTURE_UUID) is None
    with pytest.raises(ValueError):
        p.leg_uuid("not-a-linkedid", "agent")


def test_a_full_leg_buffer_drops_the_oldest_audio_and_says_which_seconds():
    b = LegBuffer(cap_s=1.0)
    for i in range(100):  # 2 s of frames, nothing taken: a worker that does not keep up
        b.push(bytes(320), now=100 + i * 0.02)
    assert b.received_s == 2.0 and b.waiting_s == 1.0 and b.dropped_s == 1.0
    assert [(g.start_s, g.end_s) for g in b.gaps] == [(0.0, 1.0)]  # one span, not fifty
    chunk = b.take(0.5)
    assert chunk is not None and (chunk.start_s, chunk.end_s) == (1.0, 1.5)
    assert b.arrived_at(1.5) == pytest.approx(100 + 74 * 0.02)
    assert b.covered([{"word": "a", "start": 0.5}, {"word": "b", "start": 1.2}]) == [{"word": "b", "start": 1.2}]


def test_a_partial_and_its_final_are_one_flag():
    m = FlagMemory(tolerance_s=1.0)
    assert m.is_new(FlagKey("rudeness", "x", "agent", 3.78))
    assert not m.is_new(FlagKey("rudeness", "x", "agent", 3.8))
    assert m.is_new(FlagKey("rudeness", "x", "client", 3.8)) and m.is_new(FlagKey("rudeness", "x", "agent", 9.0))
    assert len(m) == 3
