"""What the fake PBX replays of a real trace: its events, how the session ended, the recorded list answers.

A trace of a PBX restart ends with ``Shutdown`` (then Asterisk closes the session); a trace of a PBX killed
(``kill -9``) ends with the recording client's ``Logoff`` left unanswered: the session simply ended.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from connectors.asterisk.traces import read_trace

LIST_EVENTS = frozenset({
    "CoreShowChannel", "CoreShowChannelsComplete", "QueueParams", "QueueMember", "QueueEntry",
    "QueueStatusComplete", "QueueSummary", "QueueSummaryComplete",
})
SESSION_EVENTS = frozenset({"FullyBooted", "SuccessfulAuth"})  # the recording session's own: the fake sends its own
_ID_LINE = re.compile(rb"^(\w*(?:Uniqueid|Linkedid)): (\d+)\.(\d+)\r$", re.MULTILINE | re.IGNORECASE)
_ACTION_ID = re.compile(rb"^ActionID: [^\r]*\r$", re.MULTILINE)


@dataclass
class Replay:
    events: list[tuple[float, bytes]] = field(default_factory=list)
    ends: str | None = None  # "shutdown" (a restart: the PBX closes the session) or "killed" (it just ends)


def parse_frame(data: bytes) -> dict[str, str]:
    frame: dict[str, str] = {}
    for line in data.decode("utf-8", errors="replace").split("\r\n"):
        key, sep, value = line.partition(": ")
        if sep:
            frame[key] = value
    return frame


def shift_ids(data: bytes, offset: int) -> bytes:
    """Give a replayed call new Uniqueid/Linkedid values, so a looped trace makes new calls."""
    if not offset:
        return data
    return _ID_LINE.sub(lambda m: b"%s: %d.%s\r" % (m[1], int(m[2]) + offset, m[3]), data)


def with_action_id(data: bytes, action_id: str) -> bytes:
    """An ``OriginateResponse`` answering the Originate the hub sent: its ActionID is the hub's."""
    if not data.startswith(b"Event: OriginateResponse\r\n"):
        return data
    return _ACTION_ID.sub(b"ActionID: " + action_id.encode() + b"\r", data)


def events_of(trace: str | Path, replace: dict[str, str]) -> Replay:
    """The events Asterisk sent, without the answers to the recording client's own list actions.

    ``replace`` swaps text in them (a test's hostile caller name, say) after the trace is read.
    """
    replay = Replay()
    answered: set[str] = set()
    logoff: str | None = None
    for t, direction, data in read_trace(trace):
        frame = parse_frame(data)
        if direction == ">>>":
            logoff = frame.get("ActionID") if frame.get("Action") == "Logoff" else logoff
            continue
        answered.add(frame.get("ActionID", ""))
        if not data.startswith(b"Event:"):
            continue
        for old, new in replace.items():
            data = data.replace(old.encode(), new.encode())
        name = frame.get("Event", "")
        if name in SESSION_EVENTS or name in LIST_EVENTS and "ActionID" in frame:
            continue
        replay.ends = "shutdown" if name == "Shutdown" else replay.ends
        replay.events.append((t, data))
    if replay.ends is None and logoff is not None and logoff not in answered:
        replay.ends = "killed"
    return replay


def recorded_lists() -> dict[str, list[dict[str, str]]]:
    """The QueueStatus and QueueSummary answers of resync.txt, keyed by action name."""
    by_id: dict[str, str] = {}
    lists: dict[str, list[dict[str, str]]] = {"queuestatus": [], "queuesummary": []}
    try:
        entries = read_trace("resync.txt")
    except OSError:
        return lists
    for _, direction, data in entries:
        frame = parse_frame(data)
        if direction == ">>>" and frame.get("Action", "").lower() in lists:
            by_id[frame.get("ActionID", "")] = frame["Action"].lower()
        elif direction == "<<<" and "Event" in frame and frame.get("ActionID") in by_id:
            lists[by_id[frame["ActionID"]]].append(frame)
    return lists
