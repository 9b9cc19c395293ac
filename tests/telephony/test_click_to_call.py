"""Click-to-call outcomes and PBX restarts in the pure call state, from the real Asterisk 22 traces."""

from __future__ import annotations

from connectors.asterisk.events import AmiEvent
from connectors.asterisk.protocol import AmiFrameSplitter
from connectors.asterisk.traces import read_trace
from telephony.calls import CallState, resync, transition
from telephony.model import Attempt, CallbackNeeded, CallEnded, CallRecord
from telephony.originate import originate_failed, originate_sent

from .drive import drive

T0 = 1_000_000.0


def originate_response_id(name: str) -> str:
    frames = [f for _, d, data in read_trace(name) if d == "<<<" for f in AmiFrameSplitter().feed(data)]
    return next(f["ActionID"] for f in frames if f.get("Event") == "OriginateResponse")


def run(name: str, extension: str, *, sync: bool = False) -> tuple[CallState, list[CallRecord], list]:
    """The trace as the hub lives it when it sent the Originate itself (its ActionID is the trace's)."""
    action_id = "sync-originate" if sync else originate_response_id(name)
    attempt = Attempt(action_id, f"Local/{extension}@agents", extension, "+79161234567", "outbound", T0,
                      inquiry_id="42", client_id="7", task_id="5")
    state, effects = originate_sent(CallState(), attempt)
    effects = list(effects)
    splitter = AmiFrameSplitter()
    for t, direction, data in read_trace(name):
        if direction != "<<<":
            continue
        for frame in splitter.feed(data):
            if (event := AmiEvent.from_frame(frame, T0 + t)) is not None:
                state, out = transition(state, event)
                effects.extend(out)
    return state, [e.record for e in effects if isinstance(e, CallEnded)], effects


def test_an_unanswered_click_to_call_is_one_outbound_no_answer_with_agent_and_client_never_an_inbound_missed():
    state, [record], effects = run("click_to_call_unanswered.txt", "102")
    assert (record.direction, record.outcome, record.caller, record.callee) == (
        "outbound", "no_answer", "102", "+79161234567")
    assert (record.inquiry_id, record.client_id, record.task_id) == ("42", "7", "5")
    assert record.uniqueid == "1796640680.24"  # the agent's Local ;1 channel: the ;2 half is the same call
    assert not [e for e in effects if isinstance(e, CallbackNeeded)]
    assert len(state.calls) == 0 and len(state.originates) == 0 and len(state.channels) == 0


def test_a_click_to_call_from_an_extension_the_pbx_lacks_is_one_failed_outbound():
    state, [record], _ = run("click_to_call_no_extension.txt", "104")
    assert (record.direction, record.outcome, record.caller, record.client_id) == ("outbound", "failed", "104", "7")
    assert len(state.calls) == 0 and len(state.originates) == 0


def test_an_answered_click_to_call_is_answered_by_the_agent_on_the_inquiry_it_was_made_from():
    state, [record], _ = run("click_to_call_answered.txt", "101")
    assert (record.direction, record.outcome, record.answered_by, record.caller) == ("outbound", "answered", "101",
                                                                                      "101")
    assert (record.inquiry_id, record.client_id, record.callee) == ("42", "7", "+79161234567")
    assert record.talk_s > 0 and len(state.calls) == 0 and len(state.originates) == 0


def test_a_synchronous_originate_answered_is_answered_outbound_with_the_agent():
    """outbound.txt's third Originate has no Async and no OriginateResponse: the agent's channel going on
    to the outbound context is the answer."""
    click, sync_call = drive("outbound.txt").records
    assert (click.outcome, click.answered_by, click.inquiry_id) == ("answered", "101", "42")
    assert (sync_call.direction, sync_call.outcome, sync_call.answered_by, sync_call.caller) == (
        "outbound", "answered", "101", "101")


def test_a_failure_without_any_channel_is_one_failed_record_and_a_foreign_failure_is_none():
    attempt = Attempt("a-1", "PJSIP/105", "105", "+79161234567", "outbound", T0, client_id="7")
    state, _ = originate_sent(CallState(), attempt)
    failure = {"ActionID": "a-1", "Response": "Failure", "Reason": "0", "Uniqueid": "<unknown>"}
    state, [ended] = transition(state, AmiEvent("OriginateResponse", failure, T0 + 1))
    assert (ended.record.outcome, ended.record.caller, ended.record.client_id) == ("failed", "105", "7")
    assert ended.record.uniqueid == "originate:a-1" and len(state.originates) == 0
    foreign = transition(CallState(), AmiEvent("OriginateResponse", {**failure, "ActionID": "other"}, T0))
    assert foreign[1] == (), "someone else's failed Originate is not invented into a call here"


def test_an_originate_whose_link_dropped_is_one_record_of_unknown_outcome_then_nothing_more():
    attempt = Attempt("a-2", "Local/101@agents", "101", "+79161234567", "outbound", T0, inquiry_id="42")
    state, _ = originate_sent(CallState(), attempt)
    state, [ended] = originate_failed(state, "a-2", T0 + 1, lost=True)
    assert (ended.record.outcome, ended.record.cut, ended.record.inquiry_id) == ("lost_track", "link_lost", "42")
    assert originate_failed(state, "a-2", T0 + 2, lost=True)[1] == ()
    assert resync(state, [], T0 + 3)[1] == ()


def test_a_pbx_restart_mid_call_closes_the_call_in_talk_once_answered_and_cut_by_the_restart():
    run_ = drive("pbx_restart_mid_call.txt")
    [record] = run_.records
    assert (record.outcome, record.answered_by, record.cut, record.direction) == ("answered", "101", "pbx_restart",
                                                                                  "inbound")
    assert record.talk_s > 0 and len(run_.state.calls) == 0
    assert not run_.of(CallbackNeeded)


def test_a_pbx_killed_mid_call_leaves_the_call_open_until_the_rebuild_closes_it_answered_and_cut():
    run_ = drive("pbx_killed_mid_call.txt")
    assert run_.records == [], "no Hangup ever came"
    [live] = run_.state.calls.values()
    state, [ended] = resync(run_.state, [], now=live.last_seen + 30, known_before=set(run_.state.calls),
                            booted_at=live.last_seen + 20)
    assert (ended.record.outcome, ended.record.answered_by, ended.record.cut) == ("answered", "101", "pbx_down")
    assert ended.record.ended == live.last_seen and ended.record.talk_s == round(live.last_seen - live.answered, 3)
    assert len(state.calls) == 0
