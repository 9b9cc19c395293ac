"""The live call state ``transition`` works on, and the small helpers its handlers share (pure)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from connectors.asterisk.events import AmiEvent
from crm_core.phones import try_normalize_phone
from telephony.model import Attempt, Call, Effect

UNKNOWN = "<unknown>"
NO_EFFECTS: tuple[Effect, ...] = ()


@dataclass(frozen=True, slots=True)
class CallState:
    calls: Mapping[str, Call] = field(default_factory=lambda: MappingProxyType({}))  # by linkedid
    channels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # uniqueid -> linkedid
    originates: Mapping[str, Attempt] = field(default_factory=lambda: MappingProxyType({}))  # by ActionID

    def call_of(self, event: AmiEvent) -> Call | None:
        linkedid = event.get("Linkedid") or self.channels.get(event.get("Uniqueid"), "")
        return self.calls.get(linkedid)


Result = tuple[CallState, tuple[Effect, ...]]
Handler = Callable[[CallState, AmiEvent], Result]


def with_call(state: CallState, call: Call, channels: Mapping[str, str] | None = None) -> CallState:
    calls = dict(state.calls)
    calls[call.linkedid] = call
    return replace(state, calls=MappingProxyType(calls),
                   channels=state.channels if channels is None else MappingProxyType(channels))


def without_call(state: CallState, call: Call) -> CallState:
    """The call is over: its channels and the click-to-call it was made by go with it."""
    calls = {k: v for k, v in state.calls.items() if k != call.linkedid}
    channels = {k: v for k, v in state.channels.items() if v != call.linkedid}
    originates = state.originates
    if call.action_id in originates or any(a.linkedid == call.linkedid for a in originates.values()):
        originates = MappingProxyType({k: a for k, a in originates.items()
                                       if k != call.action_id and a.linkedid != call.linkedid})
    return CallState(MappingProxyType(calls), MappingProxyType(channels), originates)


def with_attempts(state: CallState, attempts: Mapping[str, Attempt]) -> CallState:
    return replace(state, originates=MappingProxyType(dict(attempts)))


def known(value: str) -> str | None:
    return value if value and value != UNKNOWN else None


def number(value: str | None) -> str | None:
    value = known(value or "")
    return (try_normalize_phone(value) or value) if value else None


def extension_of(interface: str) -> str:
    """``Local/101@agents/n`` or ``PJSIP/101`` -> ``101``."""
    tail = interface.split("/", 1)[1] if "/" in interface else interface
    return tail.split("@", 1)[0].split("/", 1)[0].split("-", 1)[0]


def touch(call: Call, event: AmiEvent) -> Call:
    return replace(call, last_seen=max(call.last_seen, event.received_at))
