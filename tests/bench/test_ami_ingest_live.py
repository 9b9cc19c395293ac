"""``bench.ami_ingest --live-calls N``: N calls really are up at once, each a call of its own from the real
trace, and every one of them is recorded exactly once (the figure is about the call state at that size)."""

from __future__ import annotations

from bench.ami_ingest import HubPath, build_live_input, call_templates


def test_the_trace_is_cut_into_its_20_calls() -> None:
    banner, calls = call_templates()
    assert banner.startswith(b"Asterisk Call Manager/")
    assert len(calls) == 20 and all(c[0].startswith(b"Event: Newchannel\r\n") for c in calls)


async def test_50_calls_are_up_at_once_and_each_is_recorded_once() -> None:
    reads, calls, events = build_live_input(min_events=3_000, live_calls=50)
    assert calls == 200, "at least four times the calls up at once"
    hub = HubPath()
    hub.feed(reads)
    assert hub.events == events and hub.records == calls, "every call of the stream ends in one record"
    assert len(hub.state.calls) == 0, "nothing is left open at the end"
    assert max(hub.live) == 50 and sum(hub.live) / len(hub.live) > 25, "about 50 calls up at every moment"
