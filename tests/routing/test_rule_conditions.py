"""The editor's conditions in the pure rules model: the inquiry's department, the client's segment, the time of
day in the agency's zone (after-hours rules included), the rule's SLA overrides; the indexed match agrees with
the plain check; the editor's form turns into the rule file and back."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from routing.hours import HoursWindow
from routing.rule_form import form_values, validate_rule_form
from routing.rule_versions import changes
from routing.rules import RuleSetError, compile_rules
from tests.routing.world import inquiry

# 2025-03-05 is a Wednesday; Moscow is UTC+3
WED_10_MSK = datetime(2025, 3, 5, 7, 0, tzinfo=UTC)
WED_21_MSK = datetime(2025, 3, 5, 18, 0, tzinfo=UTC)
SAT_03_MSK = datetime(2025, 3, 8, 0, 0, tzinfo=UTC)  # Friday night's shift, after midnight


def rules(**when: object) -> dict:
    return {"rules": [{"id": "r", "priority": 1, "when": when, "target": {"agents": [1]}}]}


def first(data: dict, **facts: object) -> str:
    rs = compile_rules(data)
    inq = inquiry(**facts)
    ids = [r.id for r in rs.matching(inq)]
    plain = [r.id for r in rs.rules if r.matches(inq, rs.polygons)]
    assert ids == plain  # the bitmask index and the plain check agree
    return ids[0]


def test_department_and_segment_conditions() -> None:
    data = rules(departments=[7], segments=["VIP", "Инвесторы"])
    assert first(data, department_id=7, segments=frozenset({"vip"})) == "r"
    assert first(data, department_id=8, segments=frozenset({"VIP"})) == "default"
    assert first(data, department_id=7, segments=frozenset({"новые"})) == "default"
    assert first(data, department_id=None, segments=frozenset({"VIP"})) == "default"


def test_hours_in_the_agency_zone_and_after_hours() -> None:
    office = rules(hours={"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"})
    assert first(office, created_at=WED_10_MSK) == "r"
    assert first(office, created_at=WED_21_MSK) == "default"
    after = rules(hours={"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00",
                         "outside": True})
    assert first(after, created_at=WED_21_MSK) == "r" and first(after, created_at=WED_10_MSK) == "default"
    night = rules(hours={"days": ["fri"], "start": "20:00", "end": "08:00"})
    assert first(night, created_at=SAT_03_MSK) == "r"  # Friday's night shift runs into Saturday
    assert first(night, created_at=WED_21_MSK) == "default"
    vladivostok = {**office, "time_zone": "Asia/Vladivostok"}  # UTC+10: 07:00 UTC is 17:00 there
    assert first(vladivostok, created_at=WED_10_MSK) == "r"
    assert not HoursWindow.build(None, "09:00", "18:00", False, ZoneInfo("Europe/Moscow")).contains(SAT_03_MSK)


def test_bad_hours_zone_and_sla_are_refused_with_the_field() -> None:
    with pytest.raises(RuleSetError) as bad:
        compile_rules({**rules(hours={"start": "09:00", "end": "09:00"}), "time_zone": "Mars/Olympus"})
    fields = {p.field for p in bad.value.problems}
    assert "when.hours" in fields
    with pytest.raises(RuleSetError) as bad:
        compile_rules({**rules(), "time_zone": "Mars/Olympus"})
    assert [p.field for p in bad.value.problems] == ["time_zone"]
    with pytest.raises(RuleSetError) as bad:
        compile_rules({"rules": [{"id": "r", "priority": 1, "target": {"agents": [1]},
                                  "sla": {"accept_within_hours": 0}}]})
    assert bad.value.problems[0].field == "sla.accept_within_hours"
    ok = compile_rules({"rules": [{"id": "r", "priority": 1, "target": {"agents": [1]},
                                   "sla": {"accept_within_hours": 2}}]})
    assert dict(ok.by_id["r"].sla) == {"accept_within_hours": 2}


def test_the_form_round_trips_and_says_what_is_wrong_in_russian() -> None:
    form = {"id": "center", "name": "Центр", "enabled": "on", "channels": ["webform", "call"],
            "districts": "Хамовники, Арбат", "metro": ["Кропоткинская"], "price_min": "20 000 000",
            "deal_types": ["sale"], "hours_days": ["mon", "fri"], "hours_start": "09:00", "hours_end": "18:00",
            "target_kind": "departments", "target_departments": ["3"], "strategy": "team_claim",
            "offer_seconds": "120", "owner_first": "on", "sla_accept_hours": "2"}
    parsed, errors = validate_rule_form(form)
    assert errors == {} and parsed is not None
    rule = parsed.to_rule(10)
    assert rule["when"]["districts"] == ["Хамовники", "Арбат"] and rule["when"]["price_min"] == 20_000_000
    assert rule["when"]["hours"] == {"start": "09:00", "end": "18:00", "outside": False, "days": ["mon", "fri"]}
    assert rule["target"] == {"departments": [3]} and rule["offer_seconds"] == 120
    assert rule["sla"] == {"accept_within_hours": 2}
    compile_rules({"rules": [rule]})
    back, errors = validate_rule_form({**form_values(rule), "enabled": "on", "owner_first": "on"})
    assert errors == {} and back is not None and back.to_rule(10) == rule

    _, errors = validate_rule_form({**form, "target_departments": []})
    assert errors == {"target_kind": "Выберите, кому правило отдаёт обращения"}
    _, errors = validate_rule_form({**form, "polygon": "{"})
    assert errors["polygon"] == "Нарисованная область не читается (ожидается GeoJSON)"
    _, errors = validate_rule_form({**form, "hours_end": ""})
    assert errors["hours_start"] == "Укажите и начало, и конец часов"
    _, errors = validate_rule_form({**form, "strategy": "boss_decides", "channels": ["pigeon"]})
    assert errors["strategy"] == "boss_decides: нет такой стратегии"
    assert errors["channels"] == "pigeon: нет такого канала"
    _, errors = validate_rule_form({**form, "sla_accept_hours": "0"}, "en")
    assert errors["sla_accept_hours"] == "Above 0"


def test_what_changed_between_two_versions() -> None:
    a = {"rules": [{"id": "x", "priority": 1, "strategy": "random", "when": {"channels": ["call"]}},
                   {"id": "y", "priority": 2}]}
    b = {"rules": [{"id": "y", "priority": 1}, {"id": "x", "priority": 2, "strategy": "round_robin",
                                                "when": {"channels": ["webform"]}}, {"id": "z", "priority": 3}]}
    kinds = {(c.kind, c.rule_id, c.fields) for c in changes(a, b)}
    assert ("added", "z", ()) in kinds and ("moved", "y, x", ()) in kinds
    assert ("changed", "x", ("strategy", "when.channels")) in kinds


def test_a_listing_page_form_carries_the_facts_rules_match_on() -> None:
    from connectors.webforms.schema import FormSubmission
    from routing.listing import listing_facts

    form = FormSubmission.model_validate({"phone": "+7 916 123-45-67", "price": "35 000 000", "lat": "55,751",
                                          "lon": 37.618, "deal_type": "sale", "district": " Арбат "})
    assert form.listing() == {"price": 35_000_000.0, "lat": 55.751, "lon": 37.618, "district": "Арбат",
                              "deal_type": "sale"}
    assert FormSubmission.model_validate({"phone": "+79161234567", "lat": "55.7"}).listing() == {}  # lat alone
    facts = listing_facts({"listing": form.listing()})
    assert facts == {"lat": 55.751, "lon": 37.618, "price": 35_000_000.0, "district": "Арбат", "deal_type": "sale"}
    assert listing_facts({"listing": {"price": "дорого", "lat": 200, "lon": 37, "deal_type": "swap"}}) == {}
    assert listing_facts({}) == {} and listing_facts({"listing": "x"}) == {}
    rule = rules(polygon={"type": "Polygon", "coordinates": [[[37.6, 55.74], [37.64, 55.74], [37.64, 55.76],
                                                             [37.6, 55.76], [37.6, 55.74]]]}, price_min=20_000_000)
    assert first(rule, **facts) == "r"
