"""The call state as a pure function: ``transition(state, event) -> (state, effects)``.

Channels of one call are tied by ``Linkedid``; events that carry only ``Uniqueid`` are found
through the channel index. Unknown events and events for unknown channels leave the state unchanged.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from types import MappingProxyType

from connectors.asterisk.events import AmiEvent
from crm_core.phones import try_normalize_phone
from telephony.model import Answered, Call, Effect, Ringing, RingStopped, Transferred
from telephony.originate import (
    adopt,
    client_dial_ended,
    cut_short,
    entered_originate_context,
    failed_originate,
    on_originate_response,
    resync_attempts,
)
from telephony.record import close_call, outcome_so_far
from telephony.state import (
    NO_EFFECTS,
    UNKNOWN,
    CallState,
    Handler,
    Result,
    extension_of,
    known,
    touch,
    with_attempts,
    with_call,
    with_channel,
    without_call,
    without_channel,
)

__all__ = ["UNKNOWN", "CallState", "extension_of", "failed_originate", "resync", "transition"]
SHUTDOWN_CAUSE = "4"  # SoftHangupRequest Cause: the AST_SOFTHANGUP_SHUTDOWN flag — the PBX is going down


def on_newchannel(state: CallState, event: AmiEvent) -> Result:
    uniqueid, linkedid = event.get("Uniqueid"), event.get("Linkedid") or event.get("Uniqueid")
    if not uniqueid:
        return state, NO_EFFECTS
    call = state.calls.get(linkedid)
    if call is None:
        if uniqueid != linkedid:
            return state, NO_EFFECTS
        number = known(event.get("CallerIDNum"))
        call = Call(
            linkedid=linkedid,
            uniqueid=uniqueid,
            caller=try_normalize_phone(number) or number,
            caller_name=known(event.get("CallerIDName")),
            channel=event.get("Channel") or None,
            started=event.received_at,
            last_seen=event.received_at,
        )
        if (adopted := adopt(state, call)) is not None:  # the agent's leg of the hub's own click-to-call
            call, attempts = adopted
            state = with_attempts(state, attempts)
    call = touch(call, event, channels=call.channels | {uniqueid})
    return with_channel(state, call, uniqueid), NO_EFFECTS


def on_newcallerid(state: CallState, event: AmiEvent) -> Result:
    call = state.call_of(event)
    if call is None or event.get("Uniqueid") != call.uniqueid or call.action_id:
        return state, NO_EFFECTS
    number = known(event.get("CallerIDNum"))
    call = touch(
        call, event,
        caller=(try_normalize_phone(number) or number) if number else call.caller,
        caller_name=known(event.get("CallerIDName")) or call.caller_name,
    )
    return with_call(state, call), NO_EFFECTS


def on_queue_caller_join(state: CallState, event: AmiEvent) -> Result:
    call = state.call_of(event)
    if call is None:
        return state, NO_EFFECTS
    call = touch(
        call, event,
        queue=event.get("Queue") or call.queue,
        queued=event.received_at if call.queued is None else call.queued,
        did=call.did or known(event.get("Exten")),
        queue_context=event.get("Context") or None,
    )
    return with_call(state, call), NO_EFFECTS


def on_agent_called(state: CallState, event: AmiEvent) -> Result:
    call = state.call_of(event)
    if call is None:
        return state, NO_EFFECTS
    ext = extension_of(event.get("Interface") or event.get("MemberName"))
    call = replace(_rings(touch(call, event), ext), queue=call.queue or event.get("Queue") or None)
    return with_call(state, call), (Ringing(ext, call),)


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
    call = touch(call, event, ringing=tuple(x for x in call.ringing if x != ext))
    return with_call(state, call), (RingStopped(ext, call),)


def on_agent_connect(state: CallState, event: AmiEvent) -> Result:
    call = state.call_of(event)
    if call is None:
        return state, NO_EFFECTS
    ext = extension_of(event.get("Interface"))
    call = touch(call, event, answered_by=ext, answered=event.received_at, ringing=())
    # Everyone else whose phone was still ringing (a ringall queue) stops ringing: close their pop-ups.
    others = tuple(RingStopped(x, call) for x in _still_ringing(state, event) if x != ext)
    return with_call(state, call), (Answered(ext, call), *others)


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
    call = _rings(touch(call, event), ext)
    return with_call(state, call), (Ringing(ext, call),)


def on_dial_end(state: CallState, event: AmiEvent) -> Result:
    call = state.call_of(event)
    if call is not None and (outbound := client_dial_ended(call, event)) is not None:
        return with_call(state, outbound), NO_EFFECTS
    found = _direct_dial(state, event)
    if found is None:
        return state, NO_EFFECTS
    call, ext = found
    if event.get("DialStatus") == "ANSWER" and call.answered is None:
        call = touch(call, event, answered_by=ext, answered=event.received_at, ringing=())
        return with_call(state, call), (Answered(ext, call),)
    call = touch(call, event, ringing=tuple(x for x in call.ringing if x != ext))
    return with_call(state, call), (RingStopped(ext, call),)


def on_agent_complete(state: CallState, event: AmiEvent) -> Result:
    call = state.call_of(event)
    if call is None:
        return state, NO_EFFECTS
    return with_call(state, touch(call, event, talk_ended=event.received_at)), NO_EFFECTS


def on_queue_caller_abandon(state: CallState, event: AmiEvent) -> Result:
    call = state.call_of(event)
    if call is None:
        return state, NO_EFFECTS
    call = touch(call, event, abandoned=True, ringing=())
    return with_call(state, call), tuple(RingStopped(x, call) for x in _still_ringing(state, event))


def on_newexten(state: CallState, event: AmiEvent) -> Result:
    """A caller channel that leaves the queue's context after the answer was redirected (blind transfer)."""
    call = state.call_of(event)
    if call is None:
        return state, NO_EFFECTS
    if event.get("Uniqueid") != call.uniqueid:  # another channel of the call: it is still going on
        return with_call(state, touch(call, event)), NO_EFFECTS
    if (answered := entered_originate_context(call, event)) is not None:
        return with_call(state, answered), NO_EFFECTS
    context = event.get("Context")
    if call.answered is None or not call.queue_context or context == call.queue_context:
        return state, NO_EFFECTS
    target = event.get("Exten") or None
    moved = touch(call, event, transferred_to=target)
    if target is None or target == call.transferred_to:
        return with_call(state, moved), NO_EFFECTS
    return with_call(state, moved), (Transferred(call.answered_by, target, moved),)


def on_var_set(state: CallState, event: AmiEvent) -> Result:
    call = state.call_of(event)
    if call is None:
        return state, NO_EFFECTS
    variable, value = event.get("Variable"), event.get("Value")
    if variable == "CRM_INQUIRY_ID" and value:
        call = touch(call, event, inquiry_id=value, direction="outbound")
    elif variable == "CRM_TASK_ID" and value:
        call = touch(call, event, task_id=value, direction="outbound")
    elif variable == "CRM_CLIENT_ID" and value:
        call = touch(call, event, client_id=value, direction="outbound")
    elif variable == "MIXMONITOR_FILENAME" and value:
        call = touch(call, event, recording=value)
    else:
        return state, NO_EFFECTS
    return with_call(state, call), NO_EFFECTS


def on_mixmonitor_start(state: CallState, event: AmiEvent) -> Result:
    call = state.call_of(event)
    if call is None or call.recording:
        return state, NO_EFFECTS
    return with_call(state, touch(call, event, recording=f"{call.uniqueid}.wav")), NO_EFFECTS


def on_hangup(state: CallState, event: AmiEvent) -> Result:
    call = state.call_of(event)
    uniqueid = event.get("Uniqueid")
    if call is None:
        return state, NO_EFFECTS
    call = touch(call, event)
    if uniqueid != call.uniqueid:
        return without_channel(state, call, uniqueid), NO_EFFECTS
    if event.get("Context") == "outbound" and call.callee is None:
        # A synchronous Originate has no OriginateResponse: the caller channel ends in the outbound context.
        callee = known(event.get("Exten"))
        call = replace(call, direction="outbound", callee=(try_normalize_phone(callee) or callee) if callee else None)
    return without_call(state, call), close_call(call, event.received_at)


def on_soft_hangup_request(state: CallState, event: AmiEvent) -> Result:
    """Asterisk hangs a channel up because it shuts down (``core restart``): the call is cut by the PBX."""
    call = state.call_of(event)
    if call is None or event.get("Cause") != SHUTDOWN_CAUSE:
        return state, NO_EFFECTS
    return with_call(state, touch(call, event, cut="pbx_restart")), NO_EFFECTS


def on_shutdown(state: CallState, event: AmiEvent) -> Result:
    """The PBX stops: whatever is still open ends now with what it was so far (its hang-ups came first)."""
    if not state.calls and not state.originates:
        return state, NO_EFFECTS
    return cut_short(state, event.received_at, "pbx_restart")


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
    "SoftHangupRequest": on_soft_hangup_request,
    "Shutdown": on_shutdown,
})


def transition(state: CallState, event: AmiEvent) -> Result:
    handler = HANDLERS.get(event.name)
    if handler is None:
        return state, NO_EFFECTS
    return handler(state, event)


def resync(state: CallState, core_show_channels: Iterable[Mapping[str, str]], now: float,
           known_before: Collection[str] | None = None, *, booted_at: float | None = None,
           asked_at: float | None = None) -> Result:
    """Close calls none of whose channels Asterisk still reports, each with what it was so far (answered
    stays answered, talk up to the last event seen; a call never seen answered is ``lost_track``), cut
    ``pbx_down`` when the PBX booted after the call was last seen (kill -9, a crash), else ``link_lost``.

    ``known_before``: the calls known when the listing was asked for. Events keep arriving while the answer
    is on its way, and a call whose first events came after the question may be missing from the listing
    though it is very much alive; only a call known before the question and not listed is really gone.
    Click-to-calls sent before the question (``asked_at``) whose channel never showed are settled too."""
    frames = [f for f in core_show_channels if f.get("Event") in (None, "CoreShowChannel")]
    alive: set[str] = set()
    for frame in frames:
        alive.add(frame.get("Linkedid", ""))
        alive.add(state.channels.get(frame.get("Uniqueid", ""), ""))
    effects: list[Effect] = []
    for call in list(state.calls.values()):
        if call.linkedid in alive or (known_before is not None and call.linkedid not in known_before):
            continue
        state = without_call(state, call)
        ended = call.last_seen or now
        cut = call.cut or ("pbx_down" if booted_at is not None and booted_at > ended else "link_lost")
        effects.extend(close_call(replace(call, cut=cut), ended, outcome_so_far(call)))
    if state.originates:
        state, more = resync_attempts(state, frames, now, now if asked_at is None else asked_at)
        effects.extend(more)
    return state, tuple(effects)
