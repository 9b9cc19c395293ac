"""The live call state ``transition`` works on, and the small helpers its handlers share (pure).

The maps are persistent (``immutables.Map``, the hash array mapped trie asyncio's contextvars use): a new
state shares all but O(log n) of the old one, so one event costs the same with 10 or 10,000 calls up and
every earlier state stays valid (the rebuild race, the hand-over and the tests hold on to old states).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from immutables import Map

from connectors.asterisk.events import AmiEvent
from crm_core.phones import try_normalize_phone
from telephony.model import Attempt, Call, Effect

UNKNOWN = "<unknown>"
NO_EFFECTS: tuple[Effect, ...] = ()


EMPTY: Map[Any, Any] = Map()


def _persistent(value: Mapping[str, Any]) -> Map[str, Any]:
    return value if type(value) is Map else Map(dict(value))


@dataclass(frozen=True, slots=True)
class CallState:
    """Any mapping given (a restored hand-over, a test) is turned into a persistent one once, here."""

    calls: Mapping[str, Call] = field(default=EMPTY)  # by linkedid
    channels: Mapping[str, str] = field(default=EMPTY)  # uniqueid -> linkedid
    originates: Mapping[str, Attempt] = field(default=EMPTY)  # by ActionID

    def __post_init__(self) -> None:
        for name in ("calls", "channels", "originates"):
            value = getattr(self, name)
            if type(value) is not Map:
                object.__setattr__(self, name, Map(dict(value)))

    def call_of(self, event: AmiEvent) -> Call | None:
        linkedid = event.get("Linkedid") or self.channels.get(event.get("Uniqueid"), "")
        return self.calls.get(linkedid)


Result = tuple[CallState, tuple[Effect, ...]]
Handler = Callable[[CallState, AmiEvent], Result]


def with_call(state: CallState, call: Call, channels: Mapping[str, str] | None = None) -> CallState:
    calls = _persistent(state.calls).set(call.linkedid, call)
    return CallState(calls, state.channels if channels is None else _persistent(channels), state.originates)


def with_channel(state: CallState, call: Call, uniqueid: str) -> CallState:
    """The call with one more channel of its own (``uniqueid`` → the call's linkedid)."""
    return with_call(state, call, _persistent(state.channels).set(uniqueid, call.linkedid))


def without_channel(state: CallState, call: Call, uniqueid: str) -> CallState:
    """The call without one of its channels (that channel hung up; the call goes on)."""
    channels = _persistent(state.channels)
    if uniqueid in channels:
        channels = channels.delete(uniqueid)
    return with_call(state, replace(call, channels=call.channels - {uniqueid}), channels)


def without_call(state: CallState, call: Call) -> CallState:
    """The call is over: its channels and the click-to-call it was made by go with it. Its channels are the
    ones it knows (``call.channels`` and its first), so the cost does not depend on how many calls are up."""
    calls = _persistent(state.calls)
    if call.linkedid in calls:
        calls = calls.delete(call.linkedid)
    channels = _persistent(state.channels)
    for uniqueid in {call.uniqueid, call.linkedid, *call.channels}:
        if channels.get(uniqueid) == call.linkedid:
            channels = channels.delete(uniqueid)
    originates = state.originates
    if originates and (call.action_id in originates
                       or any(a.linkedid == call.linkedid for a in originates.values())):
        originates = Map({k: a for k, a in originates.items() if k != call.action_id and a.linkedid != call.linkedid})
    return CallState(calls, channels, originates)


def with_attempts(state: CallState, attempts: Mapping[str, Attempt]) -> CallState:
    return replace(state, originates=_persistent(attempts))


def known(value: str) -> str | None:
    return value if value and value != UNKNOWN else None


def number(value: str | None) -> str | None:
    value = known(value or "")
    return (try_normalize_phone(value) or value) if value else None


def extension_of(interface: str) -> str:
    """``Local/101@agents/n`` or ``PJSIP/101`` -> ``101``."""
    tail = interface.split("/", 1)[1] if "/" in interface else interface
    return tail.split("@", 1)[0].split("/", 1)[0].split("-", 1)[0]


def touch(call: Call, event: AmiEvent, **changes: Any) -> Call:
    """The call as of this event (``last_seen``), with ``changes``: one copy of the call, not two."""
    return replace(call, last_seen=max(call.last_seen, event.received_at), **changes)
