"""Who gets the inquiry and why: owner first, availability, capacity, duty, skills, pools, team claim,
refusals — and, over any world, never an agent who could not take it."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.decide import decide
from routing.duty import DutySchedule
from routing.model import Decision
from routing.naive import naive_decide
from routing.strategies import RoutingState
from tests.routing.world import WEDNESDAY_NOON, agent, directory, inquiry, rules

NOW = WEDNESDAY_NOON
TEAM_RULE = {"id": "team-7", "name": "Команда 7", "priority": 10, "when": {"channels": ["webform", "email"]},
             "target": {"teams": [7]}, "strategy": "least_loaded"}


def reasons(decision: Decision) -> dict[int, str]:
    return {n.agent_id: n.reason for n in decision.not_eligible}


def test_a_repeat_client_goes_to_their_owner_even_outside_the_rule_team():
    agents = directory(agent(1, team_ids={7}), agent(2, team_ids={7}), agent(9, department_id=3))
    d = decide(inquiry(client_owner_id=9), agents, rules(TEAM_RULE), NOW, RoutingState())
    assert (d.agent_id, d.strategy, d.rule_id, d.note) == (9, "owner_first", "team-7", "the client's owner")


def test_an_owner_at_capacity_is_skipped_and_the_page_says_why():
    agents = directory(agent(1, team_ids={7}), agent(9, team_ids={7}, load={"email": 20}))
    d = decide(inquiry(channel="email", client_owner_id=9), agents, rules(TEAM_RULE), NOW, RoutingState())
    assert d.agent_id == 1 and d.strategy == "least_loaded"
    assert d.not_eligible[0] == (9, "client's owner: at capacity email 20/20")
    assert [n.agent_id for n in d.not_eligible].count(9) == 1


def test_a_rule_may_turn_owner_first_off():
    agents = directory(agent(1, team_ids={7}), agent(9, department_id=3))
    rule = {**TEAM_RULE, "owner_first": False}
    assert decide(inquiry(client_owner_id=9), agents, rules(rule), NOW, RoutingState()).agent_id == 1


def test_every_agent_who_could_not_take_it_is_listed_with_the_reason():
    office = DutySchedule.rota("office", {d: [("09:00", "18:00")] for d in ("mon", "tue", "wed", "thu", "fri")})
    evenings = DutySchedule.rota("evenings", {d: [("18:00", "23:00")] for d in ("mon", "tue", "wed", "thu", "fri")})
    agents = directory(
        agent(1, team_ids={7}, status="offline"),
        agent(2, team_ids={7}, status="break"),
        agent(3, team_ids={7}, load={"email": 20}),
        agent(4, team_ids={7}, skills={"elite"}, languages={"en"}, duty_schedule_id="evenings"),
        agent(5, team_ids={7}, skills={"elite"}, languages={"ru"}),
        agent(6, team_ids={7}, skills={"Elite", "mortgage"}, languages={"ru", "en"}, duty_schedule_id="office",
              load={"email": 4}),
        agent(8, team_ids={7}, skills={"elite"}, languages={"en"}, status="on_call"),
        agent(10, team_ids={7}, languages={"en"}),
        schedules={"office": office, "evenings": evenings},
    )
    d = decide(inquiry(channel="email", language="EN", required_skills={"elite"}), agents, rules(TEAM_RULE), NOW,
               RoutingState())
    assert d.agent_id == 6
    assert d.eligible == ((6, "available", 4, 20, 4),)
    assert reasons(d) == {1: "offline", 2: "on break", 3: "at capacity email 20/20", 4: "off duty",
                          5: "does not speak en", 8: "on a call", 10: "missing skill elite"}


def test_nobody_eligible_in_the_team_falls_through_to_the_default_rule():
    agents = directory(agent(1, team_ids={7}, status="offline"), agent(2), agent(3, load={"webform": 1}))
    d = decide(inquiry(), agents, rules(TEAM_RULE), NOW, RoutingState())
    assert (d.rule_id, d.agent_id) == ("default", 2)  # least loaded of the inquiry's department
    assert d.rules_tried == (("team-7", 1),)
    assert reasons(d) == {1: "offline"}


def test_nobody_eligible_anywhere_sends_it_to_the_department_pool_or_the_common_one():
    agents = directory(agent(1, status="offline"))
    d = decide(inquiry(department_id=1), agents, rules(), NOW, RoutingState())
    assert (d.outcome, d.pool, d.department_id, d.rule_id) == ("pool", "department", 1, "default")
    d = decide(inquiry(department_id=None), agents, rules(), NOW, RoutingState())
    assert (d.pool, d.department_id) == ("common", None)
    assert "no department" in d.note


def test_a_rule_can_send_night_calls_straight_to_the_common_pool_or_stop_at_the_department():
    auction = {"id": "portal", "priority": 1, "when": {"utm_sources": ["avito"]}, "target": {"pool": "common"}}
    stop = {**TEAM_RULE, "on_no_agent": "department_pool"}
    agents = directory(agent(1, team_ids={7}, status="offline"), agent(2))
    assert decide(inquiry(utm_source="Avito"), agents, rules(auction, stop), NOW, RoutingState()).pool == "common"
    d = decide(inquiry(), agents, rules(auction, stop), NOW, RoutingState())
    assert (d.pool, d.rule_id) == ("department", "team-7")


def test_team_claim_offers_the_inquiry_to_every_eligible_member_until_the_deadline():
    claim = {**TEAM_RULE, "strategy": "team_claim", "offer_seconds": 600, "offer_on_timeout": "common_pool"}
    agents = directory(agent(1, team_ids={7}), agent(2, team_ids={7}, status="offline"), agent(3, team_ids={7}))
    d = decide(inquiry(), agents, rules(claim), NOW, RoutingState())
    assert d.outcome == "offer" and d.agent_id is None
    assert d.offer.agent_ids == (1, 3)
    assert d.offer.deadline == NOW + timedelta(minutes=10)
    later = decide(inquiry(), agents, rules(claim), NOW + timedelta(minutes=10), RoutingState(), offer_expired=True)
    assert (later.pool, later.note) == ("common", "nobody claimed the offer in time")
    direct = {**claim, "offer_on_timeout": "least_loaded"}
    assert decide(inquiry(), agents, rules(direct), NOW, RoutingState(), offer_expired=True).agent_id == 1


def test_a_refused_inquiry_goes_to_the_next_eligible_agent():
    agents = directory(agent(1, team_ids={7}), agent(2, team_ids={7}, load={"webform": 1}))
    rule_set = rules(TEAM_RULE)
    first = decide(inquiry(), agents, rule_set, NOW, RoutingState())
    assert first.agent_id == 1
    second = decide(inquiry(), agents, rule_set, NOW, RoutingState(), exclude={1: "refused it at 12:03"})
    assert second.agent_id == 2 and reasons(second)[1] == "refused it at 12:03"


def test_an_agent_who_goes_offline_is_not_offered_anything_more():
    agents = directory(agent(1, team_ids={7}), agent(2, team_ids={7}))
    rule_set = rules(TEAM_RULE)
    assert decide(inquiry(), agents, rule_set, NOW, RoutingState()).agent_id == 1
    agents.set_status(1, "offline")
    assert decide(inquiry(), agents, rule_set, NOW, RoutingState()).agent_id == 2
    agents.add_load(2, "webform", 20)
    agents.set_status(1, "available")
    assert decide(inquiry(), agents, rule_set, NOW, RoutingState()).agent_id == 1


def test_an_agent_moved_to_another_team_is_routed_by_their_new_team():
    agents = directory(agent(1, team_ids={7}), agent(2, team_ids={8}))
    rule_set = rules(TEAM_RULE)
    agents.set_status(1, "offline")
    agents.update(replace(agents.get(2), team_ids=frozenset({7})))
    assert decide(inquiry(), agents, rule_set, NOW, RoutingState()).agent_id == 2


def test_the_decision_is_stored_as_json_and_read_back_for_the_inquiry_page():
    agents = directory(agent(1, team_ids={7}), agent(2, team_ids={7}, status="offline"))
    claim = {**TEAM_RULE, "strategy": "team_claim"}
    for rule in (TEAM_RULE, claim):
        d = decide(inquiry(), agents, rules(rule), NOW, RoutingState())
        stored = json.loads(json.dumps(d.to_dict(), ensure_ascii=False))
        again = Decision.from_dict(stored)
        assert again.to_dict() == d.to_dict()
        assert stored["rule"] == {"id": "team-7", "name": "Команда 7"}
        assert stored["not_eligible"] == [{"agent_id": 2, "reason": "offline"}]


# ----- over any world: never an agent who could not take it, and the same answer as the naive scan -----

DAY = DutySchedule.rota("day", {d: [("09:00", "18:00")] for d in ("mon", "tue", "wed", "thu", "fri")})
NIGHT = DutySchedule.rota("night", {d: [("20:00", "08:00")] for d in ("mon", "tue", "wed", "thu", "fri", "sat")})
CHANNELS = ["call", "email", "telegram", "webform", "visit", "manual"]


@st.composite
def agents_st(draw):
    out = []
    for i in range(1, draw(st.integers(min_value=1, max_value=14)) + 1):
        out.append(agent(
            i, department_id=draw(st.sampled_from([1, 2, None])),
            team_ids=draw(st.sets(st.integers(1, 3), max_size=2)),
            skills=draw(st.sets(st.sampled_from(["elite", "legal", "newbuild"]), max_size=2)),
            languages=draw(st.sets(st.sampled_from(["ru", "en"]), min_size=1)),
            status=draw(st.sampled_from(["available", "available", "available", "break", "wrap_up", "on_call",
                                         "offline"])),
            load={c: draw(st.integers(0, 3)) for c in draw(st.sets(st.sampled_from(CHANNELS), max_size=3))},
            capacity={c: draw(st.integers(0, 3)) for c in draw(st.sets(st.sampled_from(CHANNELS), max_size=3))},
            duty_schedule_id=draw(st.sampled_from([None, None, "day", "night", "ghost"])),
        ))
    return out


@st.composite
def rules_st(draw):
    out = []
    for i in range(draw(st.integers(min_value=0, max_value=4))):
        target = draw(st.sampled_from([{"teams": [1]}, {"teams": [2, 3]}, {"departments": [2]}, {"agents": [1, 2, 99]},
                                       {"skills": ["elite"]}, {"inquiry_department": True},
                                       {"teams": [1], "require_skills": ["legal"]}, {"pool": "common"}]))
        when = draw(st.sampled_from([{}, {"channels": ["call"]}, {"languages": ["en"]}, {"skills": ["elite"]},
                                     {"channels": ["email", "webform"]}]))
        out.append({"id": f"r{i}", "priority": i, "when": when, "target": target,
                    "strategy": draw(st.sampled_from(["least_loaded", "round_robin", "random", "even_spread",
                                                      "team_claim"])),
                    "owner_first": draw(st.booleans()),
                    "on_no_agent": draw(st.sampled_from(["next_rule", "department_pool", "common_pool"]))})
    return rules(*out, default={"target": {"inquiry_department": True},
                                "strategy": draw(st.sampled_from(["least_loaded", "round_robin", "team_claim"]))})


@st.composite
def inquiries_st(draw, n):
    return [inquiry(k, channel=draw(st.sampled_from(CHANNELS)), language=draw(st.sampled_from([None, "ru", "en"])),
                    required_skills=draw(st.sets(st.sampled_from(["elite", "legal"]), max_size=1)),
                    client_owner_id=draw(st.sampled_from([None, 1, 2, 5, 77])),
                    department_id=draw(st.sampled_from([1, 2, None]))) for k in range(n)]


def could_take(agents, agent_id, facts, rule, now, excluded) -> bool:
    a = agents.get(agent_id)
    if a is None or a.status != "available" or a.load.get(facts.channel, 0) >= a.capacity[facts.channel]:
        return False
    if not (facts.required_skills | rule.target.require_skills) <= a.skills:
        return False
    if facts.language is not None and facts.language not in a.languages:
        return False
    if a.duty_schedule_id is not None:
        schedule = agents.schedules.get(a.duty_schedule_id)
        if schedule is None or not schedule.on_duty(now):
            return False
    return agent_id not in excluded


@settings(max_examples=120, deadline=None)
@given(agents_st(), rules_st(), inquiries_st(8), st.sampled_from([0, 9, 19, 23]), st.sets(st.integers(1, 5),
                                                                                           max_size=2))
def test_nobody_offline_off_duty_at_capacity_or_without_the_skill_is_ever_chosen(
        agent_list, rule_set, facts, hour, excluded):
    agents = directory(*agent_list, schedules={"day": DAY, "night": NIGHT})
    state = RoutingState(seed=3)
    now = NOW.replace(hour=hour)
    for f in facts:
        d = decide(f, agents, rule_set, now, state, exclude=excluded)
        assert d.to_dict() == naive_decide(f, agents, rule_set, now, state, exclude=excluded).to_dict()
        rule = rule_set.by_id[d.rule_id]
        chosen = ([d.agent_id] if d.agent_id is not None else []) + list(d.offer.agent_ids if d.offer else [])
        for agent_id in chosen + [s.agent_id for s in d.eligible]:
            assert could_take(agents, agent_id, f, rule, now, excluded), (agent_id, d.to_dict())
        for agent_id, reason in d.not_eligible:
            assert not could_take(agents, agent_id, f, rule_set.by_id[d.rule_id], now, excluded) or \
                d.rules_tried, (agent_id, reason)
        assert len({n.agent_id for n in d.not_eligible}) == len(d.not_eligible)
        state.apply(d)
        if d.agent_id is not None:
            agents.add_load(d.agent_id, f.channel)
        now += timedelta(minutes=7)
