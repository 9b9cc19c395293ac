"""How one agent is picked among the eligible, and the state some strategies carry between decisions.

``RoutingState`` is the only memory routing has: the round-robin pointers and the even-spread counts. The
caller persists it (``to_dict``/``from_dict``, a JSON column or a file) and applies each decision's
``state_update`` once the assignment is committed (``state.apply(decision)``), so that a restart, or a
second hub process reading the same stored state, continues where the last one stopped.

Every strategy is deterministic for the same inputs and state (random draws from a seed made of the
state's seed, the rule and the inquiry), so decisions can be replayed.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from routing.model import AgentSeen, Decision, StateUpdate


@dataclass
class SpreadCounts:
    period: str
    counts: dict[int, int] = field(default_factory=dict)


@dataclass
class RoutingState:
    seed: int = 0
    round_robin: dict[str, int] = field(default_factory=dict)  # rule id → the last agent given an inquiry
    spread: dict[str, SpreadCounts] = field(default_factory=dict)  # rule id → this period's assignments

    def apply(self, decision: Decision | StateUpdate | None) -> None:
        """Move the pointers as the committed decision says (a decision without an update changes nothing)."""
        update = decision.state_update if isinstance(decision, Decision) else decision
        if update is None:
            return
        if update.kind == "round_robin":
            self.round_robin[update.key] = update.agent_id
        elif update.kind == "even_spread":
            counts = self.spread.get(update.key)
            if counts is None or counts.period != update.period:
                counts = self.spread[update.key] = SpreadCounts(update.period or "")
            counts.counts[update.agent_id] = counts.counts.get(update.agent_id, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "round_robin": dict(self.round_robin),
            "spread": {k: {"period": v.period, "counts": {str(a): n for a, n in v.counts.items()}}
                       for k, v in self.spread.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RoutingState:
        return cls(
            seed=int(data.get("seed", 0)),
            round_robin={str(k): int(v) for k, v in data.get("round_robin", {}).items()},
            spread={str(k): SpreadCounts(v["period"], {int(a): int(n) for a, n in v["counts"].items()})
                    for k, v in data.get("spread", {}).items()},
        )


def least_loaded(eligible: Sequence[AgentSeen]) -> AgentSeen:
    """The lowest share of the channel's capacity in use, then the fewest open items overall, then the id."""
    return min(eligible, key=lambda s: (s.load / s.capacity, s.total_load, s.agent_id))


def round_robin(eligible: Sequence[AgentSeen], key: str, state: RoutingState) -> tuple[AgentSeen, StateUpdate]:
    """The next eligible agent after the last one given (by id, wrapping round): ``eligible`` is ascending."""
    last = state.round_robin.get(key)
    chosen = eligible[0]
    if last is not None:
        for seen in eligible:
            if seen.agent_id > last:
                chosen = seen
                break
    return chosen, StateUpdate("round_robin", key, chosen.agent_id)


def random_pick(eligible: Sequence[AgentSeen], key: str, inquiry_id: int | str, state: RoutingState) -> AgentSeen:
    """A random agent; the draw is seeded by (state seed, rule, inquiry), so a replay draws the same."""
    return eligible[random.Random(f"{state.seed}:{key}:{inquiry_id}").randrange(len(eligible))]


def period_of(now: datetime, period: str, zone: ZoneInfo) -> str:
    local = now.astimezone(zone)
    if period == "day":
        return local.date().isoformat()
    if period == "week":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{local.year}-{local.month:02d}"


def even_spread(
    eligible: Sequence[AgentSeen], key: str, now: datetime, period: str, zone: ZoneInfo, state: RoutingState
) -> tuple[AgentSeen, StateUpdate]:
    """"Без критерия": whoever had the fewest inquiries from this rule in the period (day, week, month)."""
    current = period_of(now, period, zone)
    counts = state.spread.get(key)
    got = counts.counts if counts is not None and counts.period == current else {}
    chosen = min(eligible, key=lambda s: (got.get(s.agent_id, 0), s.agent_id))
    return chosen, StateUpdate("even_spread", key, chosen.agent_id, current)


def offer_deadline(now: datetime, seconds: int) -> datetime:
    return now + timedelta(seconds=seconds)
