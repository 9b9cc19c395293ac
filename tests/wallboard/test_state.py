"""The wallboard reducer over the real AMI traces: what a supervisor would read off the board."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

from connectors.asterisk.events import AmiEvent
from connectors.asterisk.protocol import AmiFrameSplitter
from connectors.asterisk.traces import read_trace
from telephony.calls import CallState, transition
from wallboard.boards import AgentRow, HistoryRow
from wallboard.state import CALL_EVENTS, Wallboard

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/Moscow")).timestamp()


def events(name: str, t0: float = T0) -> Iterator[AmiEvent]:
    splitter = AmiFrameSplitter()
    for t, direction, data in read_trace(name):
        if direction != "<<<":
            continue
        for frame in splitter.feed(data):
            event = AmiEvent.from_frame(frame, t0 + t)
            if event is not None:
                yield event


def play(board: Wallboard, name: str, t0: float = T0, watch=None, stop: str | None = None) -> CallState:  # noqa: ANN001
    state = CallState()
    for event in events(name, t0):
        if event.name == stop:
            break
        state, _ = transition(state, event)
        board.apply(event)
        if event.name in CALL_EVENTS:
            board.sync_calls(state.calls.values())
        if watch is not None:
            watch(board, event)
    return state


def trace_count(name: str, event: str) -> int:
    return sum(1 for e in events(name) if e.name == event)


def test_burst20_callers_come_and_go_and_the_counts_match_the_trace():
    board = Wallboard(service_level_s=20)
    waiting: list[int] = []
    play(board, "burst20.txt", watch=lambda b, e: waiting.append(sum(len(q.waiting) for q in b.queues.values())))
    snap = board.snapshot(T0 + 60)
    sales, support = snap["queues"]["sales"], snap["queues"]["support"]
    assert max(waiting) >= 5, "callers pile up in the queues during the burst"
    assert waiting[-1] == 0 and not sales["waiting"] and not support["waiting"], "and all of them leave"
    assert sales["abandoned"] + support["abandoned"] == trace_count("burst20.txt", "QueueCallerAbandon") == 9
    assert sales["answered"] + support["answered"] == trace_count("burst20.txt", "AgentConnect") == 11
    assert support["service_level"] == 100.0  # every support call answered at once
    assert sales["service_level"] == 10.0  # one answered in time out of one answered + nine abandoned
    assert support["avg_talk_s"] is not None and 2 <= support["avg_talk_s"] <= 3
    # the last AgentComplete comes after the caller hung up (only the agent leg's fields): still counted
    assert board.queues["support"].talk_n == 10


def test_the_longest_wait_is_the_earliest_caller_still_waiting_and_agents_show_their_call():
    board = Wallboard()
    seen: dict[str, object] = {}

    def watch(b: Wallboard, e: AmiEvent) -> None:
        q = b.queues.get("sales")
        if q and len(q.waiting) >= 3 and "longest" not in seen:
            snap = b.snapshot(e.received_at)["queues"]["sales"]
            seen["longest"] = (snap["longest_since"], min(w["since"] for w in snap["waiting"]))
            seen["callers"] = [w["caller"] for w in snap["waiting"]]
        for agent in b.agents.values():
            if agent.call and "call" not in seen:
                seen["call"] = (agent.extension, agent.call)

    play(board, "burst20.txt", watch=watch)
    longest, earliest = seen["longest"]  # type: ignore[misc]
    assert longest == earliest
    assert all(c and c.startswith("+7916100") for c in seen["callers"])  # type: ignore[union-attr]
    ext, call = seen["call"]  # type: ignore[misc]
    assert ext in ("101", "103") and call["caller"].startswith("+7916100") and call["since"] >= T0
    assert all(a.call is None for a in board.agents.values()), "nobody is on a call after the burst"


def test_replayed_events_and_stored_calls_never_count_a_call_twice():
    board = Wallboard()
    play(board, "burst20.txt")
    play(board, "burst20.txt")  # the same calls again (same Linkedids): a replay, not new calls
    sales = board.snapshot(T0)["queues"]["sales"]
    assert (sales["answered"], sales["abandoned"]) == (1, 9)
    abandoned_key = next(k for k, o in board.queues["sales"].outcomes.items() if not o.answered)
    assert not board.merge_history([HistoryRow("sales", abandoned_key, False, 2.0, None)])
    assert board.merge_history([HistoryRow("sales", "earlier.1", True, 30.0, 60.0),
                                HistoryRow("sales", "earlier.2", False, 5.0, None)])
    sales = board.snapshot(T0)["queues"]["sales"]
    assert (sales["answered"], sales["abandoned"]) == (2, 10)
    assert sales["service_level"] == round(100 * 1 / 12, 1), "30 s is beyond the 20 s service level"


def test_a_new_day_starts_the_counts_from_zero():
    board = Wallboard()
    play(board, "abandon_rna.txt")
    assert board.snapshot(T0)["queues"]["sales"]["abandoned"] == 1
    board.take_changes()
    assert not board.tick(T0 + 3600) and not board.take_changes()
    assert board.tick(T0 + 86_400), "midnight passed with the PBX quiet: the counts start again"
    assert board.take_changes().queues == {"sales"} and board.snapshot(T0)["queues"]["sales"]["abandoned"] == 0
    play(board, "answered.txt", t0=T0 + 86_400)
    sales = board.snapshot(T0 + 86_400)["queues"]["sales"]
    assert (sales["answered"], sales["abandoned"]) == (1, 0)


def test_after_a_reconnect_the_board_is_what_the_pbx_says():
    board = Wallboard()
    state = play(board, "resync.txt", stop="CoreShowChannel")  # the link drops while a call is up
    live = list(state.calls.values())
    queues = {"support": {"Queue": "support", "Strategy": "ringall", "LoggedIn": "1", "Available": "0"},
              "sales": {"Queue": "sales", "Strategy": "rrmemory", "LoggedIn": "2", "Available": "2"}}
    members = [{"Event": "QueueMember", "Queue": "support", "Name": "Мария Козлова", "Location": "Local/103@agents/n",
                "Status": "2", "Paused": "0"},
               {"Event": "QueueMember", "Queue": "sales", "Name": "Олег Иванов", "Location": "Local/102@agents/n",
                "Status": "1", "Paused": "1", "PausedReason": "обед"}]
    board._agent_for_ext("999")  # a member the PBX no longer has
    board.rebuild(queues, members, live, T0 + 30)
    snap = board.snapshot(T0 + 30)
    assert snap["full"] and snap["queues"]["sales"]["logged_in"] == 2
    assert snap["queues"]["support"]["strategy"] == "ringall"
    by_ext = {a["extension"]: a for a in snap["agents"].values()}
    assert "999" not in by_ext
    assert by_ext["102"]["paused"] and by_ext["102"]["paused_reason"] == "обед"
    assert by_ext["103"]["device"] == "in_use" and by_ext["103"]["queues"] == ["support"]
    talking = [c for c in live if c.answered_by]
    assert talking and by_ext["103"]["call"]["id"] == talking[0].linkedid


def test_hub_agents_merge_with_pbx_members_and_supervisors_see_only_their_departments():
    board = Wallboard()
    play(board, "answered.txt")
    board.take_changes()
    assert board.set_agents([AgentRow(1, "Анна", "101", 10, "available", T0, 2, 68),
                             AgentRow(2, "Мария", "103", 20, "break", T0, 0, 68)])
    agents = board.snapshot(T0)["agents"]
    assert "x101" not in agents and agents["u1"]["queues"] == ["sales"] and agents["u1"]["load"] == 2
    changes = board.take_changes()
    assert {"u1", "u2", "x101"} <= changes.agents
    assert board.set_status(2, "available", T0 + 5)
    delta = board.delta(board.take_changes(), T0 + 5, frozenset({10}))
    assert "agents" not in delta, "a change in another department is not sent to this supervisor"
    delta = board.delta(board.changes, T0 + 5, None)
    board.set_list("inquiries", [{"id": 7, "departments": [20]}, {"id": 8, "departments": [10]}])
    frame = board.delta(board.take_changes(), T0 + 6, frozenset({10}))
    assert [r["id"] for r in frame["inquiries"]] == [8]
    assert [r["id"] for r in board.snapshot(T0, None)["inquiries"]] == [7, 8]
    assert not board.set_list("inquiries", [{"id": 7, "departments": [20]}, {"id": 8, "departments": [10]}])
    assert not board.take_changes(), "nothing changed, nothing to send"


def test_who_talks_and_rings_after_each_event_is_what_a_fresh_look_at_every_call_shows():
    """The board syncs only the calls that changed; at every step of a burst and a transfer it shows the
    same rings and talks as a board that looks at all the live calls from scratch."""
    for trace in ("burst20.txt", "transfer.txt", "abandon_rna.txt"):
        board, state, steps = Wallboard(service_level_s=20), CallState(), 0
        for event in events(trace):
            state, _ = transition(state, event)
            board.apply(event)
            if event.name not in CALL_EVENTS:
                continue
            board.sync_calls(state.calls)
            fresh = Wallboard(service_level_s=20)
            fresh.sync_calls(list(state.calls.values()))
            shown = {a.extension: (a.call, a.ringing) for a in board.agents.values() if a.call or a.ringing}
            assert shown == {a.extension: (a.call, a.ringing) for a in fresh.agents.values()}, (trace, event.name)
            steps += bool(shown)
        assert steps > 0, f"{trace}: somebody rang or talked"
