"""Closing a live call into its CallRecord."""

from __future__ import annotations

from telephony.model import Call, CallbackNeeded, CallEnded, CallRecord, Effect


def outcome_of(call: Call) -> str:
    if call.failed:
        return "failed"
    if call.no_answer:
        return "no_answer"
    if call.abandoned:
        return "abandoned"
    if call.transferred_to:
        return "transferred"
    if call.answered_by or call.answered is not None:
        return "answered"
    return "no_answer"


def outcome_so_far(call: Call) -> str:
    """A call whose end the hub did not see: what it is known to have been, else ``lost_track`` (a call
    still ringing may have been answered meanwhile: never guessed missed, so no callback is invented)."""
    known = call.answered is not None or call.answered_by or call.failed or call.no_answer or call.abandoned
    return outcome_of(call) if known else "lost_track"


def close_call(call: Call, ended: float, outcome: str | None = None) -> tuple[Effect, ...]:
    outcome = outcome or outcome_of(call)
    wait_from = call.queued if call.queued is not None else call.started
    wait_until = call.answered if call.answered is not None else ended
    talk_until = call.talk_ended if call.talk_ended is not None else ended
    record = CallRecord(
        uniqueid=call.uniqueid,
        linkedid=call.linkedid,
        direction=call.direction,
        caller=call.caller,
        callee=call.callee,
        caller_name=call.caller_name,
        did=call.did,
        queue=call.queue,
        agents_rung=call.agents_rung,
        answered_by=call.answered_by,
        started=call.started,
        queued=call.queued,
        answered=call.answered,
        ended=ended,
        wait_s=round(max(0.0, wait_until - wait_from), 3),
        talk_s=round(max(0.0, talk_until - call.answered), 3) if call.answered is not None else 0.0,
        outcome=outcome,
        recording=call.recording,
        inquiry_id=call.inquiry_id,
        transferred_to=call.transferred_to,
        task_id=call.task_id,
        client_id=call.client_id,
        cut=call.cut,
    )
    effects: tuple[Effect, ...] = (CallEnded(record),)
    if outcome == "abandoned":
        effects += (CallbackNeeded(record.caller, record.queue, record.wait_s),)
    return effects
