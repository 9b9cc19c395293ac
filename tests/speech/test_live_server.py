"""The AudioSocket server, fed the real Asterisk stream: one leg per connection, its audio to the sink, every
frame answered with silence, the end seen even without a HANGUP packet, and a clean stop."""

from __future__ import annotations

import asyncio

import pytest

from connectors.audiosocket import protocol as p
from connectors.audiosocket.fake_stream import replay_capture, stream_pcm
from connectors.audiosocket.server import AudioSocketServer
from tests.speech.test_live_protocol import CAPTURE, FIXTURE_UUID


class Sink:
    def __init__(self, stream: str) -> None:
        self.stream, self.frames, self.digits, self.ended = stream, [], [], []
        self.done = asyncio.Event()

    def audio(self, pcm: bytes) -> None:
        self.frames.append(pcm)

    def dtmf(self, digit: str) -> None:
        self.digits.append(digit)

    def end(self, reason: str) -> None:
        self.ended.append(reason)
        self.done.set()


@pytest.fixture
async def server():
    sinks: list[Sink] = []

    def open_stream(stream: str, peer: str) -> Sink:
        sinks.append(Sink(stream))
        return sinks[-1]

    srv = AudioSocketServer(open_stream, "127.0.0.1", 0, uuid_timeout_s=0.5)
    await srv.start()
    srv.sinks = sinks
    yield srv
    await srv.stop()


async def test_the_real_stream_reaches_the_sink_and_every_frame_is_answered_with_silence(server):
    answer = await replay_capture("127.0.0.1", server.port, CAPTURE, chunk=1500)  # closes: no HANGUP
    sink = server.sinks[0]
    await asyncio.wait_for(sink.done.wait(), 5)
    assert sink.stream == FIXTURE_UUID and sink.ended == ["closed"]
    assert len(sink.frames) == 456 and sum(map(len, sink.frames)) == 2 * 8000 * 9.11175
    d = p.Decoder()
    answers = d.feed(answer)
    assert [len(a.payload) for a in answers] == [len(f) for f in sink.frames]
    assert all(a.kind == p.AUDIO and not any(a.payload) for a in answers)
    assert (server.stats.streams, server.stats.active) == (1, 0)


async def test_many_legs_at_once_stay_apart(server):
    a, b = p.leg_uuid("1795390910.7", "agent"), p.leg_uuid("1795390910.7", "client")
    await asyncio.gather(stream_pcm("127.0.0.1", server.port, a, b"\x01\x00" * 8000, speed=0),
                         stream_pcm("127.0.0.1", server.port, b, b"\x02\x00" * 4000, speed=0, hangup=True),
                         replay_capture("127.0.0.1", server.port, CAPTURE))
    for s in server.sinks:
        await asyncio.wait_for(s.done.wait(), 5)
    by = {s.stream: s for s in server.sinks}
    assert set(b"".join(by[a].frames)) == {1, 0} and len(b"".join(by[a].frames)) == 16000
    assert len(b"".join(by[b].frames)) == 8000 and by[b].ended == ["hangup"]
    assert len(by[FIXTURE_UUID].frames) == 456


async def test_a_connection_without_a_uuid_or_with_a_huge_packet_is_closed(server):
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(p.encode(p.AUDIO, bytes(320)))
    assert await asyncio.wait_for(reader.read(), 3) == b""  # closed after uuid_timeout_s
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(p.uuid_packet(FIXTURE_UUID) + bytes((p.AUDIO,)) + (60000).to_bytes(2, "big"))
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 3) == b""
    assert server.sinks[0].ended == ["packet too large"]
    assert (server.stats.no_uuid, server.stats.too_large, server.stats.active) == (1, 1, 0)


async def test_stop_ends_open_streams_and_is_awaited(server):
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(p.uuid_packet(FIXTURE_UUID) + p.encode(p.AUDIO, bytes(320)))
    await writer.drain()
    for _ in range(100):
        if server.sinks and server.sinks[0].frames:
            break
        await asyncio.sleep(0.01)
    await asyncio.wait_for(server.stop(), 5)
    assert server.sinks[0].ended == ["server stopped"] and server.state == "stopped"
    assert await asyncio.wait_for(reader.read(), 3) in (b"", p.silence(320))
    writer.close()
