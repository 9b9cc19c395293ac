"""One AMI event costs the same with 10 or 2,000 calls up (issue 23): the live call state is a persistent
map, so an event changes O(log n) of it instead of copying the calls and channels maps every time.

Measured two ways on the same real call (answered.txt, from ring to hang-up): the memory one event
allocates (exact: a copy of a 2,000-call map is ~100 KB, a persistent update a few hundred bytes), and
the time the whole call takes (best of several tries; the bound is generous, an O(n) state misses it)."""

from __future__ import annotations

import time
import tracemalloc

from connectors.asterisk.events import AmiEvent
from connectors.asterisk.fake_replay import shift_ids
from connectors.asterisk.protocol import AmiFrameSplitter
from connectors.asterisk.traces import read_trace
from telephony.calls import CallState, transition
from telephony.model import CallEnded

T0 = 1_000_000.0


def _answered_call() -> list[AmiEvent]:
    """The answered.txt call, its ids moved clear of the calls already up."""
    splitter = AmiFrameSplitter()
    events = []
    for t, direction, data in read_trace("answered.txt"):
        if direction != "<<<":
            continue
        for frame in splitter.feed(shift_ids(data, 50_000)):
            event = AmiEvent.from_frame(frame, T0 + t)
            if event is not None:
                events.append(event)
    return events


def _with_calls(n: int) -> CallState:
    """``n`` inbound calls up (two channels each), as their Newchannel events left them."""
    state = CallState()
    for i in range(n):
        linkedid = f"1700000000.{i}"
        for uniqueid, channel in ((linkedid, f"PJSIP/trunk-{i:08x}"), (f"1700000001.{i}", f"PJSIP/101-{i:08x}")):
            state, _ = transition(state, AmiEvent("Newchannel", {
                "Uniqueid": uniqueid, "Linkedid": linkedid, "Channel": channel, "CallerIDNum": "+79161234567",
                "CallerIDName": "Иван Петров"}, T0))
    return state


def _run(state: CallState, events: list[AmiEvent]) -> tuple[CallState, list]:
    effects: list = []
    for event in events:
        state, more = transition(state, event)
        effects.extend(more)
    return state, effects


def _largest_allocation(state: CallState, events: list[AmiEvent]) -> int:
    """The most memory any one event of the call allocated (bytes, at its peak)."""
    largest = 0
    tracemalloc.start()
    try:
        for event in events:
            before, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            state, _ = transition(state, event)
            _, peak = tracemalloc.get_traced_memory()
            largest = max(largest, peak - before)
    finally:
        tracemalloc.stop()
    return largest


def _best_time(state: CallState, events: list[AmiEvent], tries: int = 7, rounds: int = 20) -> float:
    best = float("inf")
    for _ in range(tries):
        began = time.perf_counter()
        for _ in range(rounds):
            _run(state, events)
        best = min(best, time.perf_counter() - began)
    return best / rounds


def test_the_call_is_followed_as_alone_while_2000_others_are_up() -> None:
    call = _answered_call()
    busy = _with_calls(2000)
    state, effects = _run(busy, call)
    records = [e.record for e in effects if isinstance(e, CallEnded)]
    assert len(records) == 1 and records[0].answered_by == "101", "the call is recorded as when it was alone"
    assert len(state.calls) == 2000 and len(state.channels) == 4000, "the other calls are all still up"
    assert len(busy.calls) == 2000 and len(_run(CallState(), call)[0].calls) == 0, "earlier states unchanged"


def test_one_event_allocates_no_more_with_2000_calls_up_than_with_10() -> None:
    call = _answered_call()
    few, many = _largest_allocation(_with_calls(10), call), _largest_allocation(_with_calls(2000), call)
    # a copied map of 2,000 calls alone is ~100 KB; a persistent update touches a few nodes of the trie
    assert many < few + 8 * 1024, f"one event allocated {many} bytes at 2,000 calls against {few} at 10"


def test_one_event_takes_no_longer_with_2000_calls_up_than_with_10() -> None:
    call = _answered_call()
    few, many = _best_time(_with_calls(10), call), _best_time(_with_calls(2000), call)
    assert many < 3 * few, f"the call took {many * 1e6:.0f} µs at 2,000 calls against {few * 1e6:.0f} µs at 10"
