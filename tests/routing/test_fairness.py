"""Round robin and even spread ("без критерия") share the work within one of fair, across restarts; random
picks are reproducible from the seed."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.decide import decide
from routing.strategies import RoutingState
from tests.routing.world import WEDNESDAY_NOON, agent, directory, inquiry, rules

BIG = {c: 10_000 for c in ("call", "email", "telegram", "webform", "visit", "manual")}


def team_rule(strategy: str, **extra) -> dict:
    return {"id": "team", "priority": 1, "when": {"channels": ["webform", "email", "call"]},
            "target": {"teams": [1]}, "strategy": strategy, "owner_first": False, **extra}


OTHER = {"id": "other", "priority": 0, "when": {"channels": ["telegram"]}, "target": {"teams": [1, 2]},
         "strategy": "round_robin"}


def run(strategy: str, members: int, channels: list[str], state: RoutingState | None = None,
        step: timedelta = timedelta(minutes=1)) -> tuple[Counter, RoutingState]:
    agents = directory(*(agent(i, team_ids={1}, capacity=BIG) for i in range(1, members + 1)),
                       agent(100, team_ids={2}, capacity=BIG))
    rule_set = rules(team_rule(strategy), OTHER)
    state = state or RoutingState()
    got: Counter = Counter()
    now = WEDNESDAY_NOON
    for k, channel in enumerate(channels):
        d = decide(inquiry(k, channel), agents, rule_set, now, state)
        state.apply(d)
        agents.add_load(d.agent_id, channel)
        if d.rule_id == "team":
            got[d.agent_id] += 1
        now += step
    return got, state


team_channels = st.lists(st.sampled_from(["webform", "email", "call", "telegram"]), max_size=60)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=7), team_channels)
def test_round_robin_gives_each_member_within_one_of_the_others_over_any_sequence(members, channels):
    got, _ = run("round_robin", members, channels)
    counts = [got.get(i, 0) for i in range(1, members + 1)]
    assert max(counts) - min(counts) <= 1


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=7), team_channels)
def test_even_spread_gives_each_member_within_one_of_the_others_over_any_sequence(members, channels):
    got, _ = run("even_spread", members, channels)
    counts = [got.get(i, 0) for i in range(1, members + 1)]
    assert max(counts) - min(counts) <= 1


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=2, max_value=6), st.lists(st.sets(st.integers(1, 6), max_size=3), max_size=40),
       st.sampled_from(["round_robin", "even_spread"]))
def test_agents_who_were_always_free_stay_within_one_of_each_other_while_others_come_and_go(members, steps, strategy):
    agents = directory(*(agent(i, team_ids={1}, capacity=BIG) for i in range(1, members + 1)))
    rule_set = rules(team_rule(strategy))
    state = RoutingState()
    got: Counter = Counter()
    away_ever: set[int] = set()
    for k, away in enumerate(steps):
        for i in range(1, members + 1):
            agents.set_status(i, "break" if i in away else "available")
        away_ever |= away
        d = decide(inquiry(k), agents, rule_set, WEDNESDAY_NOON, state)
        if d.agent_id is not None and d.rule_id == "team":
            got[d.agent_id] += 1
            state.apply(d)
    steady = [got.get(i, 0) for i in range(1, members + 1) if i not in away_ever]
    assert not steady or max(steady) - min(steady) <= 1


def test_the_round_robin_pointer_survives_a_restart():
    sequence = ["webform", "email", "call"] * 7
    uninterrupted, _ = run("round_robin", 4, sequence)
    first, state = run("round_robin", 4, sequence[:10])
    restored = RoutingState.from_dict(json.loads(json.dumps(state.to_dict())))
    second, _ = run("round_robin", 4, sequence[10:], restored)
    assert first + second == uninterrupted
    assert sorted((first + second).values()) == [5, 5, 5, 6]


def test_even_spread_counts_per_day_and_resets_at_midnight_moscow_time():
    agents = directory(*(agent(i, team_ids={1}, capacity=BIG) for i in range(1, 4)))
    rule_set = rules(team_rule("even_spread"))
    state = RoutingState()
    evening = WEDNESDAY_NOON.replace(hour=23, minute=58)
    picks = []
    for k in range(4):
        d = decide(inquiry(k), agents, rule_set, evening + timedelta(minutes=k), state)
        state.apply(d)
        picks.append(d.agent_id)
    assert picks == [1, 2, 1, 2]  # 23:58, 23:59 on Wednesday; 00:00, 00:01 on Thursday start from the top
    assert state.spread["team"].period == "2025-03-06"


def test_random_pick_is_the_same_for_the_same_seed_and_spreads_over_the_group():
    agents = directory(*(agent(i, team_ids={1}, capacity=BIG) for i in range(1, 6)))
    rule_set = rules(team_rule("random"))
    draw = [decide(inquiry(k), agents, rule_set, WEDNESDAY_NOON, RoutingState(seed=7)).agent_id for k in range(200)]
    again = [decide(inquiry(k), agents, rule_set, WEDNESDAY_NOON, RoutingState(seed=7)).agent_id for k in range(200)]
    other = [decide(inquiry(k), agents, rule_set, WEDNESDAY_NOON, RoutingState(seed=8)).agent_id for k in range(200)]
    assert draw == again != other
    assert set(draw) == {1, 2, 3, 4, 5} and min(Counter(draw).values()) >= 20
