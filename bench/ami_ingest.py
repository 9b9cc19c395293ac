"""AMI ingest with full call-state tracking, against bare panoramisk parsing the same bytes in the same run.

    python -m bench.ami_ingest [--quick] [--live-calls N]

The input is the bytes a real Asterisk sent in connectors/asterisk/ami_traces/burst20.txt (20 calls at once, a third
abandoning; 1,453 events), repeated until there are at least 1,000,000 events (``--quick``: 200,000), cut
into 64 KiB reads as a TCP socket would deliver them.

``--live-calls N`` keeps N calls up at once instead of 20: the trace is cut into its 20 calls (a frame without
a call id goes with the call before it), each copy of a call gets ids of its own, and N calls run side by
side, one frame of each in turn, a new call taking the place of one that hung up — at least 4·N calls in
all. The call state then holds about N calls at every event (reported: ``live_calls_mean``/``_max``); the
cost of one event must not grow with N (``telephony/state.py``).

- hub: the connector's protocol (whole-frame splitting and decoding, frames to events), the call state
  machine over every event, and the call records of every finished call (``CallEnded`` effects, counted
  and checked: 20 per repetition);
- peer: panoramisk's own ``AMIProtocol.data_received`` on the same reads, its events dispatched to a no-op.

Both run alternately three times; the best of each is reported (the machines are noisy). Both are timed in
this process's CPU time (``time.process_time``: one thread, no I/O, so it is the work done, and time the
process spent waiting for a core shared with other work does not count); the wall-clock figures are
reported too (``wall_value``, ``wall_peer_value``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import re
import time
from collections.abc import Iterator

from panoramisk.ami_protocol import AMIProtocol

from bench.common import emit, rss_mb
from connectors.asterisk.client import AmiClient, _AmiProtocol
from connectors.asterisk.fake_replay import shift_ids
from connectors.asterisk.settings import AsteriskSettings
from connectors.asterisk.traces import incoming_bytes, read_trace
from telephony.calls import CallState, transition
from telephony.model import CallEnded

READ = 64 * 1024
SAMPLE_EVERY = 1024  # events between two looks at how many calls are up
_LINKEDID = re.compile(rb"\r\n(?:Dest)?Linkedid: ([\d.]+)\r")
_UNIQUEID = re.compile(rb"\r\n\w*Uniqueid: ([\d.]+)\r")


class HubPath:
    """The hub's path: protocol → events → transition → call records."""

    def __init__(self) -> None:
        self.state = CallState()
        self.records = 0
        self.events = 0
        self.live: list[int] = []  # calls up, every SAMPLE_EVERY events
        self.client = AmiClient(AsteriskSettings(), self.on_event)
        self.protocol = _AmiProtocol(self.client)

    def on_event(self, event) -> None:  # noqa: ANN001
        self.events += 1
        self.state, effects = transition(self.state, event)
        if not self.events % SAMPLE_EVERY:
            self.live.append(len(self.state.calls))
        for effect in effects:
            if type(effect) is CallEnded:
                self.records += 1

    def feed(self, reads: list[bytes]) -> None:
        data_received = self.protocol.data_received
        for chunk in reads:
            data_received(chunk)


class _Factory:
    def __init__(self) -> None:
        self.events = 0

    def dispatch(self, message) -> None:  # noqa: ANN001
        self.events += 1


def panoramisk_path(reads: list[bytes]) -> int:
    protocol = AMIProtocol()
    protocol.connection_made(_NullTransport())
    protocol.factory = _Factory()
    protocol.encoding = "utf-8"  # as a hub on panoramisk would set it; 'ascii' would drop the Cyrillic names
    for chunk in reads:
        protocol.data_received(chunk)
    return protocol.factory.events


class _NullTransport:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def build_input(min_events: int) -> tuple[list[bytes], int, int]:
    one = incoming_bytes("burst20.txt")
    banner_end = one.index(b"\r\n") + 2
    banner, body = one[:banner_end], one[banner_end:]
    per_copy = body.count(b"\r\nEvent: ") + body.startswith(b"Event: ")
    copies = -(-min_events // per_copy)
    stream = banner + body * copies
    reads = [stream[i:i + READ] for i in range(0, len(stream), READ)]
    return reads, copies, per_copy * copies


def call_templates() -> tuple[bytes, list[list[bytes]]]:
    """The banner, and burst20.txt's frames cut into its calls, in order (by Linkedid, or the Uniqueid of a
    channel seen before; a frame of no call — a device state, a response — goes with the call before it)."""
    frames = [data for _, direction, data in read_trace("burst20.txt") if direction == "<<<"]
    banner, frames = frames[0], frames[1:]
    calls: dict[bytes, list[bytes]] = {}
    channel_of: dict[bytes, bytes] = {}
    current: bytes | None = None
    orphans: list[bytes] = []
    for frame in frames:
        linked = _LINKEDID.search(frame)
        uniques = _UNIQUEID.findall(frame)
        call = linked[1] if linked else next((channel_of[u] for u in uniques if u in channel_of), current)
        if call is None:
            orphans.append(frame)  # before the first call: login answers, FullyBooted
            continue
        for u in uniques:
            channel_of.setdefault(u, call)
        calls.setdefault(call, []).append(frame)
        current = call
    return banner + b"".join(orphans), list(calls.values())


def build_live_input(min_events: int, live_calls: int) -> tuple[list[bytes], int, int]:
    """``live_calls`` calls side by side, one frame each in turn; returns reads, calls, events."""
    banner, templates = call_templates()
    per_call = sum(map(len, templates)) / len(templates)
    total = max(-(-min_events // int(per_call)), 4 * live_calls)

    def instance(n: int) -> list[bytes]:  # call n: template n % 20, its ids moved by 10 s a copy
        return [shift_ids(frame, (n // len(templates) + 1) * 10) for frame in templates[n % len(templates)]]

    def slot(first: int) -> Iterator[bytes]:
        for n in range(first, total, live_calls):
            yield from instance(n)

    slots = [slot(i) for i in range(min(live_calls, total))]
    out = [banner]
    while slots:
        still = []
        for frames in slots:
            frame = next(frames, None)
            if frame is not None:
                out.append(frame)
                still.append(frames)
        slots = still
    stream = b"".join(out)
    events = banner.count(b"\nEvent: ") + sum(frame.startswith(b"Event: ") for frame in out[1:])
    return [stream[i:i + READ] for i in range(0, len(stream), READ)], total, events


async def run(quick: bool, live_calls: int | None = None) -> dict:
    min_events = 200_000 if quick else 1_000_000
    if live_calls:
        reads, calls, events = build_live_input(min_events, live_calls)
        copies, expected, what = calls, calls, f"{calls:,} calls, {live_calls:,} up at once,"
    else:
        reads, copies, events = build_input(min_events)
        expected, what = 20 * copies, f"{copies} copies of burst20.txt:"
    hub_times, peer_times, hub_wall, peer_wall = [], [], [], []
    checked = None
    live: list[int] = []
    for _ in range(3):
        gc.collect()
        hub = HubPath()
        began, cpu = time.perf_counter(), time.process_time()
        hub.feed(reads)
        hub_times.append(time.process_time() - cpu)
        hub_wall.append(time.perf_counter() - began)
        checked = (hub.events, hub.records)
        live = hub.live
        gc.collect()
        began, cpu = time.perf_counter(), time.process_time()
        peer_events = panoramisk_path(reads)
        peer_times.append(time.process_time() - cpu)
        peer_wall.append(time.perf_counter() - began)
    assert checked is not None
    hub_events, records = checked
    value, peer_value = hub_events / min(hub_times), peer_events / min(peer_times)
    live_mean = round(sum(live) / len(live)) if live else 0
    print(f"{len(reads)} reads, {what} hub {hub_events:,} events and {records:,} call records at "
          f"{value:,.0f} events/s ({live_mean:,} calls up on average); bare panoramisk {peer_events:,} events at "
          f"{peer_value:,.0f}/s")
    return {
        "bench": "ami_ingest", "unit": "events/s", "value": round(value), "peer": "bare panoramisk data_received",
        "peer_value": round(peer_value), "events": hub_events, "peer_events": peer_events,
        "wall_value": round(hub_events / min(hub_wall)), "wall_peer_value": round(peer_events / min(peer_wall)),
        "call_records": records, "expected_call_records": expected, "live_calls": live_calls or 20,
        "live_calls_mean": live_mean, "live_calls_max": max(live, default=0), "rss_mb": round(rss_mb(), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run that finishes in under a minute")
    parser.add_argument("--live-calls", type=int, default=None, metavar="N", help="keep N calls up at once")
    args = parser.parse_args()
    emit(asyncio.run(run(args.quick, args.live_calls)))


if __name__ == "__main__":
    main()
