"""The feed as a pure value: which live calls wait at which department, and what each card shows.

``cards(calls, where, enrich, binned)`` turns the telephony service's live calls into cards: inbound calls
not answered yet, with the departments they arrive at (``Where``: the queue's or the DID's department from
the settings, else the departments of the queue's members and of the agents whose phones ring). The
service (callfeed/service.py) feeds it and pushes what changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from telephony.calls import extension_of
from telephony.model import Call


@dataclass(frozen=True, slots=True)
class Where:
    """How a call finds its departments."""

    queues: Mapping[str, int] = field(default_factory=dict)  # queue → department, from the settings
    dids: Mapping[str, int] = field(default_factory=dict)  # DID → department, from the settings
    members: Mapping[str, frozenset[str]] = field(default_factory=dict)  # queue → member extensions (the PBX)
    agents: Mapping[str, int | None] = field(default_factory=dict)  # extension → department

    def departments(self, call: Call) -> frozenset[int]:
        if call.queue and call.queue in self.queues:
            return frozenset({self.queues[call.queue]})
        if call.did and call.did in self.dids and not call.queue:
            return frozenset({self.dids[call.did]})
        exts = set(call.ringing) | set(call.agents_rung)
        if call.queue:
            exts |= self.members.get(call.queue, frozenset())
        found = frozenset(d for d in (self.agents.get(e) for e in exts) if d is not None)
        if found or not call.did or call.did not in self.dids:
            return found
        return frozenset({self.dids[call.did]})


def members_of(queue_members: Iterable[Mapping[str, str]]) -> dict[str, frozenset[str]]:
    """``hub.telephony.queue_members`` (QueueMember frames) → queue → extensions."""
    out: dict[str, set[str]] = {}
    for m in queue_members:
        queue, iface = m.get("Queue"), m.get("StateInterface") or m.get("Interface") or m.get("Location")
        if queue and iface:
            out.setdefault(queue, set()).add(extension_of(iface))
    return {q: frozenset(e) for q, e in out.items()}


@dataclass(frozen=True, slots=True)
class Card:
    id: str  # the call's Linkedid
    number: str
    departments: frozenset[int]
    since: float  # when the caller started waiting (queued, else the call's start), epoch seconds
    status: str  # waiting | ringing
    ringing: tuple[str, ...]  # extensions whose phones ring
    queue: str
    did: str
    caller_name: str

    def payload(self, extra: Mapping[str, object], names: Mapping[str, str]) -> dict[str, object]:
        """The card as the browser gets it; ``extra`` is what the lookup found (client, owner, bin)."""
        out: dict[str, object] = {
            "id": self.id, "number": self.number, "since": round(self.since, 3), "status": self.status,
            "ringing": [names.get(e, e) for e in self.ringing], "queue": self.queue, "did": self.did,
            "name": self.caller_name, "client_id": None, "owner": None, "binned": None,
        }
        out.update(extra)
        return out


def is_waiting(call: Call) -> bool:
    """An inbound call nobody answered yet (still in the menu, the queue, or ringing someone)."""
    return (call.direction == "inbound" and call.answered_by is None and call.answered is None
            and not call.abandoned and not call.failed and call.talk_ended is None)


def cards(calls: Iterable[Call], where: Where, binned: frozenset[str] = frozenset()) -> dict[str, Card]:
    """Cards by call id, for the waiting calls that arrive at some department and are not in the bin."""
    out: dict[str, Card] = {}
    for call in calls:
        if not is_waiting(call) or call.linkedid in binned:
            continue
        departments = where.departments(call)
        if not departments:
            continue
        out[call.linkedid] = Card(
            id=call.linkedid, number=call.caller or "", departments=departments,
            since=call.queued or call.started, status="ringing" if call.ringing else "waiting",
            ringing=tuple(call.ringing), queue=call.queue or "", did=call.did or "",
            caller_name=call.caller_name or "",
        )
    return out


def for_scope(all_cards: Mapping[str, Card], scope: frozenset[int], limit: int) -> list[Card]:
    """The cards one watcher sees (their departments), the longest wait first."""
    seen = [c for c in all_cards.values() if c.departments & scope]
    seen.sort(key=lambda c: (c.since, c.id))
    return seen[:limit]


def changed_departments(before: Mapping[str, Card], after: Mapping[str, Card]) -> frozenset[int]:
    """Departments whose feed looks different now (a card came, went or changed)."""
    out: set[int] = set()
    for key in before.keys() | after.keys():
        a, b = before.get(key), after.get(key)
        if a != b:
            out |= (a.departments if a else frozenset()) | (b.departments if b else frozenset())
    return frozenset(out)
