"""AMI ingest with full call-state tracking, against bare panoramisk parsing the same bytes in the same run.

    python -m bench.ami_ingest [--quick]

The input is the bytes a real Asterisk sent in connectors/asterisk/ami_traces/burst20.txt (20 calls at once, a third
abandoning; 1,453 events), repeated until there are at least 1,000,000 events (``--quick``: 200,000), cut
into 64 KiB reads as a TCP socket would deliver them.

- hub: the connector's protocol (whole-frame splitting and decoding, frames to events), the call state
  machine over every event, and the call records of every finished call (``CallEnded`` effects, counted
  and checked: 20 per repetition);
- peer: panoramisk's own ``AMIProtocol.data_received`` on the same reads, its events dispatched to a no-op.

Both run alternately three times; the best of each is reported (the machines are noisy).
"""

from __future__ import annotations

import asyncio
import gc
import time

from panoramisk.ami_protocol import AMIProtocol

from bench.common import emit, parse_args, rss_mb
from connectors.asterisk.client import AmiClient, _AmiProtocol
from connectors.asterisk.settings import AsteriskSettings
from connectors.asterisk.traces import incoming_bytes
from telephony.calls import CallState, transition
from telephony.model import CallEnded

READ = 64 * 1024


class HubPath:
    """The hub's path: protocol → events → transition → call records."""

    def __init__(self) -> None:
        self.state = CallState()
        self.records = 0
        self.events = 0
        self.client = AmiClient(AsteriskSettings(), self.on_event)
        self.protocol = _AmiProtocol(self.client)

    def on_event(self, event) -> None:  # noqa: ANN001
        self.events += 1
        self.state, effects = transition(self.state, event)
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


async def run(quick: bool) -> dict:
    reads, copies, events = build_input(200_000 if quick else 1_000_000)
    hub_times, peer_times = [], []
    checked = None
    for _ in range(3):
        gc.collect()
        hub = HubPath()
        began = time.perf_counter()
        hub.feed(reads)
        hub_times.append(time.perf_counter() - began)
        checked = (hub.events, hub.records)
        gc.collect()
        began = time.perf_counter()
        peer_events = panoramisk_path(reads)
        peer_times.append(time.perf_counter() - began)
    assert checked is not None
    hub_events, records = checked
    value, peer_value = hub_events / min(hub_times), peer_events / min(peer_times)
    print(f"{len(reads)} reads, {copies} copies of burst20.txt: hub {hub_events:,} events and {records:,} call "
          f"records at {value:,.0f} events/s; bare panoramisk {peer_events:,} events at {peer_value:,.0f}/s")
    return {
        "bench": "ami_ingest", "unit": "events/s", "value": round(value), "peer": "bare panoramisk data_received",
        "peer_value": round(peer_value), "events": hub_events, "peer_events": peer_events,
        "call_records": records, "expected_call_records": 20 * copies, "rss_mb": round(rss_mb(), 1),
    }


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    emit(asyncio.run(run(args.quick)))


if __name__ == "__main__":
    main()
