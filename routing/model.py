"""What routing reads and what it answers: the inquiry's facts, each agent's snapshot, the decision.

All three are plain frozen values with no I/O. The hub builds ``InquiryFacts`` and ``AgentSnapshot``
from its database and its live state (calls, statuses); ``decide`` returns a ``Decision`` that the hub
stores with the inquiry (``Decision.to_dict()``) and shows on the page "why this agent".
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

from routing.text import norm_text

Channel = Literal["call", "email", "telegram", "webform", "visit", "manual", "vk", "whatsapp", "avito"]
CHANNELS: frozenset[str] = frozenset({"call", "email", "telegram", "webform", "visit", "manual", "vk", "whatsapp",
                                      "avito"})
INTERNET_CHANNELS: frozenset[str] = frozenset({"email", "telegram", "webform", "vk", "whatsapp", "avito"})
AgentStatus = Literal["available", "break", "wrap_up", "on_call", "offline"]
STATUSES: frozenset[str] = frozenset({"available", "break", "wrap_up", "on_call", "offline"})
DealType = Literal["sale", "rent"]
PoolName = Literal["department", "common"]

# Open inquiries (or active calls) an agent may hold per channel when their own capacity says nothing.
DEFAULT_CAPACITY: Mapping[str, int] = MappingProxyType(
    {"call": 1, "email": 20, "telegram": 3, "webform": 20, "visit": 5, "manual": 20, "vk": 3, "whatsapp": 3, "avito": 3}
)


def _aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must carry a time zone (got naive {value.isoformat()})")


@dataclass(frozen=True, slots=True)
class InquiryFacts:
    """What routing may know about one inquiry (обращение) when it is decided."""

    id: int | str
    channel: Channel
    created_at: datetime
    source: str | None = None  # advertising source as the hub names it (from the DID map, UTM, form)
    did: str | None = None  # dialed number of a call
    utm_source: str | None = None
    site: str | None = None  # the website a form came from
    district: str | None = None
    metro: str | None = None  # metro station
    metro_line: str | None = None
    lat: float | None = None
    lon: float | None = None
    property_type: str | None = None  # flat, room, house, land, commercial, ...
    deal_type: DealType | None = None
    price: float | None = None
    language: str | None = None  # the client's language, "ru", "en", ...
    required_skills: frozenset[str] = frozenset()  # compared case-insensitively (stored normalised)
    client_owner_id: int | None = None  # the agent who owns the client (sticky routing)
    property_agent_id: int | None = None  # the agent of the property the inquiry is about (a lead on a listing)
    department_id: int | None = None  # the inquiry's department (from the DID, the form, the client)
    segments: frozenset[str] = frozenset()  # the client's segments (VIP, investor, ...), compared normalised

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"inquiry {self.id}: channel {self.channel!r} is not one of {sorted(CHANNELS)}")
        if self.deal_type is not None and self.deal_type not in ("sale", "rent"):
            raise ValueError(f"inquiry {self.id}: deal_type {self.deal_type!r} is not 'sale' or 'rent'")
        if (self.lat is None) != (self.lon is None):
            raise ValueError(f"inquiry {self.id}: give both lat and lon, or neither")
        _aware(self.created_at, f"inquiry {self.id}: created_at")
        object.__setattr__(self, "required_skills", frozenset(norm_text(s) for s in self.required_skills))
        object.__setattr__(self, "segments", frozenset(norm_text(s) for s in self.segments))
        if self.language is not None:
            object.__setattr__(self, "language", norm_text(self.language))


@dataclass(frozen=True, slots=True)
class AgentSnapshot:
    """One agent as routing sees them at one moment: who they are, their state and their open load."""

    id: int
    department_id: int | None = None
    team_ids: frozenset[int] = frozenset()
    skills: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset({"ru"})
    status: AgentStatus = "available"
    load: Mapping[str, int] = field(default_factory=dict)  # open inquiries + active calls per channel
    capacity: Mapping[str, int] = field(default_factory=dict)  # per channel; DEFAULT_CAPACITY fills the rest
    duty_schedule_id: str | None = None  # None: no rota, the status alone decides
    total_load: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"agent {self.id}: status {self.status!r} is not one of {sorted(STATUSES)}")
        object.__setattr__(self, "team_ids", frozenset(self.team_ids))
        object.__setattr__(self, "skills", frozenset(norm_text(s) for s in self.skills))
        object.__setattr__(self, "languages", frozenset(norm_text(s) for s in self.languages))
        unknown = (set(self.load) | set(self.capacity)) - CHANNELS
        if unknown:
            raise ValueError(f"agent {self.id}: unknown channel(s) {sorted(unknown)} in load/capacity")
        object.__setattr__(self, "capacity", MappingProxyType({**DEFAULT_CAPACITY, **self.capacity}))
        object.__setattr__(self, "load", MappingProxyType(dict(self.load)))
        object.__setattr__(self, "total_load", sum(self.load.values()))


class AgentSeen(NamedTuple):
    """An eligible agent and what routing saw of them: status, load and capacity for the channel."""

    agent_id: int
    status: str
    load: int
    capacity: int
    total_load: int


class NotEligible(NamedTuple):
    """An agent who was considered and why they could not get the inquiry."""

    agent_id: int
    reason: str


class RuleTried(NamedTuple):
    """A rule that matched before the deciding one but whose target had nobody eligible."""

    rule_id: str
    considered: int


@dataclass(frozen=True, slots=True)
class Offer:
    """Team claim (беру работу на себя): offered to these agents; the first claim in the database wins."""

    agent_ids: tuple[int, ...]
    deadline: datetime
    on_timeout: str  # what the hub does when nobody claims: "department_pool", "common_pool", "least_loaded"


@dataclass(frozen=True, slots=True)
class StateUpdate:
    """How the routing state moves when the caller commits this decision (round robin, even spread)."""

    kind: Literal["round_robin", "even_spread"]
    key: str
    agent_id: int
    period: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """Who gets the inquiry and why. Exactly one of ``agent_id``, ``pool`` and ``offer`` is set."""

    inquiry_id: int | str
    at: datetime
    rule_id: str
    rule_name: str
    strategy: str
    agent_id: int | None = None
    pool: PoolName | None = None
    department_id: int | None = None  # whose pool, when pool == "department"
    offer: Offer | None = None
    eligible: tuple[AgentSeen, ...] = ()
    not_eligible: tuple[NotEligible, ...] = ()
    rules_tried: tuple[RuleTried, ...] = ()
    note: str = ""
    state_update: StateUpdate | None = None

    @property
    def outcome(self) -> Literal["agent", "pool", "offer"]:
        if self.agent_id is not None:
            return "agent"
        return "offer" if self.offer is not None else "pool"

    def shown(self, keep: int | None = None) -> tuple[tuple[AgentSeen, ...], tuple[NotEligible, ...]]:
        """The agents an explanation lists: all of them, or at most ``keep`` of each kind — the chosen agent
        first, then others no busier than them (the ones a head asks about: why not this free one?), the least
        loaded of the rest if that is too few, and the first refusals. A big team costs ``keep`` steps, not a
        sort: routing writes this for every inquiry."""
        if keep is None or (len(self.eligible) <= keep and len(self.not_eligible) <= keep):
            return self.eligible, self.not_eligible
        chosen = next((s for s in self.eligible if s.agent_id == self.agent_id), None)
        if chosen is None:
            return self.eligible[:keep], self.not_eligible[:keep]
        others = list(itertools.islice((s for s in self.eligible if s.load <= chosen.load and s is not chosen),
                                       keep - 1))
        if len(others) < keep - 1:
            taken = {s.agent_id for s in others}
            others += heapq.nsmallest(keep - 1 - len(others), (s for s in self.eligible if s is not chosen
                                                                and s.agent_id not in taken),
                                      key=lambda s: (s.load / s.capacity if s.capacity else 1.0, s.total_load))
        return (chosen, *others), self.not_eligible[:keep]

    def to_dict(self, shown: tuple[tuple[AgentSeen, ...], tuple[NotEligible, ...]] | None = None) -> dict[str, Any]:
        """A JSON-ready dict for storage and for the page "why this agent" (state_update is left out). With
        ``shown`` (from ``shown(keep)``) only those agents are listed and ``eligible_total``/``not_eligible_total``
        count them all: at 2,000 agents in a team a full list is 150 KB per inquiry, written at every routing."""
        eligible, not_eligible = shown or (self.eligible, self.not_eligible)
        return {
            "inquiry_id": self.inquiry_id,
            "at": self.at.isoformat(),
            "outcome": self.outcome,
            "agent_id": self.agent_id,
            "pool": self.pool,
            "department_id": self.department_id,
            "offer": None if self.offer is None else {
                "agent_ids": list(self.offer.agent_ids),
                "deadline": self.offer.deadline.isoformat(),
                "on_timeout": self.offer.on_timeout,
            },
            "rule": {"id": self.rule_id, "name": self.rule_name},
            "strategy": self.strategy,
            "eligible": [s._asdict() for s in eligible],
            "not_eligible": [{"agent_id": n.agent_id, "reason": n.reason} for n in not_eligible],
            "eligible_total": len(self.eligible),
            "not_eligible_total": len(self.not_eligible),
            "rules_tried": [r._asdict() for r in self.rules_tried],
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        """Read back what ``to_dict`` stored (for the inquiry page and the admin log)."""
        offer = data.get("offer")
        return cls(
            inquiry_id=data["inquiry_id"],
            at=datetime.fromisoformat(data["at"]),
            rule_id=data["rule"]["id"],
            rule_name=data["rule"]["name"],
            strategy=data["strategy"],
            agent_id=data.get("agent_id"),
            pool=data.get("pool"),
            department_id=data.get("department_id"),
            offer=None if offer is None else Offer(
                tuple(offer["agent_ids"]), datetime.fromisoformat(offer["deadline"]), offer["on_timeout"]),
            eligible=tuple(AgentSeen(**s) for s in data.get("eligible", ())),
            not_eligible=tuple(NotEligible(n["agent_id"], n["reason"]) for n in data.get("not_eligible", ())),
            rules_tried=tuple(RuleTried(**r) for r in data.get("rules_tried", ())),
            note=data.get("note", ""),
        )
