"""The call state as a pure function: ``transition(state, event) -> (state, effects)``.

Channels of one call are tied by ``Linkedid``; events that carry only ``Uniqueid`` are found
through the channel index. Unknown events and events for unknown channels leave the state unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from connectors.asterisk.events import AmiEvent
from crm_core.phones import try_normalize_phone
from telephony.model import Answered, Call, Effect, Ringing, RingStopped, Transferred
from telephony.record import close_call

UNKNOWN = "<unknown>"
NO_EFFECTS: tuple[Effect, ...] = ()


@dataclass(frozen=True, slots=True)
class CallState:
    calls: Mapping[str, Call] = field(default_factory=lambda: MappingProxyType({}))  # by linkedid
    channels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # uniqueid -> linkedid

    def call_of(self, event: AmiEvent) -> Call | None:
        linkedid = event.get("Linkedid") or self.channels.get(event.get("Uniqueid"), "")
        return self.calls.get(linkedid)


Result = tuple[CallState, tuple[Effect, ...]]
Handler = Callable[[CallState, AmiEvent], Result]


def _with_call(state: CallState, call: Call, channels: Mapping[str, str] | None = None) -> CallState:
    calls = dict(state.calls)
    calls[call.linkedid] = call
    return CallState(MappingProxyType(calls), state.channels if channels is None else MappingProxyType(channels))


def _without_call(state: CallState, call: Call) -> CallState:
    calls = {k: v for k, v in state.calls.items() if k != call.linkedid}
    channels = {k: v for k, v in state.channels.items() if v != call.linkedid}
    return CallState(MappingProxyType(calls), MappingProxyType(channels))


def _known(value: str) -> str | None:
    return value if value and value != UNKNOWN else None


def extension_of(interface: str) -> str:
    """``Local/101@agents/n`` or ``PJSIP/101`` -> ``101``."""
    tail = interface.split("/", 1)[1] if "/" in interface else interface
    return tail.split("@", 1)[0].split("/", 1)[0].split("-", 1)[0]


def _touch(call: Call, event: AmiEvent) -> Call:
    return replace(call, last_seen=max(call.last_seen, event.received_at))


def on_newchannel(state: CallState, event: AmiEvent) -> Result:
    uniqueid, linkedid = event.get("Uniqueid"), event.get("Linkedid") or event.get("Uniqueid")
    if not uniqueid:
        return state, NO_EFFECTS
    channels = dict(state.channels)
    channels[uniqueid] = linkedid
    call = state.calls.get(linkedid)
    if call is None:
        if uniqueid != linkedid:
            return state, NO_EFFECTS
        number = _known(event.get("CallerIDNum"))
        call = Call(
            linkedid=linkedid,
            uniqueid=uniqueid,
            caller=try_normalize_phone(number) or number,
            caller_name=_known(event.get("CallerIDName")),
            channel=event.get("Channel") or None,
            started=event.received_at,
            last_seen=event.received_at,
        )
    call = replace(_touch(call, event), channels=call.channels | {uniqueid})
    return _with_call(state, call, channels), NO_EFFECTS


def on_newcallerid(state: CallState, event: AmiEvent) -> Result:
    call = state.call_of(event)
    if call is None or event.get("Uniqueid") != call.uniqueid:
        return state, NO_EFFECTS
    number = _known(event.get("CallerIDNum"))
    call = replace(
        _touch(call, event),
        caller=(try_normalize_phone(number) or number) if number else call.caller,
        caller_name=_known(event.get("CallerIDName")) or call.caller_name,
    )
    return _with_call(state, call), NO_EFFECTS


def on_queue_caller_join(state: CallState, event: AmiEvent) -> Result:
    call = state.call_of(event)
    if call is None:
        return state, NO_EFFECTS
    call = replace(
        _touch(call, event),
        queue=event.get("Queue") or call.queue,
        queued=event.received_at if call.queued is None else call.queued,
        did=call.did or _known(event.get("Exten")),
        queue_context=event.get("Context") or None,
    )
    return _with_call(state, call), NO_EFFECTS


def on_agent_called(state: CallState, event: AmiEvent) -> Result:
    call = state.call_of(event)
    if call is None:
        return state, NO_EFFECTS
    ext = extension_of(event.get("Interface") or event.get("MemberName"))
    call = replace(_rings(_touch(call, event), ext), queue=call.queue or event.get("Queue") or None)
    return _with_call(state, call), (Ringing(ext, call),)


def _rings(call: Call, ext: str) -> Call:
    """The agent's phone rings for this call: remember they were rung and that it rings now."""
    rung = call.agents_rung if ext in call.agents_rung else (*call.agents_rung, ext)
    ringing = call.ringing if ext in call.ringing else (*call.ringing, ext)
    return replace(call, agents_rung=rung, ringing=ringing)


def on_agent_ring_no_answer(state: CallState, event: AmiEvent) -> Result:
    call = state.call_of(event)
    if call is None:
        return state, NO_EFFECTS
    ext = extension_of(event.get("Interface"))
    call = replace(_touch(call, event), ringing=tuple(x for x in call.ringing if x != ext))
    return _with_call(state, call), (RingStopped(ext, call),)


def on_agent_connect(state: CallState, event: AmiEvent) -> Result:
    call = state.call_of(event)
    if call is None:
        return state, NO_EFFECTS
    ext = extension_of(event.get("Interface"))
    call = replace(_touch(call, event), answered_by=ext, answered=event.received_at, ringing=())
    # Everyone else whose phone was still ringing (a ringall queue) stops ringing: close their pop-ups.
    others = tuple(RingStopped(x, call) for x in _still_ringing(state, event) if x != ext)
    return _with_call(state, call), (Answered(ext, call), *others)


def _still_ringing(state: CallState, event: AmiEvent) -> tuple[str, ...]:
    call = state.call_of(event)
    return call.ringing if call is not None else ()


def _direct_dial(state: CallState, event: AmiEvent) -> tuple[Call, str] | None:
    """An inbound call dialled straight to an agent's device from the dialplan (owner first), not a queue."""
    call = state.call_of(event)
    if call is None or call.queue is not None or call.direction != "inbound":
        return None
    if event.get("Uniqueid") != call.uniqueid:
        return None
    ext = extension_of(event.get("DestChannel"))
    return (call, ext) if ext.isdigit() else None


def on_dial_begin(state: CallState, event: AmiEvent) -> Result:
    found = _direct_dial(state, event)
    if found is None:
        return state, NO_EFFECTS
    call, ext = found
    call = _rings(_touch(call, event), ext)
    return _with_call(state, call), (Ringing(ext, call),)


def on_dial_end(state: CallState, event: AmiEvent) -> Result:
    found = _direct_dial(state, event)
    if found is None:
        return state, NO_EFFECTS
    call, ext = found
    if event.get("DialStatus") == "ANSWER" and call.answered is None:
        call = replace(_touch(call, event), answered_by=ext, answered=event.received_at, ringing=())
        return _with_call(state, call), (Answered(ext, call),)
    call = replace(_touch(call, event), ringing=tuple(x for x in call.ringing if x != ext))
    return _with_call(state, call), (RingStopped(ext, call),)


def on_agent_complete(state: CallState, event: AmiEvent) -> Result:
    call = state.call_of(event)
    if call is None:
        return state, NO_EFFECTS
    return _with_call(state, replace(_touch(call, event), talk_ended=event.received_at)), NO_EFFECTS


def on_queue_caller_abandon(state: CallState, event: AmiEvent) -> Result:
    call = state.call_of(event)
    if call is None:
        return state, NO_EFFECTS
    call = replace(_touch(call, event), abandoned=True, ringing=())
    return _with_call(state, call), tuple(RingStopped(x, call) for x in _still_ringing(state, event))


def on_newexten(state: CallState, event: AmiEvent) -> Result:
    """A caller channel that leaves the queue's context after the answer was redirected (blind transfer)."""
    call = state.call_of(event)
    if call is None or event.get("Uniqueid") != call.uniqueid:
        return state, NO_EFFECTS
    context = event.get("Context")
    if call.answered is None or not call.queue_context or context == call.queue_context:
        return state, NO_EFFECTS
    target = event.get("Exten") or None
    moved = replace(_touch(call, event), transferred_to=target)
    if target is None or target == call.transferred_to:
        return _with_call(state, moved), NO_EFFECTS
    return _with_call(state, moved), (Transferred(call.answered_by, target, moved),)


def on_var_set(state: CallState, event: AmiEvent) -> Result:
    call = state.call_of(event)
    if call is None:
        return state, NO_EFFECTS
    variable, value = event.get("Variable"), event.get("Value")
    if variable == "CRM_INQUIRY_ID" and value:
        call = replace(_touch(call, event), inquiry_id=value, direction="outbound")
    elif variable == "CRM_TASK_ID" and value:
        call = replace(_touch(call, event), task_id=value, direction="outbound")
    elif variable == "MIXMONITOR_FILENAME" and value:
        call = replace(_touch(call, event), recording=value)
    else:
        return state, NO_EFFECTS
    return _with_call(state, call), NO_EFFECTS


def on_mixmonitor_start(state: CallState, event: AmiEvent) -> Result:
    call = state.call_of(event)
    if call is None or call.recording:
        return state, NO_EFFECTS
    return _with_call(state, replace(_touch(call, event), recording=f"{call.uniqueid}.wav")), NO_EFFECTS


def on_originate_response(state: CallState, event: AmiEvent) -> Result:
    call = state.call_of(event)
    success = event.get("Response") == "Success"
    callee = _known(event.get("Exten"))
    callee = (try_normalize_phone(callee) or callee) if callee else None
    if call is None:
        if success:
            return state, NO_EFFECTS
        # A failed async Originate has no channel: report the attempt as a failed call.
        orphan = Call(
            linkedid="", uniqueid="", direction="outbound", callee=callee, started=event.received_at,
            caller=_known(event.get("CallerIDNum")), caller_name=_known(event.get("CallerIDName")), failed=True,
        )
        return state, close_call(orphan, event.received_at)
    call = _touch(call, event)
    if event.get("Context") != "outbound" and call.direction != "outbound":
        return _with_call(state, replace(call, failed=not success)), NO_EFFECTS
    call = replace(
        call,
        direction="outbound",
        callee=callee,
        caller=_known(event.get("CallerIDNum")) or call.caller,
        caller_name=_known(event.get("CallerIDName")) or call.caller_name,
        answered=event.received_at if success and call.answered is None else call.answered,
        failed=not success,
    )
    return _with_call(state, call), NO_EFFECTS


def on_hangup(state: CallState, event: AmiEvent) -> Result:
    call = state.call_of(event)
    uniqueid = event.get("Uniqueid")
    if call is None:
        return state, NO_EFFECTS
    call = _touch(call, event)
    if uniqueid != call.uniqueid:
        channels = {k: v for k, v in state.channels.items() if k != uniqueid}
        return _with_call(state, replace(call, channels=call.channels - {uniqueid}), channels), NO_EFFECTS
    if event.get("Context") == "outbound" and call.callee is None:
        # A synchronous Originate has no OriginateResponse: the caller channel ends in the outbound context.
        callee = _known(event.get("Exten"))
        call = replace(call, direction="outbound", callee=(try_normalize_phone(callee) or callee) if callee else None)
    return _without_call(state, call), close_call(call, event.received_at)


def failed_originate(action: Mapping[str, str], response: Mapping[str, str], now: float) -> tuple[Effect, ...]:
    """The ``Response: Error`` to an Originate action is not an event: report it as a failed outbound call."""
    if response.get("Response") != "Error":
        return NO_EFFECTS
    callee = _known(action.get("Exten", ""))
    call = Call(
        linkedid="", uniqueid="", direction="outbound", started=now, last_seen=now, failed=True,
        callee=(try_normalize_phone(callee) or callee) if callee else None,
        caller=extension_of(action.get("Channel", "")) or None,
        inquiry_id=_variable(action.get("Variable", ""), "CRM_INQUIRY_ID"),
        task_id=_variable(action.get("Variable", ""), "CRM_TASK_ID"),
    )
    return close_call(call, now)


def _variable(variables: str, wanted: str) -> str | None:
    for item in variables.split(","):
        name, _, value = item.partition("=")
        if name.strip() == wanted and value:
            return value.strip()
    return None


HANDLERS: Mapping[str, Handler] = MappingProxyType({
    "Newchannel": on_newchannel,
    "NewCallerid": on_newcallerid,
    "QueueCallerJoin": on_queue_caller_join,
    "AgentCalled": on_agent_called,
    "AgentRingNoAnswer": on_agent_ring_no_answer,
    "AgentConnect": on_agent_connect,
    "AgentComplete": on_agent_complete,
    "DialBegin": on_dial_begin,
    "DialEnd": on_dial_end,
    "QueueCallerAbandon": on_queue_caller_abandon,
    "Newexten": on_newexten,
    "VarSet": on_var_set,
    "MixMonitorStart": on_mixmonitor_start,
    "OriginateResponse": on_originate_response,
    "Hangup": on_hangup,
})


def transition(state: CallState, event: AmiEvent) -> Result:
    handler = HANDLERS.get(event.name)
    if handler is None:
        return state, NO_EFFECTS
    return handler(state, event)


def resync(state: CallState, core_show_channels: Iterable[Mapping[str, str]], now: float,
           known_before: Collection[str] | None = None) -> Result:
    """Close calls none of whose channels Asterisk still reports (outcome ``lost_track``, last time known).

    ``known_before``: the calls known when the listing was asked for. Events keep arriving while the answer
    is on its way, and a call whose first events came after the question may be missing from the listing
    though it is very much alive; only a call known before the question and not listed is really gone."""
    alive: set[str] = set()
    for frame in core_show_channels:
        if frame.get("Event") not in (None, "CoreShowChannel"):
            continue
        alive.add(frame.get("Linkedid", ""))
        alive.add(state.channels.get(frame.get("Uniqueid", ""), ""))
    effects: list[Effect] = []
    for call in list(state.calls.values()):
        if call.linkedid in alive or (known_before is not None and call.linkedid not in known_before):
            continue
        state = _without_call(state, call)
        effects.extend(close_call(call, call.last_seen or now, "lost_track"))
    return state, tuple(effects)
