"""Which rules match an inquiry: the compiled rule, its plain check, and the bitmask index over all rules.

Every rule is one bit (bit 0 is the first rule by priority). For each condition the index keeps, per value,
the bits of the rules that accept it, plus the bits of the rules without that condition. ANDing the masks
of the inquiry's values gives every matching rule at once; the lowest set bit is the first one. A rule's
territory (districts, metro stations and lines, polygons) is one condition: any of its parts matches.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from routing.hours import HoursWindow
from routing.model import InquiryFacts
from routing.territory import TerritoryIndex
from routing.text import norm_did, norm_site, norm_text

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry


@dataclass(frozen=True, slots=True)
class Target:
    agents: tuple[int, ...] = ()
    teams: tuple[int, ...] = ()
    departments: tuple[int, ...] = ()
    skills: frozenset[str] = frozenset()  # everyone who has all of these skills
    inquiry_department: bool = False
    pool: str | None = None  # straight to the "department" or "common" pool, nobody is chosen
    require_skills: frozenset[str] = frozenset()  # every candidate must have these too


@dataclass(frozen=True, slots=True)
class CompiledRule:
    index: int
    id: str
    name: str
    priority: int
    target: Target
    strategy: str
    owner_first: bool
    offer_seconds: int
    offer_on_timeout: str
    spread_period: str
    on_no_agent: str
    channels: frozenset[str] | None = None
    dids: frozenset[str] | None = None
    utm_sources: frozenset[str] | None = None
    sites: frozenset[str] | None = None
    sources: frozenset[str] | None = None
    districts: frozenset[str] | None = None
    metro: frozenset[str] | None = None
    metro_lines: frozenset[str] | None = None
    polygons: tuple[int, ...] | None = None  # indices into the rule set's polygon list
    property_types: frozenset[str] | None = None
    deal_types: frozenset[str] | None = None
    languages: frozenset[str] | None = None
    skills: frozenset[str] | None = None
    price_min: float | None = None
    price_max: float | None = None
    departments: frozenset[str] | None = None  # the inquiry's department id, as text
    segments: frozenset[str] | None = None  # any of the client's segments
    hours: HoursWindow | None = None  # when the inquiry came, in the agency's zone
    sla: tuple[tuple[str, float], ...] = ()  # the rule's SLA overrides (name, value), for the scheduler
    property_agent_first: bool = False  # a lead on a property: the property's agent first, when eligible

    @property
    def has_territory(self) -> bool:
        return any(x is not None for x in (self.districts, self.metro, self.metro_lines, self.polygons))

    def matches(self, inquiry: InquiryFacts, polygons: Sequence[BaseGeometry]) -> bool:
        """The plain check of every condition (the index's reference, and what the naive scan uses)."""
        if not _in(self.channels, inquiry.channel, str):
            return False
        if not (_in(self.dids, inquiry.did, norm_did) and _in(self.utm_sources, inquiry.utm_source, norm_text)
                and _in(self.sites, inquiry.site, norm_site) and _in(self.sources, inquiry.source, norm_text)):
            return False
        if not (_in(self.property_types, inquiry.property_type, norm_text)
                and _in(self.deal_types, inquiry.deal_type, str) and _in(self.languages, inquiry.language, str)):
            return False
        if self.skills is not None and not self.skills <= inquiry.required_skills:
            return False
        if not _in(self.departments, None if inquiry.department_id is None else str(inquiry.department_id), str):
            return False
        if self.segments is not None and not self.segments & inquiry.segments:
            return False
        if self.hours is not None and not self.hours.contains(inquiry.created_at):
            return False
        if self.price_min is not None or self.price_max is not None:
            if inquiry.price is None:
                return False
            if self.price_min is not None and inquiry.price < self.price_min:
                return False
            if self.price_max is not None and inquiry.price > self.price_max:
                return False
        if self.has_territory:
            return self._territory_hit(inquiry, polygons)
        return True

    def _territory_hit(self, inquiry: InquiryFacts, polygons: Sequence[BaseGeometry]) -> bool:
        if self.districts and inquiry.district and norm_text(inquiry.district) in self.districts:
            return True
        if self.metro and inquiry.metro and norm_text(inquiry.metro) in self.metro:
            return True
        if self.metro_lines and inquiry.metro_line and norm_text(inquiry.metro_line) in self.metro_lines:
            return True
        if self.polygons and inquiry.lon is not None and inquiry.lat is not None:
            from shapely import Point  # loaded already: there are polygons

            point = Point(inquiry.lon, inquiry.lat)
            return any(polygons[i].intersects(point) for i in self.polygons)
        return False


def _in(allowed: frozenset[str] | None, value: str | None, norm: Callable[[str], str]) -> bool:
    return allowed is None or (value is not None and norm(value) in allowed)


class _Dim:
    """One condition over a single inquiry value: value → bits of the rules accepting it."""

    __slots__ = ("any", "by_value")

    def __init__(self, rules: Sequence[CompiledRule], attr: str) -> None:
        self.any = 0
        self.by_value: dict[str, int] = {}
        for rule in rules:
            values = getattr(rule, attr)
            if values is None:
                self.any |= 1 << rule.index
                continue
            for value in values:
                self.by_value[value] = self.by_value.get(value, 0) | (1 << rule.index)

    def mask(self, value: str | None) -> int:
        return self.any if value is None else self.any | self.by_value.get(value, 0)


class RuleIndex:
    """All rules' conditions as bitmasks; ``mask(inquiry)`` has a bit set for every matching rule."""

    def __init__(self, rules: Sequence[CompiledRule], polygons: Sequence[BaseGeometry]) -> None:
        self.all = sum(1 << r.index for r in rules)
        self.channels = _Dim(rules, "channels")
        self.dids = _Dim(rules, "dids")
        self.utm_sources = _Dim(rules, "utm_sources")
        self.sites = _Dim(rules, "sites")
        self.sources = _Dim(rules, "sources")
        self.property_types = _Dim(rules, "property_types")
        self.deal_types = _Dim(rules, "deal_types")
        self.languages = _Dim(rules, "languages")
        self.districts = _Dim(rules, "districts")
        self.metro = _Dim(rules, "metro")
        self.metro_lines = _Dim(rules, "metro_lines")
        self.no_territory = sum(1 << r.index for r in rules if not r.has_territory)
        self.polygon_bits = [0] * len(polygons)
        for rule in rules:
            for i in rule.polygons or ():
                self.polygon_bits[i] |= 1 << rule.index
        self.territories = TerritoryIndex(polygons)
        self.skill_rules = [(1 << r.index, r.skills) for r in rules if r.skills is not None]
        self.no_skills = sum(1 << r.index for r in rules if r.skills is None)
        self.departments = _Dim(rules, "departments")
        self.segment_rules = [(1 << r.index, r.segments) for r in rules if r.segments is not None]
        self.no_segments = sum(1 << r.index for r in rules if r.segments is None)
        self.hour_rules = [(1 << r.index, r.hours) for r in rules if r.hours is not None]
        self.no_hours = sum(1 << r.index for r in rules if r.hours is None)
        self._prices(rules)

    def _prices(self, rules: Sequence[CompiledRule]) -> None:
        """Price bounds cut the line into segments; each segment knows which rules accept its prices."""
        priced = [r for r in rules if r.price_min is not None or r.price_max is not None]
        self.no_price = sum(1 << r.index for r in rules) & ~sum(1 << r.index for r in priced)
        points = sorted({p for r in priced for p in (r.price_min, r.price_max) if p is not None})
        # segment k covers the prices x with bounds[k-1] <= x < bounds[k]; each bound is also a point of its own
        self.bounds: list[float] = []
        for p in points:
            self.bounds += [p, _next_after(p)]
        self.segment_bits: list[int] = []
        probes = [-float("inf")] + self.bounds
        for probe in probes:
            bits = self.no_price
            for r in priced:
                if (r.price_min is None or probe >= r.price_min) and (r.price_max is None or probe <= r.price_max):
                    bits |= 1 << r.index
            self.segment_bits.append(bits)

    def mask(self, inquiry: InquiryFacts) -> int:
        m = self.all & self.channels.mask(inquiry.channel)
        m &= self.deal_types.mask(inquiry.deal_type)
        if not m:
            return 0
        if inquiry.property_type is not None:
            m &= self.property_types.mask(norm_text(inquiry.property_type))
        else:
            m &= self.property_types.any
        m &= self.dids.mask(None if inquiry.did is None else norm_did(inquiry.did))
        m &= self.utm_sources.mask(None if inquiry.utm_source is None else norm_text(inquiry.utm_source))
        m &= self.sites.mask(None if inquiry.site is None else norm_site(inquiry.site))
        m &= self.sources.mask(None if inquiry.source is None else norm_text(inquiry.source))
        m &= self.languages.mask(inquiry.language)
        if not m:
            return 0
        m &= self.segment_bits[bisect_right(self.bounds, inquiry.price)] if inquiry.price is not None else self.no_price
        if self.skill_rules:
            bits = self.no_skills
            have = inquiry.required_skills
            if have:
                for bit, skills in self.skill_rules:
                    if skills <= have:
                        bits |= bit
            m &= bits
        m &= self.departments.mask(None if inquiry.department_id is None else str(inquiry.department_id))
        if m & ~self.no_segments:
            m &= self.no_segments | sum(bit for bit, want in self.segment_rules if want & inquiry.segments)
        if m & ~self.no_hours:
            m &= self.no_hours | sum(bit for bit, window in self.hour_rules if window.contains(inquiry.created_at))
        if m & ~self.no_territory:
            m &= self._territory_bits(inquiry)
        return m

    def _territory_bits(self, inquiry: InquiryFacts) -> int:
        bits = self.no_territory
        if inquiry.district is not None:
            bits |= self.districts.by_value.get(norm_text(inquiry.district), 0)
        if inquiry.metro is not None:
            bits |= self.metro.by_value.get(norm_text(inquiry.metro), 0)
        if inquiry.metro_line is not None:
            bits |= self.metro_lines.by_value.get(norm_text(inquiry.metro_line), 0)
        if inquiry.lon is not None and inquiry.lat is not None and self.polygon_bits:
            for i in self.territories.containing(inquiry.lon, inquiry.lat):
                bits |= self.polygon_bits[i]
        return bits


def _next_after(value: float) -> float:
    return math.nextafter(value, math.inf)


def as_set(values: Iterable[str] | None, norm: Callable[[str], str]) -> frozenset[str] | None:
    return None if values is None else frozenset(norm(v) for v in values)
