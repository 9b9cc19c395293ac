"""The administrator's rule file: loaded, matched in priority order, and bad files refused with the rule and
the field named while the running rules keep working."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import MultiPoint, Point

from routing.decide import decide
from routing.rules import RuleSet, RuleSetError, compile_rules, load_rules_toml
from routing.strategies import RoutingState
from routing.territory import TerritoryIndex
from tests.routing.world import CENTER, INSIDE_CENTER, OUTSIDE_CENTER, WEDNESDAY_NOON, agent, directory, inquiry

AGENCY_RULES = """
[[territories]]
id = "center"
name = "Центр"
geojson = { type = "Polygon", coordinates = [[[37.55, 55.72], [37.62, 55.72], [37.59, 55.76], [37.55, 55.72]]] }

[[rules]]
id = "center-expensive-sale"
name = "Центр, продажа от 20 млн"
priority = 20
when = { territories = ["center"], deal_types = ["sale"], price_min = 20_000_000 }
target = { teams = [7] }
strategy = "round_robin"

[[rules]]
id = "cian-calls"
name = "Звонки с номера ЦИАН"
priority = 10
when = { channels = ["call"], dids = ["+7 (495) 111-22-33"] }
target = { agents = [3] }

[[rules]]
id = "savyolovsky"
priority = 30
when = { metro = ["Савёловская"], districts = ["Савёловский"] }
target = { departments = [2] }
strategy = "team_claim"
offer_seconds = 600

[default]
target = { inquiry_department = true }
strategy = "even_spread"
"""


def ids(rule_set: RuleSet, **facts) -> list[str]:
    return [r.id for r in rule_set.matching(inquiry(**facts))]


def problems(data) -> list[str]:
    with pytest.raises(RuleSetError) as caught:
        compile_rules(data) if isinstance(data, dict) else load_rules_toml(data)
    return [str(p) for p in caught.value.problems]


def test_the_agency_rule_file_loads_and_its_rules_are_tried_by_priority():
    rule_set = load_rules_toml(AGENCY_RULES)
    assert [r.id for r in rule_set.rules] == ["cian-calls", "center-expensive-sale", "savyolovsky", "default"]
    assert rule_set.default.strategy == "even_spread"
    expensive_call = dict(channel="call", did="84951112233", deal_type="sale", price=25_000_000, **INSIDE_CENTER)
    assert ids(rule_set, **expensive_call) == ["cian-calls", "center-expensive-sale", "default"]


def test_a_flat_in_the_center_polygon_matches_and_one_outside_does_not():
    rule_set = load_rules_toml(AGENCY_RULES)
    assert ids(rule_set, deal_type="sale", price=30_000_000, **INSIDE_CENTER)[0] == "center-expensive-sale"
    assert ids(rule_set, deal_type="sale", price=30_000_000, **OUTSIDE_CENTER) == ["default"]
    assert ids(rule_set, deal_type="rent", price=30_000_000, **INSIDE_CENTER) == ["default"]
    assert ids(rule_set, deal_type="sale", price=19_999_999, **INSIDE_CENTER) == ["default"]
    assert ids(rule_set, deal_type="sale", **INSIDE_CENTER) == ["default"]  # no price: a price rule does not match
    on_the_border = {"lat": 55.72, "lon": 37.58}
    assert ids(rule_set, deal_type="sale", price=20_000_000, **on_the_border)[0] == "center-expensive-sale"


def test_metro_and_district_names_match_whatever_the_case_and_yo():
    rule_set = load_rules_toml(AGENCY_RULES)
    assert ids(rule_set, metro="савеловская")[0] == "savyolovsky"
    assert ids(rule_set, district=" САВЁЛОВСКИЙ ")[0] == "savyolovsky"
    assert ids(rule_set, metro="Белорусская") == ["default"]


def test_an_unknown_field_is_refused_naming_the_rule_and_the_field():
    text = AGENCY_RULES.replace("when = { metro", "when = { metros")
    assert problems(text) == ['rules[2] "savyolovsky" field when.metros: unknown field']
    assert problems({"rules": [], "defualt": {}}) == ["field defualt: unknown field"]


def test_two_rules_with_the_same_priority_are_refused_naming_both():
    text = AGENCY_RULES.replace("priority = 30", "priority = 20")
    assert problems(text) == ['rules[2] "savyolovsky" field priority: priority 20 overlaps rule '
                              '"center-expensive-sale"; give each rule its own priority']


def test_a_self_intersecting_territory_is_refused_naming_it_and_the_rules_that_use_it():
    bow_tie = "[[[37.55, 55.72], [37.62, 55.76], [37.62, 55.72], [37.55, 55.76], [37.55, 55.72]]]"
    text = AGENCY_RULES.replace("[[[37.55, 55.72], [37.62, 55.72], [37.59, 55.76], [37.55, 55.72]]]", bow_tie)
    (message,) = problems(text)
    assert message.startswith('territories[0] "center" field geojson: invalid polygon: Self-intersection')
    assert message.endswith('(used by rules "center-expensive-sale")')


def test_a_bad_inline_polygon_is_refused_naming_the_rule_and_when_polygon():
    lat_lon_swapped = {"type": "Polygon", "coordinates": [[[55.7, 37.5], [55.8, 37.5], [55.8, 137.6], [55.7, 37.5]]]}
    data = {"rules": [{"id": "north", "priority": 1, "when": {"polygon": lat_lon_swapped}, "target": {"teams": [1]}}]}
    assert problems(data) == ['rules[0] "north" field when.polygon: coordinates are outside longitude -180..180 / '
                              "latitude -90..90 (GeoJSON is lon, lat)"]
    point = {"type": "Point", "coordinates": [37.6, 55.7]}
    data["rules"][0]["when"]["polygon"] = point
    assert problems(data) == ["rules[0] \"north\" field when.polygon: geometry type 'Point' is not Polygon or "
                              "MultiPolygon"]


def test_every_problem_in_a_file_is_listed_at_once():
    data = {
        "rules": [
            {"id": "a", "priority": 1, "when": {"territories": ["nowhere"]}, "target": {"teams": [1]}},
            {"id": "b", "priority": 2, "when": {"price_min": 10, "price_max": 5}, "target": {"teams": [1]}},
            {"id": "c", "priority": 3, "target": {}},
            {"id": "d", "priority": 4, "target": {"teams": [1]}, "strategy": "whoever"},
            {"id": "e", "priority": 5, "when": {"deal_types": ["swap"]}, "target": {"teams": [1]}},
        ]
    }
    found = problems(data)
    assert 'rules[1] "b" field when: price_min 10 is above price_max 5' in found
    assert any(p.startswith('rules[2] "c" field target: the target names nobody') for p in found)
    assert any(p.startswith('rules[3] "d" field strategy: Input should be') for p in found)
    assert any(p.startswith('rules[4] "e" field when.deal_types.0: Input should be') for p in found)
    # references are checked once every rule has the right shape
    assert problems({"rules": data["rules"][:1]}) == [
        "rules[0] \"a\" field when.territories: unknown territory 'nowhere' (known: none)"]


def test_broken_toml_is_refused_with_the_line():
    (message,) = problems('[[rules]]\nid = "a\n')
    assert message.startswith("not valid TOML:") and "line 2" in message


def test_a_bad_load_leaves_the_running_rules_deciding_as_before():
    running = load_rules_toml(AGENCY_RULES)
    agents = directory(agent(3), agent(4, department_id=2, team_ids={7}))
    call = inquiry(channel="call", did="+74951112233")
    before = decide(call, agents, running, WEDNESDAY_NOON, RoutingState()).to_dict()
    with pytest.raises(RuleSetError):
        running = load_rules_toml(AGENCY_RULES.replace("priority = 10", "priority = 20"))
    assert decide(call, agents, running, WEDNESDAY_NOON, RoutingState()).to_dict() == before
    assert before["rule"]["id"] == "cian-calls" and before["agent_id"] == 3


def test_the_admin_page_is_warned_of_teams_and_agents_the_company_does_not_have():
    rule_set = load_rules_toml(AGENCY_RULES)
    agents = directory(agent(3, team_ids={7}), agent(4, department_id=2))
    warnings = rule_set.unknown_references(agents.by_id, agents.teams, agents.departments)
    assert warnings == []
    gone = directory(agent(4, department_id=2))
    assert [str(w) for w in rule_set.unknown_references(gone.by_id, gone.teams, gone.departments)] == [
        'rule "cian-calls" field target.agents: unknown: 3',
        'rule "center-expensive-sale" field target.teams: unknown: 7']


def test_exported_rules_load_back_and_decide_the_same():
    original = load_rules_toml(AGENCY_RULES)
    exported = json.loads(json.dumps(original.to_dict()))
    again = compile_rules(exported)
    assert [(r.id, r.priority, r.strategy, r.target) for r in again.rules] == \
        [(r.id, r.priority, r.strategy, r.target) for r in original.rules]


def test_a_disabled_rule_is_kept_in_the_file_but_never_matches():
    data = load_rules_toml(AGENCY_RULES).to_dict()
    data["rules"][1]["enabled"] = False  # cian-calls (second in the file)
    rule_set = compile_rules(data)
    assert "cian-calls" not in rule_set.by_id
    assert compile_rules(rule_set.to_dict()).to_dict() == rule_set.to_dict()


# ----- the index gives exactly what checking every rule gives -----

values = {
    "channel": st.sampled_from(["call", "email", "telegram", "webform", "visit", "manual"]),
    "district": st.sampled_from([None, "Хамовники", "Арбат", "Тверской"]),
    "metro": st.sampled_from([None, "Парк культуры", "Смоленская"]),
    "deal_type": st.sampled_from([None, "sale", "rent"]),
    "property_type": st.sampled_from([None, "flat", "house"]),
    "price": st.sampled_from([None, 0.0, 5e6, 1e7, 1e7 + 1, 2e7, 5e7]),
    "language": st.sampled_from([None, "ru", "en"]),
    "utm_source": st.sampled_from([None, "cian", "avito"]),
    "did": st.sampled_from([None, "+74951112233", "84957770000"]),
    "required_skills": st.sampled_from([frozenset(), frozenset({"elite"}), frozenset({"elite", "legal"})]),
    "where": st.sampled_from([{}, INSIDE_CENTER, OUTSIDE_CENTER, {"lat": 55.72, "lon": 37.58}]),
}


def a_condition(draw) -> dict:
    when: dict = {}
    pick = draw(st.sets(st.sampled_from(["channels", "districts", "metro", "deal_types", "property_types", "price",
                                         "languages", "utm_sources", "dids", "skills", "territories", "polygon"]),
                        max_size=4))
    if "channels" in pick:
        when["channels"] = draw(st.lists(values["channel"], min_size=1, max_size=3, unique=True))
    for field, name in (("districts", "district"), ("metro", "metro"), ("deal_types", "deal_type"),
                        ("property_types", "property_type"), ("languages", "language"),
                        ("utm_sources", "utm_source"), ("dids", "did")):
        if field in pick:
            when[field] = draw(st.lists(values[name].filter(lambda v: v is not None), min_size=1, max_size=2,
                                        unique=True))
    if "price" in pick:
        low, high = sorted(draw(st.lists(values["price"].filter(lambda v: v is not None), min_size=2, max_size=2)))
        when.update({k: v for k, v in (("price_min", low), ("price_max", high)) if draw(st.booleans())})
    if "skills" in pick:
        when["skills"] = sorted(draw(st.sampled_from([{"elite"}, {"legal"}, {"elite", "legal"}])))
    if "territories" in pick:
        when["territories"] = ["center"]
    if "polygon" in pick:
        when["polygon"] = CENTER
    return when


@st.composite
def rule_sets(draw) -> RuleSet:
    n = draw(st.integers(min_value=0, max_value=8))
    priorities = draw(st.lists(st.integers(min_value=0, max_value=100), min_size=n, max_size=n, unique=True))
    data = {"territories": [{"id": "center", "geojson": CENTER}],
            "rules": [{"id": f"r{i}", "priority": p, "when": a_condition(draw), "target": {"teams": [1]}}
                      for i, p in enumerate(priorities)]}
    return compile_rules(data)


@st.composite
def inquiries(draw):
    facts = {k: draw(v) for k, v in values.items() if k != "where"}
    return inquiry(channel=facts.pop("channel"), **facts, **draw(values["where"]))


@settings(max_examples=200, deadline=None)
@given(rule_sets(), inquiries())
def test_the_rule_index_matches_exactly_the_rules_that_checking_each_one_matches(rule_set, facts):
    expected = [r.id for r in rule_set.rules if r.matches(facts, rule_set.polygons)]
    assert [r.id for r in rule_set.matching(facts)] == expected
    assert expected[-1] == "default"


@st.composite
def maps(draw):
    """A few overlapping territories (convex hulls of random points) and points in, out and on their borders."""
    coords = st.tuples(st.floats(37.5, 37.7), st.floats(55.7, 55.8))
    polygons = []
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        hull = MultiPoint(draw(st.lists(coords, min_size=3, max_size=7))).convex_hull
        if hull.geom_type == "Polygon" and hull.area > 1e-6:
            polygons.append(hull)
    points = draw(st.lists(coords, max_size=20))
    for polygon in polygons:  # corners and the middles of edges are the hard cases
        ring = list(polygon.exterior.coords)
        points += ring[:3] + [((a[0] + b[0]) / 2, (a[1] + b[1]) / 2) for a, b in zip(ring, ring[1:], strict=False)]
    return polygons, points


@settings(max_examples=60, deadline=None)
@given(maps())
def test_the_map_index_finds_exactly_the_territories_a_point_lies_in_borders_included(drawn):
    polygons, points = drawn
    index = TerritoryIndex(polygons)
    for lon, lat in points:
        expected = [i for i, p in enumerate(polygons) if p.intersects(Point(lon, lat))]
        assert index.containing(lon, lat) == expected == index.containing_by_tree(lon, lat)
