"""Routing rules as the administrator writes them (TOML, or any dict) and their validated, compiled form.

A file looks like::

    [[territories]]
    id = "center"
    name = "Центр"
    geojson = { type = "Polygon", coordinates = [[[37.60, 55.74], [37.64, 55.74], [37.64, 55.76], [37.60, 55.74]]] }

    [[rules]]
    id = "center-sale"
    name = "Центр, продажа дороже 20 млн"
    priority = 10
    when = { territories = ["center"], districts = ["Хамовники"], deal_types = ["sale"], price_min = 20_000_000 }
    target = { teams = [7] }
    strategy = "round_robin"

    [default]                     # optional; catches everything that no rule took
    target = { inquiry_department = true }
    strategy = "least_loaded"

Rules are tried by ascending ``priority`` (each rule its own). ``load_rules_toml`` / ``compile_rules`` return a
new ``RuleSet`` or raise ``RuleSetError`` listing every problem with the rule and the field it is in; the
rule set already running is never touched, so the caller swaps only on success.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from routing.hours import WEEKDAYS, HoursWindow, clock_minutes
from routing.match import CompiledRule, RuleIndex, Target, as_set
from routing.model import Channel, DealType, InquiryFacts
from routing.rule_problems import RuleProblem, RuleSetError, args_of, problem_from_pydantic, toml_problem
from routing.territory import BadPolygon, polygon_from_geojson
from routing.text import norm_did, norm_site, norm_text

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

Strategy = Literal["least_loaded", "round_robin", "random", "even_spread", "team_claim"]
STRATEGIES: tuple[str, ...] = ("least_loaded", "round_robin", "random", "even_spread", "team_claim")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HoursSpec(_Strict):
    """Time of day: the weekdays (all when left out) and the interval, in the rule file's ``time_zone``;
    ``outside = true`` matches everything outside it (after hours)."""

    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] | None = None
    start: str
    end: str
    outside: bool = False

    @model_validator(mode="after")
    def _clock(self) -> HoursSpec:
        for value in (self.start, self.end):
            try:
                clock_minutes(value)
            except ValueError as exc:
                raise PydanticCustomError("bad_time", "{detail}", {"detail": str(exc), "value": value}) from None
        if clock_minutes(self.start) == clock_minutes(self.end):
            raise PydanticCustomError("empty_interval", "the interval is empty: start and end are the same")
        if self.days == []:
            raise PydanticCustomError("no_weekday", "name at least one weekday, or leave days out for every day")
        return self


class SlaOverride(_Strict):
    """The rule's own SLA thresholds for the inquiries it routes (the agency's settings apply to the rest)."""

    accept_within_hours: float | None = Field(None, gt=0, le=24 * 31)
    max_idle_days: int | None = Field(None, gt=0, le=365)


class Conditions(_Strict):
    """What an inquiry must have for the rule to match. A missing condition matches anything; a condition
    on a value the inquiry lacks (no price, no district) does not match. Territory parts are alternatives."""

    channels: list[Channel] | None = None
    dids: list[str] | None = None
    utm_sources: list[str] | None = None
    sites: list[str] | None = None
    sources: list[str] | None = None
    districts: list[str] | None = None
    metro: list[str] | None = None
    metro_lines: list[str] | None = None
    territories: list[str] | None = None  # ids of [[territories]]
    polygon: dict[str, Any] | None = None  # an inline GeoJSON Polygon/MultiPolygon
    property_types: list[str] | None = None
    deal_types: list[DealType] | None = None
    price_min: float | None = Field(None, ge=0)
    price_max: float | None = Field(None, ge=0)
    languages: list[str] | None = None
    skills: list[str] | None = None  # the inquiry requires all of these
    departments: list[int] | None = None  # the inquiry's department
    segments: list[str] | None = None  # the client is in any of these segments
    hours: HoursSpec | None = None

    @model_validator(mode="after")
    def _price_range(self) -> Conditions:
        if self.price_min is not None and self.price_max is not None and self.price_min > self.price_max:
            raise PydanticCustomError("price_range", "price_min {min} is above price_max {max}",
                                      {"min": f"{self.price_min:g}", "max": f"{self.price_max:g}"})
        return self


class TargetSpec(_Strict):
    """Who may get the inquiry: the union of the listed agents, teams, departments and skill holders."""

    agents: list[int] = []
    teams: list[int] = []
    departments: list[int] = []
    skills: list[str] = []
    inquiry_department: bool = False
    pool: Literal["department", "common"] | None = None
    require_skills: list[str] = []

    @model_validator(mode="after")
    def _someone(self) -> TargetSpec:
        chosen = bool(self.agents or self.teams or self.departments or self.skills or self.inquiry_department)
        if self.pool is not None and chosen:
            raise PydanticCustomError("pool_and_people", "a target is either a pool or agents/teams/departments, "
                                                         "not both")
        if self.pool is None and not chosen:
            raise PydanticCustomError("nobody", "the target names nobody: give agents, teams, departments, skills, "
                                                "inquiry_department = true or a pool")
        return self


class _RuleBase(_Strict):
    name: str = ""
    target: TargetSpec = TargetSpec(inquiry_department=True)
    strategy: Strategy = "least_loaded"
    owner_first: bool = True  # sticky: a known client's owner gets it first when eligible
    property_agent_first: bool = False  # a lead on a property: the property's agent first when eligible
    offer_seconds: int = Field(300, gt=0, le=7 * 24 * 3600)  # team_claim: how long the offer stands
    offer_on_timeout: Literal["department_pool", "common_pool", "least_loaded"] = "department_pool"
    spread_period: Literal["day", "week", "month"] = "day"  # even_spread counts assignments per period
    sla: SlaOverride | None = None


class RuleSpec(_RuleBase):
    id: str = Field(min_length=1, max_length=100, pattern=r"^\S+$")
    priority: int
    target: TargetSpec
    enabled: bool = True
    when: Conditions = Conditions()
    on_no_agent: Literal["next_rule", "department_pool", "common_pool"] = "next_rule"


class DefaultRuleSpec(_RuleBase):
    id: str = Field("default", min_length=1, max_length=100, pattern=r"^\S+$")
    on_no_agent: Literal["department_pool", "common_pool"] = "department_pool"


class TerritorySpec(_Strict):
    id: str = Field(min_length=1, max_length=100)
    name: str = ""
    geojson: dict[str, Any]


class RuleFileSpec(_Strict):
    version: Literal[1] = 1
    time_zone: str = "Europe/Moscow"  # the agency's zone: time-of-day conditions are read in it
    territories: list[TerritorySpec] = []
    rules: list[RuleSpec] = []
    default: DefaultRuleSpec = DefaultRuleSpec()


class RuleSet:
    """Validated, compiled rules: ordered by priority, the default last, indexed for matching."""

    def __init__(self, spec: RuleFileSpec, rules: Sequence[CompiledRule], polygons: Sequence[BaseGeometry],
                 polygon_names: Sequence[str]) -> None:
        self.spec = spec
        self.rules = tuple(rules)
        self.by_id = {r.id: r for r in self.rules}
        self.polygons = tuple(polygons)
        self.polygon_names = tuple(polygon_names)
        self.index = RuleIndex(self.rules, self.polygons)
        self.default = self.rules[-1]

    def matching(self, inquiry: InquiryFacts) -> list[CompiledRule]:
        """Every rule that matches, first one first (the default is always last)."""
        mask = self.index.mask(inquiry)
        out = []
        while mask:
            low = mask & -mask
            out.append(self.rules[low.bit_length() - 1])
            mask ^= low
        return out

    def unknown_references(self, agent_ids: Collection[int], team_ids: Collection[int],
                           department_ids: Collection[int]) -> list[RuleProblem]:
        """Targets naming agents, teams or departments the company does not have (warnings for the admin
        page: such a rule still loads, and its unknown members are reported as "unknown agent")."""
        out = []
        for rule in self.rules:
            where = f'rule "{rule.id}"'
            for field, wanted, known in (("target.agents", rule.target.agents, agent_ids),
                                         ("target.teams", rule.target.teams, team_ids),
                                         ("target.departments", rule.target.departments, department_ids)):
                missing = [x for x in wanted if x not in known]
                if missing:
                    out.append(RuleProblem(where, field, f"unknown: {', '.join(map(str, missing))}", "unknown_ids",
                                           args_of(ids=", ".join(map(str, missing)))))
        return out

    def to_dict(self) -> dict[str, Any]:
        """The rules as a dict that ``compile_rules`` reads back (for export and for the database)."""
        return self.spec.model_dump(mode="json", exclude_none=True)


def load_rules_toml(text: str) -> RuleSet:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleSetError([toml_problem(exc)]) from None
    return compile_rules(data)


def compile_rules(data: Mapping[str, Any]) -> RuleSet:
    """Validate and compile; raises RuleSetError with every problem found."""
    try:
        spec = RuleFileSpec.model_validate(data)
    except ValidationError as exc:
        raise RuleSetError([problem_from_pydantic(err, data) for err in exc.errors()]) from None
    problems: list[RuleProblem] = []
    polygons: list[BaseGeometry] = []
    names: list[str] = []
    territory_at: dict[str, int] = {}
    users = _territory_users(spec)
    for i, territory in enumerate(spec.territories):
        where = f'territories[{i}] "{territory.id}"'
        if territory.id in territory_at:
            problems.append(RuleProblem(where, "id", "this territory id is used twice", "territory_twice"))
            continue
        try:
            polygons.append(polygon_from_geojson(territory.geojson))
        except BadPolygon as exc:
            used = f" (used by rules {', '.join(users[territory.id])})" if users.get(territory.id) else ""
            problems.append(RuleProblem(where, "geojson", f"{exc}{used}", "bad_polygon",
                                        args_of(detail=exc, rules=", ".join(users.get(territory.id, ())))))
            polygons.append(cast("BaseGeometry", None))  # keeps the indices; the load fails anyway
        territory_at[territory.id] = len(polygons) - 1
        names.append(territory.id)
    problems += _check_rules(spec, territory_at)
    try:
        zone = ZoneInfo(spec.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(RuleProblem(None, "time_zone", f"unknown time zone {spec.time_zone!r}", "bad_zone",
                                    args_of(zone=spec.time_zone)))
        zone = ZoneInfo("Europe/Moscow")
    ordered = sorted((r for r in spec.rules if r.enabled), key=lambda r: r.priority)
    compiled: list[CompiledRule] = []
    for rule in ordered:
        polygon_ids: list[int] = [territory_at[t] for t in rule.when.territories or () if t in territory_at]
        if rule.when.polygon is not None:
            try:
                polygons.append(polygon_from_geojson(rule.when.polygon))
                names.append(f"{rule.id}/polygon")
                polygon_ids.append(len(polygons) - 1)
            except BadPolygon as exc:
                problems.append(RuleProblem(_rule_where(spec, rule.id), "when.polygon", str(exc), "bad_polygon",
                                            args_of(detail=exc, rules="")))
        has_polygons = rule.when.territories is not None or rule.when.polygon is not None
        compiled.append(_compile(len(compiled), rule, tuple(polygon_ids) if has_polygons else None, zone))
    if problems:
        raise RuleSetError(problems)
    compiled.append(_compile_default(len(compiled), spec.default))
    return RuleSet(spec, compiled, polygons, names)


def _check_rules(spec: RuleFileSpec, territory_at: Mapping[str, int]) -> list[RuleProblem]:
    problems: list[RuleProblem] = []
    first_by_id: dict[str, int] = {}
    first_by_priority: dict[int, str] = {}
    for i, rule in enumerate(spec.rules):
        where = f'rules[{i}] "{rule.id}"'
        if rule.id in first_by_id or rule.id == spec.default.id:
            problems.append(RuleProblem(where, "id", "this rule id is used twice", "rule_twice"))
        first_by_id.setdefault(rule.id, i)
        if rule.priority in first_by_priority:
            other = first_by_priority[rule.priority]
            problems.append(RuleProblem(where, "priority", f'priority {rule.priority} overlaps rule "{other}"; '
                                        "give each rule its own priority", "priority_overlap",
                                        args_of(priority=rule.priority, other=other)))
        else:
            first_by_priority[rule.priority] = rule.id
        for t in rule.when.territories or ():
            if t not in territory_at:
                names = ", ".join(sorted(territory_at))
                problems.append(RuleProblem(where, "when.territories",
                                            f"unknown territory {t!r} (known: {names or 'none'})",
                                            "unknown_territory", args_of(territory=t, known=names)))
        for name in ("channels", "dids", "utm_sources", "sites", "sources", "districts", "metro", "metro_lines",
                     "territories", "property_types", "deal_types", "languages", "skills", "departments",
                     "segments"):
            if getattr(rule.when, name) == []:
                problems.append(RuleProblem(where, f"when.{name}", "an empty list would match nothing; leave the "
                                            "condition out to match anything", "empty_list"))
    return problems


def _compile(index: int, rule: RuleSpec, polygons: tuple[int, ...] | None, zone: ZoneInfo) -> CompiledRule:
    w = rule.when
    hours = None if w.hours is None else HoursWindow.build(list(w.hours.days or WEEKDAYS), w.hours.start,
                                                             w.hours.end, w.hours.outside, zone)
    return CompiledRule(
        index=index, id=rule.id, name=rule.name or rule.id, priority=rule.priority, target=_target(rule.target),
        strategy=rule.strategy, owner_first=rule.owner_first, offer_seconds=rule.offer_seconds,
        offer_on_timeout=rule.offer_on_timeout, spread_period=rule.spread_period, on_no_agent=rule.on_no_agent,
        channels=None if w.channels is None else frozenset(w.channels),
        dids=as_set(w.dids, norm_did), utm_sources=as_set(w.utm_sources, norm_text),
        sites=as_set(w.sites, norm_site), sources=as_set(w.sources, norm_text),
        districts=as_set(w.districts, norm_text), metro=as_set(w.metro, norm_text),
        metro_lines=as_set(w.metro_lines, norm_text), polygons=polygons,
        property_types=as_set(w.property_types, norm_text),
        deal_types=None if w.deal_types is None else frozenset(w.deal_types),
        languages=as_set(w.languages, norm_text), skills=as_set(w.skills, norm_text),
        price_min=w.price_min, price_max=w.price_max,
        departments=None if w.departments is None else frozenset(str(d) for d in w.departments),
        segments=as_set(w.segments, norm_text), hours=hours, sla=_sla(rule.sla),
        property_agent_first=rule.property_agent_first,
    )


def _compile_default(index: int, rule: DefaultRuleSpec) -> CompiledRule:
    return CompiledRule(
        index=index, id=rule.id, name=rule.name or "Default rule", priority=2**63, target=_target(rule.target),
        strategy=rule.strategy, owner_first=rule.owner_first, offer_seconds=rule.offer_seconds,
        offer_on_timeout=rule.offer_on_timeout, spread_period=rule.spread_period, on_no_agent=rule.on_no_agent,
        sla=_sla(rule.sla), property_agent_first=rule.property_agent_first,
    )


def _sla(spec: SlaOverride | None) -> tuple[tuple[str, float], ...]:
    return () if spec is None else tuple((k, v) for k, v in spec.model_dump(exclude_none=True).items())


def _target(spec: TargetSpec) -> Target:
    return Target(
        agents=tuple(sorted(set(spec.agents))), teams=tuple(sorted(set(spec.teams))),
        departments=tuple(sorted(set(spec.departments))), skills=frozenset(norm_text(s) for s in spec.skills),
        inquiry_department=spec.inquiry_department, pool=spec.pool,
        require_skills=frozenset(norm_text(s) for s in spec.require_skills),
    )


def _territory_users(spec: RuleFileSpec) -> dict[str, list[str]]:
    users: dict[str, list[str]] = {}
    for rule in spec.rules:
        for t in rule.when.territories or ():
            users.setdefault(t, []).append(f'"{rule.id}"')
    return users


def _rule_where(spec: RuleFileSpec, rule_id: str) -> str:
    for i, rule in enumerate(spec.rules):
        if rule.id == rule_id:
            return f'rules[{i}] "{rule_id}"'
    return f'"{rule_id}"'
