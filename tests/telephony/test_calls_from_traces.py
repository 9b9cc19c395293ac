from dataclasses import replace

from connectors.asterisk.events import AmiEvent
from connectors.asterisk.protocol import AmiFrameSplitter
from connectors.asterisk.traces import read_trace
from telephony.calls import CallState, failed_originate, resync, transition
from telephony.model import Answered, CallbackNeeded, CallEnded, Ringing, RingStopped

from .drive import drive


def test_an_answered_call_pops_up_for_101_then_is_recorded_as_answered_by_101():
    run = drive("answered.txt")
    kinds = [(type(e).__name__, getattr(e, "extension", None)) for e in run.effects]
    assert kinds == [("Ringing", "101"), ("Answered", "101"), ("CallEnded", None)]
    ringing = run.of(Ringing)[0]
    assert ringing.call.caller == "+79161234567"
    assert ringing.call.caller_name == "Иван Петров"
    [record] = run.records
    assert record.outcome == "answered"
    assert record.answered_by == "101"
    assert record.caller == "+79161234567"
    assert record.caller_name == "Иван Петров"
    assert record.did == "74950000001"
    assert record.queue == "sales"
    assert record.agents_rung == ("101",)
    assert record.direction == "inbound"
    assert record.recording and record.recording.endswith(f"{record.uniqueid}.wav")
    assert record.started <= record.queued <= record.answered <= record.ended
    assert record.talk_s > 2 and record.wait_s < 1
    assert len(run.state.calls) == 0


def test_a_caller_who_hangs_up_while_ringing_is_abandoned_and_needs_a_callback():
    run = drive("abandon_rna.txt")
    first, second = run.records
    assert first.outcome == "abandoned"
    assert first.caller == "+74951112233"
    assert first.caller_name == "ООО Ромашка"
    assert first.answered_by is None and first.talk_s == 0
    [callback] = run.of(CallbackNeeded)
    assert callback.caller == "+74951112233"
    assert callback.queue == "sales"
    assert callback.wait_s == first.wait_s > 2
    assert second.outcome == "answered"
    assert second.caller == "+79035550101"


def test_102_rings_without_answer_then_101_answers():
    run = drive("ring_no_answer.txt")
    kinds = [(type(e).__name__, getattr(e, "extension", None)) for e in run.effects]
    assert kinds == [
        ("Ringing", "102"), ("RingStopped", "102"), ("Ringing", "101"), ("Answered", "101"), ("CallEnded", None),
    ]
    [record] = run.records
    assert record.agents_rung == ("102", "101")
    assert record.answered_by == "101"
    assert record.did == "74950000003"
    assert record.queue == "linear"
    assert record.wait_s > 4
    assert len(run.of(RingStopped)) == 1


def test_a_call_redirected_by_the_agent_to_103_is_recorded_as_transferred():
    [record] = drive("transfer.txt").records
    assert record.outcome == "transferred"
    assert record.transferred_to == "103"
    assert record.answered_by == "101"
    assert record.caller == "+79857776655"
    assert record.caller_name == "Пётр Сидоров"


def test_click_to_call_carries_the_crm_inquiry_and_the_failed_originate_is_a_failed_call():
    run = drive("outbound.txt")
    click, sync_call = run.records
    assert click.direction == "outbound"
    assert click.inquiry_id == "42"
    assert click.callee == "+79161234567"
    assert click.caller == "101"
    assert sync_call.direction == "outbound"
    assert sync_call.callee == "+79161234567"
    entries = read_trace("outbound.txt")
    actions = [_frame(data) for _, direction, data in entries if direction == ">>>"]
    replies = [_frame(data) for _, direction, data in entries if direction == "<<<" and b"ActionID" in data]
    bad = next(a for a in actions if a.get("Exten") == "1")
    reply = next(r for r in replies if r.get("ActionID") == bad["ActionID"])
    [ended] = failed_originate(bad, reply, now=5.0)
    assert isinstance(ended, CallEnded)
    assert ended.record.outcome == "failed"
    assert ended.record.direction == "outbound"


def test_twenty_simultaneous_calls_give_twenty_records_with_every_abandon_counted():
    run = drive("burst20.txt")
    assert len(run.records) == 20
    abandons = sum(1 for f in run.frames if f.get("Event") == "QueueCallerAbandon")
    assert abandons > 0
    assert sum(1 for r in run.records if r.outcome == "abandoned") == abandons
    assert len(run.of(CallbackNeeded)) == abandons
    assert len({r.linkedid for r in run.records}) == 20
    assert len(run.state.calls) == 0
    assert all(r.answered_by for r in run.records if r.outcome == "answered")
    assert len(run.of(Answered)) == sum(1 for r in run.records if r.outcome == "answered")


def test_after_a_reconnect_a_call_asterisk_still_lists_stays_and_a_vanished_one_closes_as_it_was_so_far():
    splitter = AmiFrameSplitter()
    state = CallState()
    listing: list[dict[str, str]] = []
    for t, direction, data in read_trace("resync.txt"):
        if direction != "<<<":
            continue
        for frame in splitter.feed(data):
            if frame.get("Event") == "CoreShowChannel":
                listing.append(frame)
            if frame.get("Event") == "CoreShowChannelsComplete":
                break
            event = AmiEvent.from_frame(frame, 100.0 + t)
            if event:
                state, _ = transition(state, event)
        else:
            continue
        break
    assert listing and len(state.calls) == 1
    kept, effects = resync(state, listing, now=200.0)
    assert kept.calls == state.calls and effects == ()
    gone, effects = resync(state, [], now=200.0)
    assert len(gone.calls) == 0
    [ended] = effects
    live = next(iter(state.calls.values()))
    # it was answered before the link dropped: answered it stays, talk up to the last event, cut by the link
    assert (ended.record.outcome, ended.record.cut, ended.record.answered_by) == ("answered", "link_lost", "103")
    assert ended.record.ended == live.last_seen < 200.0
    assert ended.record.talk_s == round(live.last_seen - live.answered, 3)
    [down] = resync(state, [], now=200.0, booted_at=live.last_seen + 1)[1]
    assert down.record.cut == "pbx_down", "the PBX booted after the call was last seen: it died with the PBX"
    ringing = replace(live, answered=None, answered_by=None)
    [unknown] = resync(replace(state, calls={live.linkedid: ringing}), [], now=200.0)[1]
    assert unknown.record.outcome == "lost_track", "a call not seen answered is never guessed missed"
    assert ended.record.queue == "support"
    new_call, effects = resync(state, [], now=200.0, known_before=set())
    assert new_call.calls == state.calls and effects == (), \
        "a call whose events came after the listing was asked for is alive, listed or not"
    gone_again, effects = resync(state, [], now=200.0, known_before=set(state.calls))
    assert len(gone_again.calls) == 0 and len(effects) == 1


def test_unknown_events_and_events_for_unknown_channels_leave_the_state_unchanged():
    state = CallState()
    for name in ("Bogus", "Hangup", "AgentCalled", "NewCallerid", "VarSet", "OriginateResponse"):
        event = AmiEvent(name, {"Uniqueid": "1.1", "Linkedid": "1.1", "Response": "Success"}, 1.0)
        new_state, effects = transition(state, event)
        assert new_state is state and effects == ()


def _frame(data: bytes) -> dict[str, str]:
    return AmiFrameSplitter().feed(data)[0]


def test_a_pbx_sending_cp1251_names_still_gives_the_caller_name_through_the_fallback():
    sent = b"".join(data for _, direction, data in read_trace("answered.txt") if direction == "<<<")
    splitter = AmiFrameSplitter()
    state, effects = CallState(), []
    for frame in splitter.feed(sent.decode("utf-8").encode("cp1251")):
        if event := AmiEvent.from_frame(frame, 0.0):
            state, out = transition(state, event)
            effects += out
    [ended] = [e for e in effects if isinstance(e, CallEnded)]
    assert ended.record.caller_name == "Иван Петров"
    assert splitter.fallback_decoded > 0


def test_when_one_agent_answers_a_ringall_call_the_others_stop_ringing():
    from connectors.asterisk.events import AmiEvent
    from telephony.calls import CallState, transition
    from telephony.model import Answered, RingStopped

    def ev(name, **headers):
        return AmiEvent.from_frame({"Event": name, "Uniqueid": "c1", "Linkedid": "c1", **headers}, 1.0)

    state = CallState()
    effects = []
    for event in (ev("Newchannel", Channel="PJSIP/trunk-1", CallerIDNum="+79161234567", Exten="74950000002"),
                  ev("QueueCallerJoin", Queue="support"),
                  ev("AgentCalled", Interface="Local/101@agents/n", Queue="support"),
                  ev("AgentCalled", Interface="Local/103@agents/n", Queue="support"),
                  ev("AgentConnect", Interface="Local/103@agents/n", Queue="support")):
        state, out = transition(state, event)
        effects.extend(out)
    answered = [e.extension for e in effects if isinstance(e, Answered)]
    stopped = [e.extension for e in effects if isinstance(e, RingStopped)]
    assert answered == ["103"] and stopped == ["101"]


def test_a_caller_hanging_up_while_ringing_closes_the_ringing_agents_pop_up():
    from telephony.model import Ringing, RingStopped

    run = drive("abandon_rna.txt")
    first = run.records[0].linkedid
    rung = [e.extension for e in run.effects if isinstance(e, Ringing) and e.call.linkedid == first]
    stopped = [e.extension for e in run.effects if isinstance(e, RingStopped) and e.call.linkedid == first]
    assert rung and sorted(set(stopped)) == sorted(set(rung))


def test_a_transfer_moves_the_card_from_the_agent_who_answered_to_the_new_extension():
    from telephony.model import Transferred

    [moved] = drive("transfer.txt").of(Transferred)
    assert (moved.from_extension, moved.to_extension) == ("101", "103")
    assert moved.call.caller == "+79857776655"
