"""The wallboard as a pure reducer: AMI events and database readings in, snapshots and deltas out.

No I/O here. ``wallboard/wiring.py`` feeds it (every AMI event, the live calls of the telephony state, the
agents' hub states, the periodic database readings) and sends what changed to the supervisors' browsers.

Per queue it keeps the callers waiting (from ``QueueCallerJoin``/``Leave``/``Abandon``) and today's
outcomes keyed by the caller's Linkedid — answered (``AgentConnect``, with its ``HoldTime``), abandoned
(``QueueCallerAbandon``), talk time (``AgentComplete``). Keyed outcomes make every source idempotent: an
event seen twice, or a call counted from the events and again from the stored calls read after a
reconnect, counts once. The service level is answered within ``service_level_s`` over answered + abandoned.
The boards it keeps, and the rows it is fed, are in ``wallboard/boards.py``.

Times are Unix seconds (floats); the browser shows "for how long" by counting from them, so nothing needs
a push every second.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from connectors.asterisk.events import AmiEvent
from telephony.calls import extension_of
from telephony.model import Call
from wallboard.boards import AgentBoard, AgentRow, Changes, HistoryRow, Outcome, QueueBoard, Scope, Waiting, num

# Asterisk's device states as QueueMemberStatus/QueueMember ``Status`` numbers them.
DEVICE_STATES = {"0": "unknown", "1": "idle", "2": "in_use", "3": "busy", "4": "invalid", "5": "unavailable",
                 "6": "ringing", "7": "ringing", "8": "on_hold"}
QUEUE_EVENTS = frozenset({"QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon", "AgentConnect",
                          "AgentComplete", "QueueMemberStatus", "QueueMemberPause", "QueueMemberAdded",
                          "QueueMemberRemoved"})
# Events after which the live calls may have changed who talks or rings (the wiring re-reads them then).
CALL_EVENTS = frozenset({"AgentCalled", "AgentConnect", "AgentRingNoAnswer", "AgentComplete", "BridgeEnter",
                         "BridgeLeave", "DialBegin", "DialEnd", "Hangup", "QueueCallerAbandon", "QueueCallerLeave",
                         "BlindTransfer", "AttendedTransfer", "Newstate"})


def _engaged(call: Call) -> tuple[str | None, tuple[str, ...]]:
    """The extension talking on ``call`` (None when nobody is) and the extensions it rings."""
    talking = call.answered_by if call.answered_by and call.talk_ended is None else None
    return talking, tuple(ext for ext in call.ringing if ext)


def _since_and_id(info: dict[str, Any]) -> tuple[float, str]:
    return info["since"] or 0.0, info["id"]


def _known(value: str | None) -> str | None:
    return value if value and value != "<unknown>" else None


class Wallboard:
    """The state. Every mutator returns whether something visible changed (and remembers what)."""

    def __init__(self, *, service_level_s: float = 20, time_zone: str = "Europe/Moscow") -> None:
        self.service_level_s = service_level_s
        self.zone = ZoneInfo(time_zone)
        self.queues: dict[str, QueueBoard] = {}
        self.agents: dict[str, AgentBoard] = {}
        self._by_ext: dict[str, str] = {}
        self._by_user: dict[int, str] = {}
        self._resync_all = True  # the next sync looks at every call and agent again
        self._synced: dict[str, Call] = {}  # linkedid → the call as last synced
        self._talk_at: dict[str, dict[str, dict[str, Any]]] = {}  # extension → linkedid → the call it talks on
        self._ring_at: dict[str, dict[str, dict[str, Any]]] = {}  # extension → linkedid → the call ringing it
        self.inquiries: list[dict[str, Any]] = []
        self.flags: list[dict[str, Any]] = []
        self.day: date | None = None
        self.version = 0
        self.changes = Changes(full=True)

    # --- helpers ---------------------------------------------------------------------------------
    def _queue(self, name: str) -> QueueBoard:
        board = self.queues.get(name)
        if board is None:
            board = self.queues[name] = QueueBoard(name, self.service_level_s)
            self.changes.queues.add(name)
        return board

    def _agent_for_ext(self, ext: str) -> AgentBoard:
        key = self._by_ext.get(ext)
        if key is None:
            key = f"x{ext}"
            self.agents[key] = AgentBoard(key, extension=ext)
            self._by_ext[ext] = key
            self.changes.agents.add(key)
        return self.agents[key]

    def _rollover(self, at: float) -> bool:
        """A new day (in the agency's time zone) starts today's counts from zero."""
        day = datetime.fromtimestamp(at, self.zone).date()
        if self.day is None:
            self.day = day
        elif day != self.day:
            self.day = day
            for board in self.queues.values():
                board.clear_day()
                self.changes.queues.add(board.name)
            return True
        return False

    def tick(self, now: float) -> bool:
        """Called now and then without events: at midnight the counts start again even if the PBX is quiet."""
        return self._rollover(now)

    def is_today(self, at: float) -> bool:
        return self.day is None or datetime.fromtimestamp(at, self.zone).date() == self.day

    # --- AMI events ------------------------------------------------------------------------------
    def apply(self, event: AmiEvent) -> bool:
        name = event.name
        if name not in QUEUE_EVENTS:
            return False
        self._rollover(event.received_at)
        if name.startswith("QueueMember"):
            return self._member(event.headers, removed=name == "QueueMemberRemoved")
        queue = event.get("Queue")
        if not queue:
            return False
        board = self._queue(queue)
        # AgentComplete after the caller hung up carries only the agent leg (its DestLinkedid is the call's)
        key = event.get("Linkedid") or event.get("DestLinkedid") or event.get("Uniqueid")
        if not key:
            return False
        if name == "QueueCallerJoin":
            board.waiting[key] = Waiting(key, _known(event.get("CallerIDNum")), _known(event.get("CallerIDName")),
                                         event.received_at)
        elif name == "QueueCallerLeave":
            if board.waiting.pop(key, None) is None:
                return False
        elif name == "QueueCallerAbandon":
            board.waiting.pop(key, None)
            board.put(key, Outcome(False, num(event.get("HoldTime")) or 0.0))
        elif name == "AgentConnect":
            board.waiting.pop(key, None)
            board.put(key, Outcome(True, num(event.get("HoldTime")) or 0.0))
        elif name == "AgentComplete":
            old = board.outcomes.get(key)
            wait = num(event.get("HoldTime"))
            if not board.put(key, Outcome(True, wait if wait is not None else (old.wait_s if old else 0.0),
                                          num(event.get("TalkTime")))):
                return False
        self.changes.queues.add(queue)
        return True

    def _member(self, frame: Mapping[str, str], *, removed: bool = False) -> bool:
        interface = frame.get("Interface") or frame.get("Location") or frame.get("StateInterface") or ""
        if not interface:
            return False
        agent = self._agent_for_ext(extension_of(interface))
        queue = frame.get("Queue")
        before = agent.render()
        if queue:
            if removed:
                agent.queues.discard(queue)
            else:
                agent.queues.add(queue)
                self._queue(queue)
        if not agent.name:
            agent.name = _known(frame.get("MemberName") or frame.get("Name"))
        if "Status" in frame:
            agent.device = DEVICE_STATES.get(frame["Status"], "unknown")
        if "Paused" in frame:
            agent.paused = frame["Paused"] in ("1", "true", "yes")
            agent.paused_reason = (frame.get("PausedReason") or frame.get("Reason") or None) if agent.paused else None
        if agent.render() == before:
            return False
        self.changes.agents.add(agent.key)
        return True

    def sync_calls(self, calls: Mapping[str, Call] | Iterable[Call]) -> bool:
        """Who talks to whom and whose phone rings, from the telephony service's live calls (by linkedid).

        Incremental: a call is looked at again only when its value is another object than at the last sync
        (calls are immutable, a change is a new value) or when it is gone, so a frame costs what changed,
        not the number of calls up (it ran at every frame over every live call: 5% of the hub at 50 calls/s)."""
        live = calls if isinstance(calls, Mapping) else {c.linkedid: c for c in calls}
        touched: set[str] = set()
        if self._resync_all:  # after the agents were read again or rebuilt: everyone once
            touched = {a.extension for a in self.agents.values() if a.extension and (a.call or a.ringing)}
            self._resync_all = False
            self._synced.clear()
            self._talk_at.clear()
            self._ring_at.clear()
        synced = self._synced
        for linkedid, call in live.items():
            before = synced.get(linkedid)
            if before is not call:
                if before is not None:
                    self._drop_call(linkedid, before, touched)
                self._add_call(linkedid, call, touched)
                synced[linkedid] = call
        if len(synced) > len(live):
            for linkedid in [k for k in synced if k not in live]:
                self._drop_call(linkedid, synced.pop(linkedid), touched)
        changed = False
        for ext in touched:
            talk, rings = self._talk_at.get(ext), self._ring_at.get(ext)
            # on two calls at once (a second answered before the first's hang-up came): the newest talk, the
            # longest ring; whichever order the calls are looked at in
            call = max(talk.values(), key=_since_and_id) if talk else None
            ring = min(rings.values(), key=_since_and_id) if rings else None
            if ext not in self._by_ext and call is None and ring is None:
                continue
            agent = self._agent_for_ext(ext)
            if agent.call != call or agent.ringing != ring:
                agent.call, agent.ringing = call, ring
                self.changes.agents.add(agent.key)
                changed = True
        return changed

    def _add_call(self, linkedid: str, call: Call, touched: set[str]) -> None:
        info = {"id": call.linkedid, "caller": call.caller, "name": call.caller_name, "queue": call.queue,
                "direction": call.direction}
        talk_ext, rung = _engaged(call)
        if talk_ext:
            self._talk_at.setdefault(talk_ext, {})[linkedid] = {**info, "since": call.answered}
            touched.add(talk_ext)
        for ext in rung:
            self._ring_at.setdefault(ext, {})[linkedid] = {**info, "since": call.queued or call.started}
            touched.add(ext)

    def _drop_call(self, linkedid: str, call: Call, touched: set[str]) -> None:
        """Take back what ``call`` (as last synced) had put in: its talk and its rings."""
        talk_ext, rung = _engaged(call)
        for ext, at in ((talk_ext, self._talk_at), *((x, self._ring_at) for x in rung)):
            if ext is None:
                continue
            calls = at.get(ext)
            if calls is not None:
                calls.pop(linkedid, None)
                if not calls:
                    del at[ext]
            touched.add(ext)

    # --- after a (re)connect ---------------------------------------------------------------------
    def rebuild(self, queues: Mapping[str, Mapping[str, str]], members: Iterable[Mapping[str, str]],
                calls: Iterable[Call], now: float) -> None:
        """Everything the PBX says now replaces what the events had built; today's outcomes stay."""
        self._rollover(now)
        calls = list(calls)
        for name, fields in queues.items():
            board = self._queue(name)
            board.pbx = {k: str(v) for k, v in fields.items()
                         if k in ("Strategy", "LoggedIn", "Available", "Max", "Weight")}
        for board in self.queues.values():
            board.waiting = {}
        for call in calls:
            if call.queue and call.queued is not None and call.answered is None and not call.abandoned:
                self._queue(call.queue).waiting[call.linkedid] = Waiting(call.linkedid, call.caller,
                                                                          call.caller_name, call.queued)
        for agent in self.agents.values():
            agent.queues, agent.device, agent.paused, agent.paused_reason = set(), None, False, None
        for key in [k for k, a in self.agents.items() if a.user_id is None]:
            ext = self.agents.pop(key).extension
            self._by_ext.pop(ext or "", None)
        for frame in members:
            self._member(frame)
        self._resync_all = True
        self.sync_calls(calls)
        self.changes.full = True

    def merge_history(self, rows: Iterable[HistoryRow]) -> bool:
        """Today's stored queue calls: fills in what happened while the hub was not listening."""
        changed = False
        for row in rows:
            board = self._queue(row.queue)
            known = board.outcomes.get(row.key)
            outcome = Outcome(row.answered, row.wait_s, row.talk_s if row.talk_s is not None
                              else (known.talk_s if known else None))
            if known is not None and known.answered == outcome.answered and (known.talk_s is not None
                                                                             or outcome.talk_s is None):
                continue
            if board.put(row.key, outcome):
                self.changes.queues.add(row.queue)
                changed = True
        return changed

    # --- the hub's side: staff, states, load, inquiries, flags ------------------------------------
    def set_agents(self, rows: Iterable[AgentRow]) -> bool:
        """The agents the hub knows (name, extension, department, state, load/capacity)."""
        changed = False
        self._resync_all = True  # an extension may move to another agent here: the next sync looks at all
        seen: set[str] = set()
        for row in rows:
            key = f"u{row.user_id}"
            seen.add(key)
            agent = self.agents.get(key)
            if agent is None:
                agent = self.agents[key] = AgentBoard(key)
                changed = True
            before = agent.render()
            if row.extension and row.extension in self._by_ext and self._by_ext[row.extension] != key:
                other = self.agents.pop(self._by_ext[row.extension], None)  # the PBX member is this user
                if other is not None:
                    self.changes.agents.add(other.key)
                    agent.queues, agent.device, agent.call, agent.ringing = (other.queues, other.device, other.call,
                                                                             other.ringing)
                    agent.paused, agent.paused_reason = other.paused, other.paused_reason
            if agent.extension and agent.extension != row.extension:
                self._by_ext.pop(agent.extension, None)
            agent.user_id, agent.name, agent.extension = row.user_id, row.name, row.extension
            agent.department_id, agent.load, agent.capacity = row.department_id, row.load, row.capacity
            if agent.status != row.status:
                agent.status, agent.status_since = row.status, row.status_since
            if row.extension:
                self._by_ext[row.extension] = key
            self._by_user[row.user_id] = key
            if agent.render() != before:
                self.changes.agents.add(key)
                changed = True
        for key in [k for k, a in self.agents.items() if a.user_id is not None and k not in seen]:
            agent = self.agents.pop(key)
            self._by_user.pop(agent.user_id or 0, None)
            if agent.extension and self._by_ext.get(agent.extension) == key:
                del self._by_ext[agent.extension]
            self.changes.agents.add(key)
            changed = True
        return changed

    def set_status(self, user_id: int, status: str, since: float, reason: str | None = None) -> bool:
        """An agent's hub state changed (AgentStatusChanged on the bus)."""
        key = self._by_user.get(user_id)
        agent = self.agents.get(key) if key else None
        if agent is None or (agent.status == status and agent.reason == reason):
            return False
        agent.status, agent.status_since, agent.reason = status, since, reason
        self.changes.agents.add(agent.key)
        return True

    def set_list(self, name: str, rows: list[dict[str, Any]]) -> bool:
        """``inquiries`` (overdue and soon overdue) or ``flags`` (calls flagged by speech analytics)."""
        if getattr(self, name) == rows:
            return False
        setattr(self, name, rows)
        self.changes.lists.add(name)
        return True

    # --- out ---------------------------------------------------------------------------------------
    def take_changes(self) -> Changes:
        """What changed since the last call (the wiring renders it once per audience and sends it)."""
        changes, self.changes = self.changes, Changes()
        if changes:
            self.version += 1
        return changes

    def snapshot(self, now: float, scope: Scope = None) -> dict[str, Any]:
        return {
            "v": self.version, "full": True, "now": now, "service_level_s": self.service_level_s,
            "queues": {n: q.render() for n, q in sorted(self.queues.items())},
            "agents": {k: a.render() for k, a in self.agents.items() if _visible(a.department_id, scope)},
            "inquiries": _scoped(self.inquiries, scope), "flags": _scoped(self.flags, scope),
        }

    def delta(self, changes: Changes, now: float, scope: Scope = None) -> dict[str, Any]:
        """The frame for ``changes``: changed queues and agents (None: gone) and the lists that changed."""
        return self.frames(changes, now, [scope])[scope]

    def frames(self, changes: Changes, now: float, scopes: Iterable[Scope]) -> dict[Scope, dict[str, Any]]:
        """One frame per audience, each changed queue and agent rendered once for them all."""
        scopes = list(dict.fromkeys(scopes))
        if changes.full:
            return {scope: self.snapshot(now, scope) for scope in scopes}
        queues = {n: self.queues[n].render() for n in changes.queues if n in self.queues}
        agents = {k: (a, a.render()) if (a := self.agents.get(k)) is not None else (None, None)
                  for k in changes.agents}
        out = {}
        for scope in scopes:
            frame: dict[str, Any] = {"v": self.version, "full": False, "now": now}
            if queues:
                frame["queues"] = queues
            seen = {k: r for k, (a, r) in agents.items() if a is None or _visible(a.department_id, scope)}
            if seen:
                frame["agents"] = seen
            for name in changes.lists:
                frame[name] = _scoped(getattr(self, name), scope)
            out[scope] = frame
        return out


def _visible(department_id: int | None, scope: Scope) -> bool:
    return scope is None or department_id is None or department_id in scope


def _scoped(rows: list[dict[str, Any]], scope: Scope) -> list[dict[str, Any]]:
    if scope is None:
        return rows
    return [r for r in rows if any(d in scope for d in r.get("departments", ()))]

