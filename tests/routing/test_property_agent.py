"""«Агент объекта первым»: an inquiry about a property goes first to that property's agent when a rule asks
for it and the agent is eligible by the usual checks; otherwise the rule's own strategy decides. The pure
decision, the rule file and the editor's words; the rules editor through a running hub on each database."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from routing import views_editor_texts  # noqa: F401 - the editor's words
from routing.decide import decide
from routing.editor_summary import summary
from routing.naive import naive_decide
from routing.queries import listed_property, rules_to_toml
from routing.rule_form import RuleForm, form_values
from routing.rules import load_rules_toml
from routing.strategies import RoutingState
from tests.routing.test_decide import DAY, NIGHT, agents_st
from tests.routing.test_rule_editor import post, stored
from tests.routing.world import WEDNESDAY_NOON, agent, directory, inquiry, rules
from tests.web.conftest import hub_sections, running  # noqa: F401 - fixtures
from web.i18n import translator

NOW = WEDNESDAY_NOON
LISTINGS = {"id": "listings", "name": "Объявления", "priority": 10, "when": {"channels": ["avito", "webform"]},
            "target": {"teams": [7]}, "strategy": "least_loaded", "owner_first": False, "property_agent_first": True}


def test_the_propertys_agent_gets_the_lead_even_outside_the_rules_team():
    agents = directory(agent(1, team_ids={7}), agent(2, team_ids={7}), agent(9, department_id=3))
    d = decide(inquiry(property_agent_id=9), agents, rules(LISTINGS), NOW, RoutingState())
    assert (d.agent_id, d.strategy, d.rule_id) == (9, "property_agent_first", "listings")
    assert [s.agent_id for s in d.eligible] == [9] and d.state_update is None


def test_an_offline_propertys_agent_leaves_it_to_the_rules_strategy_and_the_page_says_why():
    agents = directory(agent(1, team_ids={7}, load={"webform": 3}), agent(2, team_ids={7}),
                       agent(9, team_ids={7}, status="offline"))
    d = decide(inquiry(property_agent_id=9), agents, rules(LISTINGS), NOW, RoutingState())
    assert (d.agent_id, d.strategy) == (2, "least_loaded")  # the least loaded of the team
    assert d.not_eligible == ((9, "offline"),)  # listed once, though they are in the team too


def test_a_propertys_agent_at_capacity_or_refused_before_is_not_given_it_again():
    agents = directory(agent(1, team_ids={7}), agent(9, load={"webform": 20}), agent(8))
    assert decide(inquiry(property_agent_id=9), agents, rules(LISTINGS), NOW, RoutingState()).agent_id == 1
    d = decide(inquiry(property_agent_id=8), agents, rules(LISTINGS), NOW, RoutingState(), exclude={8: "refused"})
    assert d.agent_id == 1 and d.not_eligible[0] == (8, "refused")


def test_without_the_flag_or_without_a_property_the_rule_decides_as_before():
    agents = directory(agent(1, team_ids={7}), agent(9, department_id=3))
    plain = {**LISTINGS, "property_agent_first": False}
    assert decide(inquiry(property_agent_id=9), agents, rules(plain), NOW, RoutingState()).agent_id == 1
    assert decide(inquiry(), agents, rules(LISTINGS), NOW, RoutingState()).agent_id == 1
    # the rule that matches first asks: a later matching rule's flag is not consulted before it
    email_only = {**LISTINGS, "id": "mail", "priority": 20, "when": {"channels": ["email"]}}
    assert decide(inquiry(property_agent_id=9), agents, rules(plain, email_only), NOW, RoutingState()).agent_id == 1


def test_the_propertys_agent_comes_before_the_clients_owner_and_the_owner_after_them():
    agents = directory(agent(1, team_ids={7}), agent(5), agent(9))
    both = {**LISTINGS, "owner_first": True}
    d = decide(inquiry(property_agent_id=9, client_owner_id=5), agents, rules(both), NOW, RoutingState())
    assert (d.agent_id, d.strategy) == (9, "property_agent_first")
    agents = directory(agent(1, team_ids={7}), agent(5), agent(9, status="break"))
    d = decide(inquiry(property_agent_id=9, client_owner_id=5), agents, rules(both), NOW, RoutingState())
    assert (d.agent_id, d.strategy) == (5, "owner_first")


def test_the_rule_file_and_the_editor_keep_the_flag_and_say_it_in_russian():
    data = {"rules": [LISTINGS]}
    assert load_rules_toml(rules_to_toml(data)).by_id["listings"].property_agent_first is True
    assert load_rules_toml(rules_to_toml({"rules": [{**LISTINGS, "id": "x", "property_agent_first": False}]})) \
        .by_id["x"].property_agent_first is False
    form = RuleForm.model_validate({"id": "listings", "target_kind": "inquiry_department", "strategy": "round_robin",
                                    "property_agent_first": "on"})
    rule = form.to_rule(10)
    assert rule["property_agent_first"] is True and form_values(rule)["property_agent_first"] is True
    assert "property_agent_first" not in RuleForm.model_validate({"id": "r", "strategy": "random"}).to_rule(1)
    words = summary(LISTINGS, translator("ru"), {"agents": {}, "teams": {}, "departments": {}})
    assert words["strategy"] == "агент объекта первым, наименее загруженный"


def test_only_a_whole_positive_property_number_in_the_listing_names_a_property():
    assert listed_property({"listing": {"district": "Тверской", "property_id": 12}}) == 12
    for bad in ({"listing": {"property_id": "12"}}, {"listing": {"property_id": True}}, {"listing": 12},
                {"property_id": 12}, None, {"listing": {"property_id": -3}}):
        assert listed_property(bad) is None


@settings(max_examples=80, deadline=None)
@given(agents_st(), st.lists(st.sampled_from([None, 1, 2, 5, 77]), min_size=6, max_size=6), st.booleans(),
       st.sampled_from([None, 1, 2]))
def test_the_indexed_and_the_plain_decision_agree_and_name_each_agent_once(agent_list, property_agents, owner_too,
                                                                           owner):
    agents = directory(*agent_list, schedules={"day": DAY, "night": NIGHT})
    rule_set = rules({**LISTINGS, "target": {"teams": [1]}, "owner_first": owner_too, "on_no_agent": "next_rule"},
                     {"id": "dept", "priority": 20, "target": {"departments": [2]}, "property_agent_first": True},
                     default={"target": {"inquiry_department": True}})
    state = RoutingState(seed=5)
    for n, property_agent in enumerate(property_agents):
        f = inquiry(n, property_agent_id=property_agent, client_owner_id=owner)
        d = decide(f, agents, rule_set, NOW, state)
        assert d.to_dict() == naive_decide(f, agents, rule_set, NOW, state).to_dict()
        assert len({x.agent_id for x in d.not_eligible}) == len(d.not_eligible)
        if d.strategy == "property_agent_first":
            assert d.agent_id == property_agent
        state.apply(d)
        if d.agent_id is not None:
            agents.add_load(d.agent_id, f.channel)


async def test_the_rules_editor_offers_the_propertys_agent_first(running):  # noqa: F811
    admin = await running.browser("root")
    _, page = await admin.get("/admin/routing/editor?new=1")
    assert 'name="property_agent_first"' in page and "Агент объекта первым" in page
    resp, _ = await post(admin, "/admin/routing/editor/rule", [
        ("id", "avito-listings"), ("name", "Объявления Авито"), ("enabled", "on"), ("channels", "avito"),
        ("target_kind", "inquiry_department"), ("strategy", "least_loaded"), ("property_agent_first", "on"),
        ("on_no_agent", "next_rule"), ("mode", "publish")])
    assert resp.status == 303
    rule = (await stored(running))["rules"][0]
    assert rule["property_agent_first"] is True and rule["owner_first"] is False
    _, page = await admin.get("/admin/routing/editor")
    assert "агент объекта первым, наименее загруженный" in page
    _, page = await admin.get("/admin/routing/editor?rule=avito-listings")
    assert 'id="property-agent-first" checked' in page
