"""Small worlds for routing tests: agents, rules and inquiries in a few lines."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from routing.agents import AgentDirectory
from routing.model import AgentSnapshot, InquiryFacts
from routing.rules import RuleSet, compile_rules

MSK = ZoneInfo("Europe/Moscow")
WEDNESDAY_NOON = datetime(2025, 3, 5, 12, 0, tzinfo=MSK)

# a triangle around Хамовники / Парк культуры (GeoJSON: longitude, latitude)
CENTER = {"type": "Polygon", "coordinates": [[[37.55, 55.72], [37.62, 55.72], [37.59, 55.76], [37.55, 55.72]]]}
INSIDE_CENTER = {"lat": 55.73, "lon": 37.585}
OUTSIDE_CENTER = {"lat": 55.80, "lon": 37.70}


def agent(agent_id: int, **kw: Any) -> AgentSnapshot:
    kw.setdefault("department_id", 1)
    return AgentSnapshot(agent_id, **kw)


def inquiry(inquiry_id: int | str = 1, channel: str = "webform", **kw: Any) -> InquiryFacts:
    kw.setdefault("created_at", WEDNESDAY_NOON)
    kw.setdefault("department_id", 1)
    return InquiryFacts(inquiry_id, channel, **kw)  # type: ignore[arg-type]


def rules(*rule_dicts: dict[str, Any], default: dict[str, Any] | None = None,
          territories: list[dict[str, Any]] | None = None) -> RuleSet:
    data: dict[str, Any] = {"rules": list(rule_dicts)}
    if default is not None:
        data["default"] = default
    if territories is not None:
        data["territories"] = territories
    return compile_rules(data)


def directory(*agents: AgentSnapshot, **kw: Any) -> AgentDirectory:
    return AgentDirectory(agents, **kw)
