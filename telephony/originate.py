"""Click-to-call attempts, pure: the hub's ``Originate`` followed by its ActionID and its channel pair.

``Originate Channel: Local/101@agents`` makes ``Local/101@agents-00000031;1`` (the call's first channel, its
Uniqueid the call's Linkedid) and ``…;2``; ``PJSIP/101`` makes ``PJSIP/101-0000002a``. The
``OriginateResponse`` event carries the hub's ActionID: ``Success`` with the first channel's Uniqueid once the
agent answered, ``Failure`` with ``Uniqueid: <unknown>`` when the agent's phone did not answer (``Reason: 3``)
or could not ring at all. Every attempt is one outbound call with the agent and the client, inquiry and task
it was made from — never an inbound call of the agent's own channel, never a callback to the agent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from connectors.asterisk.events import AmiEvent
from telephony.model import Attempt, Call, Effect
from telephony.record import close_call, outcome_so_far
from telephony.state import (
    NO_EFFECTS,
    CallState,
    Result,
    extension_of,
    known,
    number,
    touch,
    with_attempts,
    with_call,
    without_call,
)

DEFAULT_CONTEXT = "outbound"  # where an Originate not sent by this hub is seen going (the traces' dialplan)
NO_ANSWER_REASON = "3"  # OriginateResponse Reason 3: it rang, nobody answered (1 hung up, 5 busy, 8 congested)
STALE_S = 300.0  # an attempt whose channel never showed up (no answer to the action either) is given up


def originate_sent(state: CallState, attempt: Attempt) -> Result:
    """The hub sends an Originate: remember it by ActionID before it goes out (its channel may come first).
    Attempts older than ``STALE_S`` that never made a channel are closed as lost track."""
    stale = [a for a in state.originates.values() if a.linkedid is None and attempt.sent - a.sent > STALE_S]
    effects: tuple[Effect, ...] = ()
    for old in stale:
        effects += close_attempt(old, attempt.sent, "lost_track")
    attempts = {k: a for k, a in state.originates.items() if a not in stale}
    return with_attempts(state, {**attempts, attempt.action_id: attempt}), effects


def channel_base(name: str) -> str | None:
    """``Local/101@agents-00000031;1`` → ``Local/101@agents``; ``PJSIP/101-0000002a`` → ``PJSIP/101``; the
    ``;2`` half of a Local pair → None (it belongs to the call its ``;1`` began)."""
    if name.endswith(";2"):
        return None
    base, sep, _ = name.removesuffix(";1").rpartition("-")
    return base if sep else None


def adopt(state: CallState, call: Call) -> tuple[Call, dict[str, Attempt]] | None:
    """A new call whose first channel is the one an attempt asked for is that attempt (the oldest waiting)."""
    base = channel_base(call.channel or "")
    waiting = [a for a in state.originates.values() if a.linkedid is None and a.channel == base] if base else []
    if not waiting:
        return None
    attempt = min(waiting, key=lambda a: a.sent)
    return as_attempt(call, attempt), {**state.originates, attempt.action_id: replace(attempt, linkedid=call.linkedid)}


def as_attempt(call: Call, attempt: Attempt) -> Call:
    return replace(
        call, direction="outbound", caller=attempt.extension, caller_name=None, callee=attempt.callee or call.callee,
        inquiry_id=attempt.inquiry_id or call.inquiry_id, client_id=attempt.client_id or call.client_id,
        task_id=attempt.task_id or call.task_id, action_id=attempt.action_id, originate_context=attempt.context,
    )


def close_attempt(attempt: Attempt, now: float, outcome: str, cut: str | None = None) -> tuple[Effect, ...]:
    """An attempt that never made a channel the hub saw: one record, keyed by its ActionID."""
    call = Call(
        linkedid="", uniqueid=f"originate:{attempt.action_id}"[:64], direction="outbound", caller=attempt.extension,
        callee=attempt.callee, started=attempt.sent, last_seen=now, inquiry_id=attempt.inquiry_id,
        client_id=attempt.client_id, task_id=attempt.task_id, action_id=attempt.action_id, cut=cut,
        failed=outcome == "failed", no_answer=outcome == "no_answer",
    )
    return close_call(call, now, outcome)


def _without_attempt(state: CallState, action_id: str) -> CallState:
    return with_attempts(state, {k: a for k, a in state.originates.items() if k != action_id})


def _failure(call: Call, reason: str) -> Call:
    return replace(call, no_answer=True) if reason == NO_ANSWER_REASON else replace(call, failed=True)


def on_originate_response(state: CallState, event: AmiEvent) -> Result:
    attempt = state.originates.get(event.get("ActionID"))
    if attempt is None:
        return _foreign_response(state, event)
    state = _without_attempt(state, attempt.action_id)
    success, uniqueid = event.get("Response") == "Success", known(event.get("Uniqueid"))
    call = state.calls.get(attempt.linkedid or "") or state.call_of(event)
    if call is None and success and uniqueid:  # its channel's events were missed: the response names it
        call = Call(linkedid=uniqueid, uniqueid=uniqueid, channel=known(event.get("Channel")),
                    started=attempt.sent, last_seen=event.received_at, channels=frozenset({uniqueid}))
        state = with_call(state, call, {**state.channels, uniqueid: uniqueid})
    if call is None:
        outcome = "no_answer" if event.get("Reason") == NO_ANSWER_REASON else "failed"
        return state, close_attempt(attempt, event.received_at, outcome)
    call = touch(as_attempt(call, attempt) if call.action_id is None else call, event)
    # a failure is recorded when the first channel hangs up (it follows at once)
    call = agent_answered(call, event.received_at) if success else _failure(call, event.get("Reason"))
    return with_call(state, call), NO_EFFECTS


def _foreign_response(state: CallState, event: AmiEvent) -> Result:
    """An Originate the hub did not send (another AMI session): its channel's call, if any, is outbound;
    a failure without a channel is nobody's call here and is not recorded."""
    call = state.call_of(event)
    if call is None:
        return state, NO_EFFECTS
    call = touch(call, event)
    if event.get("Context") != DEFAULT_CONTEXT and call.direction != "outbound":
        return with_call(state, replace(call, failed=event.get("Response") != "Success")), NO_EFFECTS
    call = replace(call, direction="outbound", callee=number(event.get("Exten")),
                   caller=known(event.get("CallerIDNum")) or call.caller)
    if event.get("Response") == "Success":
        return with_call(state, agent_answered(call, event.received_at)), NO_EFFECTS
    return with_call(state, _failure(call, event.get("Reason"))), NO_EFFECTS


def agent_answered(call: Call, at: float) -> Call:
    """The agent picked up: the call is theirs, outbound, and the dialplan now dials the client."""
    ext = call.caller if call.action_id else extension_of(call.channel or "") or call.caller
    return replace(call, direction="outbound", answered=at if call.answered is None else call.answered,
                   answered_by=call.answered_by or ext, caller=call.caller or ext)


def entered_originate_context(call: Call, event: AmiEvent) -> Call | None:
    """The first channel went on to the click-to-call context: the agent answered (a synchronous Originate
    says so only this way). None when the event is something else."""
    if event.get("Uniqueid") != call.uniqueid or call.answered is not None or call.queue is not None:
        return None
    if event.get("Context") != (call.originate_context or DEFAULT_CONTEXT):
        return None
    call = replace(touch(call, event), callee=call.callee or number(event.get("Exten")))
    return agent_answered(call, event.received_at)


def client_dial_ended(call: Call, event: AmiEvent) -> Call | None:
    """The dialplan's Dial to the client ended: not answered means the attempt is ``no_answer``."""
    if call.direction != "outbound" or event.get("Uniqueid") != call.uniqueid:
        return None
    if event.get("Context") != (call.originate_context or DEFAULT_CONTEXT):
        return None
    status = event.get("DialStatus")
    return replace(touch(call, event), no_answer=status != "ANSWER") if status else None


def originate_failed(state: CallState, action_id: str, now: float, *, lost: bool) -> Result:
    """The action came back refused (``lost=False``: nothing dials) or the link dropped before its answer
    (``lost=True``: the PBX may or may not have it). Still one record: failed, or lost track and cut."""
    attempt = state.originates.get(action_id)
    if attempt is None:
        return state, NO_EFFECTS
    state = _without_attempt(state, action_id)
    call = state.calls.get(attempt.linkedid or "")
    if call is not None:  # its channel is known: its hang-up (or the rebuild after the reconnect) closes it
        return (state, NO_EFFECTS) if lost else (with_call(state, replace(call, failed=True)), NO_EFFECTS)
    if lost:
        return state, close_attempt(attempt, now, "lost_track", "link_lost")
    return state, close_attempt(attempt, now, "failed")


def failed_originate(action: Mapping[str, str], response: Mapping[str, str], now: float) -> tuple[Effect, ...]:
    """The ``Response: Error`` to an Originate action is not an event: report it as a failed outbound call."""
    if response.get("Response") != "Error":
        return NO_EFFECTS
    variables = action.get("Variable", "")
    attempt = Attempt(
        action_id=action.get("ActionID", ""), channel=action.get("Channel", ""),
        extension=extension_of(action.get("Channel", "")), callee=number(action.get("Exten", "")),
        context=action.get("Context", DEFAULT_CONTEXT), sent=now,
        inquiry_id=_variable(variables, "CRM_INQUIRY_ID"), client_id=_variable(variables, "CRM_CLIENT_ID"),
        task_id=_variable(variables, "CRM_TASK_ID"),
    )
    return close_attempt(attempt, now, "failed")


def _variable(variables: str, wanted: str) -> str | None:
    for item in variables.split(","):
        name, _, value = item.partition("=")
        if name.strip() == wanted and value:
            return value.strip()
    return None


def cut_short(state: CallState, now: float, cut: str, calls: Iterable[Call] | None = None) -> Result:
    """The PBX is gone (``Shutdown``): every call still open ends here with what it was so far, and every
    attempt without a channel is lost track."""
    effects: list[Effect] = []
    for call in list(state.calls.values() if calls is None else calls):
        state = without_call(state, call)
        effects.extend(close_call(replace(call, cut=call.cut or cut), call.last_seen or now, outcome_so_far(call)))
    if calls is None:
        for attempt in [a for a in state.originates.values() if a.linkedid is None]:
            effects.extend(close_attempt(attempt, now, "lost_track", cut))
        state = with_attempts(state, {})
    return state, tuple(effects)


def resync_attempts(state: CallState, listing: Iterable[Mapping[str, str]], now: float, asked_at: float) -> Result:
    """After a reconnect: an attempt sent before the listing was asked for and still without a channel
    either is listed (its call is followed from here on) or never happened as far as the PBX now knows."""
    rows = [r for r in listing if r.get("Uniqueid") and r.get("Uniqueid") == r.get("Linkedid")
            and r.get("Uniqueid") not in state.channels]
    effects: list[Effect] = []
    for attempt in [a for a in state.originates.values() if a.linkedid is None and a.sent < asked_at]:
        row = next((r for r in rows if channel_base(r.get("Channel", "")) == attempt.channel), None)
        if row is None:
            state = _without_attempt(state, attempt.action_id)
            effects.extend(close_attempt(attempt, now, "lost_track", "link_lost"))
            continue
        rows.remove(row)
        uniqueid = row["Uniqueid"]
        call = as_attempt(Call(linkedid=uniqueid, uniqueid=uniqueid, channel=row.get("Channel"), started=attempt.sent,
                               last_seen=now, channels=frozenset({uniqueid})), attempt)
        if row.get("Context") == attempt.context:
            call = agent_answered(call, now)
        state = _without_attempt(with_call(state, call, {**state.channels, uniqueid: uniqueid}), attempt.action_id)
    return state, tuple(effects)
