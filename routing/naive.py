"""The obvious way to route, kept as the reference: every rule checked in order, and for each matching rule
every agent of the company checked for membership of its target. Same answers as ``decide`` (the tests
hold them equal); the benchmark measures ``decide`` against it."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from routing.agents import AgentDirectory
from routing.decide import MOSCOW, _decide
from routing.match import CompiledRule
from routing.model import AgentSnapshot, Decision, InquiryFacts
from routing.rules import RuleSet
from routing.strategies import RoutingState


def naive_decide(
    inquiry: InquiryFacts,
    agents: AgentDirectory,
    rules: RuleSet,
    now: datetime,
    state: RoutingState,
    *,
    exclude: Collection[int] | Mapping[int, str] = (),
    offer_expired: bool = False,
    zone: ZoneInfo = MOSCOW,
) -> Decision:
    matching = (rule for rule in rules.rules if rule.matches(inquiry, rules.polygons))
    def members(rule: CompiledRule, inq: InquiryFacts) -> Iterable[int]:
        ids = [a.id for a in agents.by_id.values() if in_target(a, rule, inq)]
        known = set(ids)
        return sorted(ids + [i for i in rule.target.agents if i not in known])  # unknown ids are reported too

    return _decide(inquiry, agents, matching, now, state, exclude, offer_expired, zone, members)


def in_target(agent: AgentSnapshot, rule: CompiledRule, inquiry: InquiryFacts) -> bool:
    t = rule.target
    return (
        agent.id in t.agents
        or any(team in agent.team_ids for team in t.teams)
        or agent.department_id in t.departments
        or (t.inquiry_department and inquiry.department_id is not None and agent.department_id == inquiry.department_id)
        or (bool(t.skills) and t.skills <= agent.skills)
    )
