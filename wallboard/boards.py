"""The wallboard's values: one queue's board (callers waiting, today's outcomes and the counts derived from
them), one agent's board, the rows the database readings bring (staff, today's stored queue calls), the set
of what changed since the last frame, and a supervisor's ``Scope``. Each board renders itself as the browser
gets it.

Pure like the reducer that keeps them (``wallboard/state.py``): values in, values out. Times are Unix
seconds (floats).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Scope = frozenset[int] | None
"""The departments a supervisor may see (None: all of them)."""


def num(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


@dataclass(slots=True)
class Waiting:
    key: str
    caller: str | None
    name: str | None
    since: float


@dataclass(slots=True)
class Outcome:
    answered: bool
    wait_s: float
    talk_s: float | None = None


@dataclass
class QueueBoard:
    name: str
    service_level_s: float
    waiting: dict[str, Waiting] = field(default_factory=dict)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    pbx: dict[str, str] = field(default_factory=dict)
    answered: int = 0
    abandoned: int = 0
    within: int = 0
    wait_sum: float = 0.0
    talk_sum: float = 0.0
    talk_n: int = 0

    def _count(self, o: Outcome, sign: int) -> None:
        if o.answered:
            self.answered += sign
            self.within += sign * (o.wait_s <= self.service_level_s)
        else:
            self.abandoned += sign
        self.wait_sum += sign * o.wait_s
        if o.talk_s is not None:
            self.talk_sum += sign * o.talk_s
            self.talk_n += sign

    def put(self, key: str, outcome: Outcome) -> bool:
        old = self.outcomes.get(key)
        if old == outcome:
            return False
        if old is not None:
            self._count(old, -1)
        self.outcomes[key] = outcome
        self._count(outcome, +1)
        return True

    def clear_day(self) -> None:
        self.outcomes.clear()
        self.answered = self.abandoned = self.within = self.talk_n = 0
        self.wait_sum = self.talk_sum = 0.0

    def render(self) -> dict[str, Any]:
        handled = self.answered + self.abandoned
        waiting = sorted(self.waiting.values(), key=lambda w: w.since)
        return {
            "name": self.name,
            "waiting": [{"id": w.key, "caller": w.caller, "name": w.name, "since": w.since} for w in waiting],
            "longest_since": waiting[0].since if waiting else None,
            "answered": self.answered, "abandoned": self.abandoned,
            "service_level": round(100.0 * self.within / handled, 1) if handled else None,
            "avg_wait_s": round(self.wait_sum / handled, 1) if handled else None,
            "avg_talk_s": round(self.talk_sum / self.talk_n, 1) if self.talk_n else None,
            "logged_in": _int(self.pbx.get("LoggedIn")), "available": _int(self.pbx.get("Available")),
            "strategy": self.pbx.get("Strategy"),
        }


def _int(value: str | None) -> int | None:
    n = num(value)
    return int(n) if n is not None else None


@dataclass
class AgentBoard:
    key: str
    extension: str | None = None
    user_id: int | None = None
    name: str | None = None
    department_id: int | None = None
    status: str | None = None  # the hub's state: available / break / wrap_up / on_call / offline
    status_since: float | None = None
    reason: str | None = None
    device: str | None = None  # the PBX's device state of the queue member
    paused: bool = False
    paused_reason: str | None = None
    queues: set[str] = field(default_factory=set)
    call: dict[str, Any] | None = None
    ringing: dict[str, Any] | None = None
    load: int | None = None
    capacity: int | None = None

    def render(self) -> dict[str, Any]:
        return {
            "key": self.key, "user_id": self.user_id, "name": self.name or self.extension, "extension": self.extension,
            "department_id": self.department_id, "status": self.status, "status_since": self.status_since,
            "reason": self.reason, "device": self.device, "paused": self.paused, "paused_reason": self.paused_reason,
            "queues": sorted(self.queues), "call": self.call, "ringing": self.ringing, "load": self.load,
            "capacity": self.capacity,
        }


@dataclass(frozen=True, slots=True)
class AgentRow:
    """A member of staff as the database knows them (the wiring reads these)."""

    user_id: int
    name: str
    extension: str | None
    department_id: int | None
    status: str
    status_since: float
    load: int | None = None
    capacity: int | None = None


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """A call stored today that went through a queue (read after a (re)connect)."""

    queue: str
    key: str  # the caller's Linkedid
    answered: bool
    wait_s: float
    talk_s: float | None


@dataclass
class Changes:
    full: bool = False
    queues: set[str] = field(default_factory=set)
    agents: set[str] = field(default_factory=set)
    lists: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return self.full or bool(self.queues or self.agents or self.lists)


def epoch(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()

