"""An AudioSocket TCP server: one connection per call leg, its audio handed to a sink as it arrives.

The first packet names the stream (its UUID); every audio frame goes to the sink synchronously (a sink must
never block: the hub's buffers it and returns) and is answered with silence of the same size, as a plain
listener does (``answer_silence=False``: nothing is sent back). A closed socket, a HANGUP or an ERROR packet
ends the stream; the sink's ``end`` is called exactly once with the reason. Every connection is an owned task,
cancelled and awaited on ``stop``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bus.tasks import TaskSupervisor
from connectors.audiosocket import protocol as p

log = logging.getLogger("hub.audiosocket")


class StreamSink(Protocol):
    def audio(self, pcm: bytes) -> None: ...

    def dtmf(self, digit: str) -> None: ...

    def end(self, reason: str) -> None: ...


OpenStream = Callable[[str, str], StreamSink]  # (stream UUID, peer address) → the sink for its audio


@dataclass
class ServerStats:
    streams: int = 0
    active: int = 0
    no_uuid: int = 0          # connections closed because no UUID packet came first
    too_large: int = 0        # connections closed on PacketTooLarge
    unknown_packets: int = 0
    truncated_bytes: int = 0
    refused: int = 0          # over max_streams


class AudioSocketServer:
    def __init__(self, open_stream: OpenStream, host: str = "127.0.0.1", port: int = 9093, *,
                 answer_silence: bool = True, max_payload: int = p.DEFAULT_MAX_PAYLOAD,
                 uuid_timeout_s: float = 5.0, max_streams: int = 1000) -> None:
        self.open_stream = open_stream
        self.host = host
        self.port = port
        self.answer_silence = answer_silence
        self.max_payload = max_payload
        self.uuid_timeout_s = uuid_timeout_s
        self.max_streams = max_streams
        self.stats = ServerStats()
        self._server: asyncio.Server | None = None
        self._tasks = TaskSupervisor()

    @property
    def state(self) -> str:
        return "running" if self._server is not None else "stopped"

    async def start(self) -> None:
        self._tasks = TaskSupervisor()
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]  # port 0: the one the system chose
        log.info("AudioSocket server listening on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        await self._tasks.stop()
        if server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 2)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.stats.active >= self.max_streams:
            self.stats.refused += 1
            writer.close()
            return
        try:
            task = self._tasks.spawn("audiosocket-conn", self._serve(reader, writer))
        except RuntimeError:  # stopping
            writer.close()
            return
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = (writer.get_extra_info("peername") or ("?", 0))[:2]
        peer = f"{host}:{port}"
        decoder = p.Decoder(self.max_payload)
        sink: StreamSink | None = None
        reason = "closed"
        self.stats.active += 1
        try:
            sink, pending = await self._open(reader, decoder, peer)
            if sink is None:
                return
            while True:
                for packet in pending:
                    if packet.kind == p.AUDIO:
                        sink.audio(packet.payload)
                        if self.answer_silence:
                            writer.write(p.silence(len(packet.payload)))
                    elif packet.kind == p.DTMF:
                        sink.dtmf(packet.payload[:1].decode("ascii", "replace"))
                    elif packet.kind == p.HANGUP:
                        reason = "hangup"
                    elif packet.kind == p.ERROR:
                        reason = f"error {packet.payload[:1].hex() or '-'}"
                decoder.check()
                if decoder.ended or reason != "closed":
                    break
                data = await reader.read(65536)
                if not data:
                    decoder.close()
                    break
                pending = decoder.feed(data)
        except p.PacketTooLarge:
            self.stats.too_large += 1
            reason = "packet too large"
        except (ConnectionError, OSError):
            decoder.close()  # Asterisk hung up (with our answers unread, the close is a reset): the end
        except asyncio.CancelledError:
            reason = "server stopped"
            raise
        finally:
            self.stats.active -= 1
            self.stats.unknown_packets += decoder.unknown_packets
            self.stats.truncated_bytes += decoder.truncated_bytes
            if sink is not None:
                sink.end(reason)
            writer.close()

    async def _open(self, reader: asyncio.StreamReader, decoder: p.Decoder,
                    peer: str) -> tuple[StreamSink | None, list[p.Packet]]:
        """Read up to the UUID packet; return the stream's sink and the packets read after it."""
        try:
            async with asyncio.timeout(self.uuid_timeout_s):
                while True:
                    data = await reader.read(65536)
                    if not data:
                        break
                    packets = decoder.feed(data)
                    for i, packet in enumerate(packets):
                        if packet.kind == p.UUID:
                            self.stats.streams += 1
                            log.info("AudioSocket stream %s from %s", packet.uuid, peer)
                            return self.open_stream(packet.uuid, peer), packets[i + 1:]
                    if decoder.ended:
                        break
        except TimeoutError:
            pass
        self.stats.no_uuid += 1
        log.warning("AudioSocket connection from %s sent no UUID; closed", peer)
        return None, []
