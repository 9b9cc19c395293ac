"""A fake Asterisk for tests and the demo: a real TCP server on loopback that speaks AMI.

It answers Login (good and bad secret, as badlogin.txt), Ping, the list actions a client sends after a
reconnect (``CoreShowChannels`` from the channels alive in its replay, ``QueueStatus``/``QueueSummary`` as
recorded in resync.txt), Originate, Redirect and Logoff, and replays the events of real traces read from
``connectors/asterisk/ami_traces`` at run time, at real or scaled speed, to every logged-in client at once — as one PBX
with one timeline. It can drop the link, go half-open (TCP open, nothing answered), write frames cut into
pieces of any size, restart (live calls gone), and it counts the actions it received.

It answers the hub's Originate by replaying a ``click_to_call_*`` trace (``originate_traces``: by extension,
``"*"`` for any), its ``OriginateResponse`` carrying the hub's ActionID. A replayed ``Shutdown`` restarts it
(the sessions close, the calls are gone); a trace of a killed PBX ends the sessions the same way, without a
word. Every login gets ``FullyBooted`` with the fake's uptime, as Asterisk sends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from connectors.asterisk.fake_replay import (
    LIST_EVENTS,
    Replay,
    events_of,
    parse_frame,
    recorded_lists,
    shift_ids,
    with_action_id,
)
from connectors.asterisk.protocol import AmiFrameSplitter

__all__ = ["BANNER", "LIST_EVENTS", "FakePbx", "encode_frame", "parse_frame", "shift_ids"]

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
CHANNEL_FIELDS = (
    "Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName", "ConnectedLineNum",
    "ConnectedLineName", "Language", "AccountCode", "Context", "Exten", "Priority", "Uniqueid", "Linkedid",
)


def encode_frame(headers: dict[str, str]) -> bytes:
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items()) + b"\r\n"


@dataclass(eq=False)
class _Client:
    writer: asyncio.StreamWriter
    logged_in: bool = False


class FakePbx:
    """One fake Asterisk. ``FakePbx("answered.txt", secret=...)`` replays a trace once after the first login."""

    def __init__(
        self,
        trace: str | Path | None = None,
        *,
        secret: str,
        username: str = "hub",
        speed: float = 1.0,
        traces: Sequence[str | Path] = (),
        loop: bool = False,
        pause_s: float = 0.0,
        hold_while_nobody_listens: bool = True,
        chunk_size: int | None = None,
        known_extensions: frozenset[str] | None = None,
        answer_delay_s: dict[str, float] | None = None,
        autoplay: bool = True,
        replace: dict[str, str] | None = None,
        originate_traces: Mapping[str, str | Path] | None = None,
    ) -> None:
        self.username = username
        self.secret = secret
        self.speed = speed
        self.loop = loop
        self.pause_s = pause_s
        self.hold_while_nobody_listens = hold_while_nobody_listens
        self.chunk_size = chunk_size
        self.known_extensions = known_extensions
        self.answer_delay_s = {k.lower(): v for k, v in (answer_delay_s or {}).items()}
        self.actions: Counter[str] = Counter()
        self.received: list[dict[str, str]] = []
        self.replay_done = asyncio.Event()
        self.events_sent = 0
        self.half_open = False
        self.live_channels: dict[str, dict[str, str]] = {}
        self.sent_log: list[tuple[float, bytes]] = []  # (monotonic time, frame) when ``keep_sent_log``
        self.keep_sent_log = False
        self.autoplay = autoplay
        names = [trace] if trace else []
        self._replays = [events_of(name, replace or {}) for name in [*names, *traces]]
        self._originate_replays = {ext: events_of(name, {}) for ext, name in (originate_traces or {}).items()}
        self.originates_played = 0
        self.booted = time.time() - 259  # up for a while already, as in the traces; a restart() boots it anew
        self.restarts = 0
        self._server: asyncio.base_events.Server | None = None
        self._clients: set[_Client] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._player: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._recorded_lists: dict[str, list[dict[str, str]]] | None = None
        self._skip_linkedids: set[str] = set()

    # --- server life ----------------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)

    async def stop(self) -> None:
        if self._player is not None:
            self._player.cancel()
        self.drop()
        for task in list(self._tasks) + ([self._player] if self._player else []):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FakePbx:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- faults ---------------------------------------------------------------------------------
    def drop(self) -> None:
        """Cut every client's TCP connection at once (a network failure)."""
        for client in list(self._clients):
            client.writer.transport.abort()
        self._clients.clear()
        self._listening.clear()

    def go_half_open(self) -> None:
        """Keep every TCP connection open but answer and send nothing more."""
        self.half_open = True

    def recover(self) -> None:
        self.half_open = False

    def restart(self) -> None:
        """A PBX restart: links cut, and the calls that were up are gone (their remaining events too)."""
        self._skip_linkedids = {ch.get("Linkedid", "") for ch in self.live_channels.values()}
        self.live_channels.clear()
        self.booted = time.time()
        self.restarts += 1
        self.drop()

    def broadcast(self, data: bytes) -> int:
        """Send frames of the caller's own making to every logged-in client (a generated load, say)."""
        if self.half_open:
            return 0
        reached = 0
        for client in list(self._clients):
            if client.logged_in:
                self._send(client, data)
                reached += 1
        self.events_sent += data.count(b"\r\n\r\n")
        return reached

    @property
    def listeners(self) -> int:
        return sum(1 for c in self._clients if c.logged_in)

    # --- one client -----------------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = _Client(writer)
        self._clients.add(client)
        splitter = AmiFrameSplitter()
        writer.write(BANNER)
        try:
            while data := await reader.read(65536):
                for frame in splitter.feed(data):
                    if self.half_open:
                        self._count(frame)
                        continue
                    if not await self._answer(client, frame):
                        return
        except (ConnectionError, OSError):
            pass
        finally:
            self._clients.discard(client)
            if not self.listeners:
                self._listening.clear()
            writer.close()

    def _count(self, frame: dict[str, str]) -> None:
        self.actions[frame.get("Action", "")] += 1
        self.received.append(frame)

    async def _answer(self, client: _Client, frame: dict[str, str]) -> bool:
        self._count(frame)
        action = frame.get("Action", "").lower()
        reply = {"Response": "Success"}
        if "ActionID" in frame:
            reply["ActionID"] = frame["ActionID"]
        if delay := self.answer_delay_s.get(action):
            await asyncio.sleep(delay)
            if client not in self._clients or self.half_open:
                return False
        if action == "login":
            return self._login(client, frame, reply)
        if not client.logged_in:
            self._write(client, {**reply, "Response": "Error", "Message": "Permission denied"})
        elif action == "ping":
            self._write(client, {**reply, "Ping": "Pong", "Timestamp": f"{time.time():.6f}"})
        elif action == "logoff":
            self._write(client, {"Response": "Goodbye", **reply, "Message": "Thanks for all the fish."})
            return False
        elif action == "coreshowchannels":
            self._list(client, reply, "Channels will follow", "CoreShowChannel", self._channel_rows(),
                       "CoreShowChannelsComplete")
        elif action in ("queuestatus", "queuesummary"):
            self._recorded_list(client, reply, action)
        elif action == "originate":
            self._originate(client, frame, reply)
        else:
            self._write(client, {**reply, "Message": f"{frame.get('Action')} accepted"})
        return True

    def _login(self, client: _Client, frame: dict[str, str], reply: dict[str, str]) -> bool:
        if frame.get("Username") != self.username or frame.get("Secret") != self.secret:
            # As badlogin.txt: Error / Authentication failed, then Asterisk closes the connection.
            self._write(client, {**reply, "Response": "Error", "Message": "Authentication failed"})
            return False
        self._write(client, {**reply, "Message": "Authentication accepted"})
        uptime = str(int(time.time() - self.booted))
        self._write(client, {"Event": "FullyBooted", "Privilege": "system,all", "Uptime": uptime,
                             "LastReload": uptime, "Status": "Fully Booted"})
        client.logged_in = True
        self._listening.set()
        if self.autoplay:
            self.play()
        return True

    def play(self) -> None:
        """Start the replay (at the first login unless ``autoplay=False``)."""
        if self._player is None and self._replays:
            self._player = asyncio.create_task(self._play(), name="fake-pbx-replay")

    def _originate(self, client: _Client, frame: dict[str, str], reply: dict[str, str]) -> None:
        channel = frame.get("Channel", "")
        ext = channel.split("/", 1)[-1].split("@", 1)[0]
        if self.known_extensions is not None and ext not in self.known_extensions:
            self._write(client, {**reply, "Response": "Error", "Message": "Extension does not exist."})
            return
        self._write(client, {**reply, "Message": "Originate successfully queued"})
        replay = self._originate_replays.get(ext) or self._originate_replays.get("*")
        if replay is not None:
            self.originates_played += 1
            offset = 7_000_000 + self.originates_played * 100_000
            task = asyncio.create_task(self._play_one(asyncio.get_running_loop(), replay, offset,
                                                      frame.get("ActionID")), name="fake-pbx-originate")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _channel_rows(self) -> list[dict[str, str]]:
        return [{k: ch.get(k, "") for k in CHANNEL_FIELDS} | {"Duration": "00:00:01"}
                for ch in self.live_channels.values()]

    def _list(self, client: _Client, reply: dict[str, str], message: str, kind: str,
              rows: list[dict[str, str]], complete: str) -> None:
        action_id = {"ActionID": reply["ActionID"]} if "ActionID" in reply else {}
        self._write(client, {**reply, "EventList": "start", "Message": message})
        for row in rows:
            self._write(client, {"Event": kind, **action_id, **row})
        self._write(client, {"Event": complete, **action_id, "EventList": "Complete", "ListItems": str(len(rows))})

    def _recorded_list(self, client: _Client, reply: dict[str, str], action: str) -> None:
        """QueueStatus/QueueSummary answered with the frames the real Asterisk sent in resync.txt."""
        if self._recorded_lists is None:
            self._recorded_lists = recorded_lists()
        frames = self._recorded_lists.get(action, [])
        action_id = {"ActionID": reply["ActionID"]} if "ActionID" in reply else {}
        self._write(client, {**reply, "EventList": "start", "Message": "Queue status will follow"})
        for frame in frames:
            self._write(client, {**{k: v for k, v in frame.items() if k != "ActionID"}, **action_id})

    def _write(self, client: _Client, headers: dict[str, str]) -> None:
        self._send(client, encode_frame(headers))

    def _send(self, client: _Client, data: bytes) -> None:
        writer = client.writer
        if writer.is_closing():
            return
        if self.chunk_size:
            for i in range(0, len(data), self.chunk_size):
                writer.write(data[i:i + self.chunk_size])
        else:
            writer.write(data)

    # --- the replay -----------------------------------------------------------------------------

    async def _play(self) -> None:
        loop = asyncio.get_running_loop()
        round_ = 0
        while True:
            for index, replay in enumerate(self._replays):
                offset = (round_ * len(self._replays) + index) * 100_000
                await self._play_one(loop, replay, offset)
                if self.pause_s:
                    await asyncio.sleep(self.pause_s / self.speed)
            round_ += 1
            if not self.loop:
                break
        self.replay_done.set()

    async def _play_one(self, loop: asyncio.AbstractEventLoop, replay: Replay, offset: int,
                        action_id: str | None = None) -> None:
        events = replay.events
        if not events:
            return
        start = events[0][0]
        began = loop.time()
        for t, raw in events:
            if self.hold_while_nobody_listens and not self._listening.is_set():
                paused = loop.time()
                await self._listening.wait()
                began += loop.time() - paused
            delay = (t - start) / self.speed - (loop.time() - began)
            if delay > 0:
                await asyncio.sleep(delay)
            data = shift_ids(raw, offset)
            if action_id is not None:
                data = with_action_id(data, action_id)
            frame = parse_frame(data)
            if frame.get("Linkedid") in self._skip_linkedids:
                continue
            self._track(frame)
            if self.half_open:
                continue
            now = time.monotonic()
            for client in list(self._clients):
                if client.logged_in:
                    self._send(client, data)
            self.events_sent += 1
            if self.keep_sent_log:
                self.sent_log.append((now, data))
            if frame.get("Event") == "Shutdown":  # `core restart now`: Asterisk closes the sessions
                await asyncio.sleep(0.05 / self.speed)
                self.restart()
        if replay.ends == "killed":  # kill -9: the sessions just end; it comes back without those calls
            await asyncio.sleep(0.05 / self.speed)  # (what was written reached the wire before)
            self.restart()

    def _track(self, frame: dict[str, str]) -> None:
        name, uniqueid = frame.get("Event"), frame.get("Uniqueid", "")
        if name == "Newchannel":
            self.live_channels[uniqueid] = dict(frame)
        elif name == "Hangup":
            self.live_channels.pop(uniqueid, None)
        elif uniqueid in self.live_channels and name in ("NewCallerid", "Newstate", "Newexten"):
            channel = self.live_channels[uniqueid]
            for key in ("CallerIDNum", "CallerIDName", "ChannelState", "ChannelStateDesc", "Context", "Exten"):
                if key in frame:
                    channel[key] = frame[key]
