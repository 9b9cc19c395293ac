"""The rule editor's form: one routing rule as the page's fields, validated with pydantic, each problem for its
field in Russian (or English), and turned into the rule dict the rule file has (``to_rule``) and back
(``form_values``). A department head's form is held to their department (``head_scope``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from routing.forms import ERROR_TEXTS as BASE_TEXTS
from routing.hours import WEEKDAYS, clock_minutes
from routing.model import CHANNELS
from routing.rules import STRATEGIES
from routing.territory import BadPolygon, polygon_from_geojson

RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
MULTI = ("channels", "deal_types", "departments", "territories", "hours_days", "target_agents", "target_teams",
         "target_departments", "metro", "segments")
TARGETS = ("agents", "teams", "departments", "inquiry_department", "pool")


def _words(value: object) -> object:
    """"a, b; c" or one per line → ["a", "b", "c"]; blank → None (the condition is left out)."""
    if isinstance(value, str):
        parts = [p.strip() for p in re.split(r"[,;\n]", value) if p.strip()]
        return parts or None
    return value or None


def _ids(value: object) -> object:
    if isinstance(value, str):
        value = [value] if value.strip() else []
    out = []
    for v in value if isinstance(value, list | tuple) else []:
        try:
            out.append(int(v))
        except (TypeError, ValueError):
            raise PydanticCustomError("rule_id_number", "{value}: not a number", {"value": str(v)[:20]}) from None
    return out


def _number(value: object) -> object:
    if isinstance(value, str):
        text = value.replace(" ", "").replace("\u00a0", "").replace(",", ".")
        return text or None
    return value


class RuleForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    name: str = Field("", max_length=200)
    enabled: bool = False
    channels: list[str] | None = None
    sources: list[str] | None = None
    dids: list[str] | None = None
    departments: list[int] | None = None
    districts: list[str] | None = None
    metro: list[str] | None = None
    territories: list[str] | None = None
    polygon: dict[str, Any] | None = None
    property_types: list[str] | None = None
    deal_types: list[Literal["sale", "rent"]] | None = None
    price_min: float | None = Field(None, ge=0)
    price_max: float | None = Field(None, ge=0)
    languages: list[str] | None = None
    segments: list[str] | None = None
    hours_days: list[str] | None = None
    hours_start: str | None = None
    hours_end: str | None = None
    hours_outside: bool = False
    target_kind: Literal["agents", "teams", "departments", "inquiry_department", "pool"] = "inquiry_department"
    target_agents: list[int] = []
    target_teams: list[int] = []
    target_departments: list[int] = []
    target_pool: Literal["department", "common"] = "department"
    strategy: str = "least_loaded"
    owner_first: bool = False
    property_agent_first: bool = False
    offer_seconds: int = Field(300, gt=0, le=7 * 24 * 3600)
    spread_period: Literal["day", "week", "month"] = "day"
    on_no_agent: Literal["next_rule", "department_pool", "common_pool"] = "next_rule"
    sla_accept_hours: float | None = Field(None, gt=0, le=24 * 31)
    sla_idle_days: int | None = Field(None, gt=0, le=365)

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, v: object) -> object:
        text = str(v or "").strip()
        if not RULE_ID.match(text):
            raise PydanticCustomError("rule_key", "latin letters, digits, - _ . (up to 100)")
        return text

    @field_validator("enabled", "hours_outside", "owner_first", "property_agent_first", mode="before")
    @classmethod
    def _checkbox(cls, v: object) -> object:
        return v in (True, "on", "1", "true", "yes")

    @field_validator("sources", "dids", "districts", "property_types", "languages", mode="before")
    @classmethod
    def _split(cls, v: object) -> object:
        return _words(v)

    @field_validator("channels", "metro", "segments", "territories", "deal_types", "hours_days", mode="before")
    @classmethod
    def _list(cls, v: object) -> object:
        if isinstance(v, str):
            return _words(v)
        return [x for x in v if str(x).strip()] or None if isinstance(v, list) else v

    @field_validator("departments", mode="before")
    @classmethod
    def _departments(cls, v: object) -> object:
        return _ids(v) or None

    @field_validator("target_agents", "target_teams", "target_departments", mode="before")
    @classmethod
    def _target_ids(cls, v: object) -> object:
        return _ids(v)

    @field_validator("price_min", "price_max", "sla_accept_hours", "sla_idle_days", "offer_seconds", mode="before")
    @classmethod
    def _numbers(cls, v: object) -> object:
        return _number(v)

    @field_validator("channels")
    @classmethod
    def _channels(cls, v: list[str] | None) -> list[str] | None:
        for c in v or ():
            if c not in CHANNELS:
                raise PydanticCustomError("rule_channel", "{value}: no such channel", {"value": c[:20]})
        return v

    @field_validator("hours_days")
    @classmethod
    def _days(cls, v: list[str] | None) -> list[str] | None:
        for d in v or ():
            if d not in WEEKDAYS:
                raise PydanticCustomError("rule_weekday", "{value}: no such weekday", {"value": d[:10]})
        return v

    @field_validator("hours_start", "hours_end", mode="before")
    @classmethod
    def _clock(cls, v: object) -> object:
        text = str(v or "").strip()
        if not text:
            return None
        try:
            clock_minutes(text)
        except ValueError:
            raise PydanticCustomError("rule_clock", "{value}: expected HH:MM", {"value": text[:10]}) from None
        return text

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, v: str) -> str:
        if v not in STRATEGIES:
            raise PydanticCustomError("rule_strategy", "{value}: no such strategy", {"value": v[:30]})
        return v

    @field_validator("polygon", mode="before")
    @classmethod
    def _polygon(cls, v: object) -> object:
        if isinstance(v, str):
            if not v.strip():
                return None
            try:
                v = json.loads(v)
            except ValueError:
                raise PydanticCustomError("rule_polygon_text", "the drawn area is not readable") from None
        if v is None:
            return None
        try:
            polygon_from_geojson(v)  # type: ignore[arg-type]
        except BadPolygon as exc:
            raise PydanticCustomError("rule_polygon", "the drawn area is not a usable polygon: {why}",
                                      {"why": str(exc)}) from None
        return v

    @model_validator(mode="after")
    def _together(self) -> RuleForm:
        if self.price_min is not None and self.price_max is not None and self.price_min > self.price_max:
            raise PydanticCustomError("rule_price_range", "the lowest price is above the highest")
        if (self.hours_start is None) != (self.hours_end is None):
            raise PydanticCustomError("rule_hours_both", "give both the start and the end of the hours")
        if self.hours_start is not None and self.hours_start == self.hours_end:
            raise PydanticCustomError("rule_hours_empty", "the start and the end of the hours are the same")
        chosen = {"agents": self.target_agents, "teams": self.target_teams,
                  "departments": self.target_departments}.get(self.target_kind)
        if chosen is not None and not chosen:
            raise PydanticCustomError("rule_target_empty", "choose whom the rule gives inquiries to")
        return self

    def to_rule(self, priority: int) -> dict[str, Any]:
        """The rule as the rule file has it (only the conditions that were given)."""
        when: dict[str, Any] = {}
        for key in ("channels", "sources", "dids", "departments", "districts", "metro", "territories",
                    "polygon", "property_types", "deal_types", "price_min", "price_max", "languages", "segments"):
            value = getattr(self, key)
            if value is not None:
                when[key] = value
        if self.hours_start and self.hours_end:
            hours: dict[str, Any] = {"start": self.hours_start, "end": self.hours_end, "outside": self.hours_outside}
            if self.hours_days and len(self.hours_days) < len(WEEKDAYS):
                hours["days"] = self.hours_days
            when["hours"] = hours
        targets: dict[str, dict[str, Any]] = {
            "agents": {"agents": self.target_agents}, "teams": {"teams": self.target_teams},
            "departments": {"departments": self.target_departments},
            "inquiry_department": {"inquiry_department": True}, "pool": {"pool": self.target_pool},
        }
        target = targets[self.target_kind]
        rule: dict[str, Any] = {"id": self.id, "priority": priority, "enabled": self.enabled, "name": self.name,
                                "when": when, "target": target, "strategy": self.strategy,
                                "owner_first": self.owner_first, "on_no_agent": self.on_no_agent}
        if self.property_agent_first:
            rule["property_agent_first"] = True
        if self.strategy == "team_claim":
            rule["offer_seconds"] = self.offer_seconds
        if self.strategy == "even_spread":
            rule["spread_period"] = self.spread_period
        sla = {k: v for k, v in (("accept_within_hours", self.sla_accept_hours),
                                 ("max_idle_days", self.sla_idle_days)) if v is not None}
        if sla:
            rule["sla"] = sla
        return rule


def _plain(value: Any) -> Any:
    """20000000.0 → 20000000 (as the administrator typed it)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def form_values(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A stored rule as the form's initial values (the inverse of ``RuleForm.to_rule``)."""
    when, target = dict(rule.get("when") or {}), dict(rule.get("target") or {})
    kind = next((k for k in TARGETS if target.get(k)), "inquiry_department")
    hours = when.get("hours") or {}
    sla = rule.get("sla") or {}
    joined = {k: ", ".join(map(str, when[k])) for k in ("sources", "dids", "districts", "property_types",
                                                         "languages") if when.get(k)}
    return {
        "id": rule.get("id", ""), "name": rule.get("name", ""), "enabled": rule.get("enabled", True),
        "channels": when.get("channels") or [], "departments": when.get("departments") or [],
        "metro": when.get("metro") or [], "territories": when.get("territories") or [],
        "segments": when.get("segments") or [],
        "polygon": json.dumps(when["polygon"]) if when.get("polygon") else "",
        "deal_types": when.get("deal_types") or [], "price_min": _plain(when.get("price_min")),
        "price_max": _plain(when.get("price_max")),
        "hours_days": hours.get("days") or (list(WEEKDAYS) if hours else []),
        "hours_start": hours.get("start", ""), "hours_end": hours.get("end", ""),
        "hours_outside": hours.get("outside", False), "target_kind": kind,
        "target_agents": target.get("agents") or [], "target_teams": target.get("teams") or [],
        "target_departments": target.get("departments") or [], "target_pool": target.get("pool") or "department",
        "strategy": rule.get("strategy", "least_loaded"), "owner_first": rule.get("owner_first", True),
        "property_agent_first": rule.get("property_agent_first", False),
        "offer_seconds": rule.get("offer_seconds", 300), "spread_period": rule.get("spread_period", "day"),
        "on_no_agent": rule.get("on_no_agent", "next_rule"), "sla_accept_hours": sla.get("accept_within_hours"),
        "sla_idle_days": sla.get("max_idle_days"), **joined,
    }


def head_scope(form: RuleForm, department_id: int | None, agents_of_department: set[int]) -> dict[str, str]:
    """A department head may route only their department's inquiries to their own people or pools."""
    if department_id is None:
        return {"departments": "no_department"}
    problems: dict[str, str] = {}
    if form.departments != [department_id]:
        problems["departments"] = "own_department"
    if form.target_kind == "agents" and not set(form.target_agents) <= agents_of_department:
        problems["target_agents"] = "own_agents"
    if form.target_kind == "departments" and form.target_departments != [department_id]:
        problems["target_departments"] = "own_department"
    if form.target_kind == "teams":
        problems["target_kind"] = "no_teams"
    return problems


ERROR_TEXTS: Mapping[str, tuple[str, str]] = {
    **BASE_TEXTS,
    "rule_key": ("Латинские буквы, цифры, - _ . (до 100 знаков), без пробелов",
                 "Latin letters, digits, - _ . (up to 100), no spaces"),
    "rule_id_number": ("{value}: нужен номер из списка", "{value}: not a number"),
    "rule_channel": ("{value}: нет такого канала", "{value}: no such channel"),
    "rule_weekday": ("{value}: нет такого дня недели", "{value}: no such weekday"),
    "rule_clock": ("{value}: нужно время ЧЧ:ММ", "{value}: expected HH:MM"),
    "rule_strategy": ("{value}: нет такой стратегии", "{value}: no such strategy"),
    "rule_polygon_text": ("Нарисованная область не читается (ожидается GeoJSON)", "The drawn area is not readable"),
    "rule_polygon": ("Нарисованная область не годится: {why}", "The drawn area is not usable: {why}"),
    "rule_price_range": ("Цена «от» больше цены «до»", "The lowest price is above the highest"),
    "rule_hours_both": ("Укажите и начало, и конец часов", "Give both the start and the end of the hours"),
    "rule_hours_empty": ("Начало и конец часов совпадают", "The start and the end are the same"),
    "rule_target_empty": ("Выберите, кому правило отдаёт обращения", "Choose whom the rule gives inquiries to"),
    "rule_id_taken": ("Правило с таким кодом уже есть", "A rule with this id exists"),
    "literal_error": ("Выберите значение из списка", "Choose a value from the list"),
    "float_parsing": ("Нужно число", "A number is needed"),
    "greater_than": ("Больше {gt}", "Above {gt}"),
    "no_department": ("У вас не указан отдел", "You have no department"),
    "own_department": ("Только ваш отдел", "Only your department"),
    "own_agents": ("Только сотрудники вашего отдела", "Only your department's people"),
    "no_teams": ("Руководитель отдела выбирает сотрудников, отдел или аукцион", "Choose people, department or pool"),
}
_MODEL_LEVEL = {"rule_price_range": "price_min", "rule_hours_both": "hours_start", "rule_hours_empty": "hours_end",
                "rule_target_empty": "target_kind"}


def validate_rule_form(form: Mapping[str, Any], locale: str = "ru") -> tuple[RuleForm | None, dict[str, str]]:
    """(the form, {}) or (None, field → problem in the interface language)."""
    index = 1 if locale == "en" else 0
    try:
        return RuleForm.model_validate(dict(form)), {}
    except ValidationError as exc:
        out: dict[str, str] = {}
        for e in exc.errors(include_input=False, include_url=False):
            key = str(e["loc"][0]) if e["loc"] else _MODEL_LEVEL.get(e["type"], "form")
            pair = ERROR_TEXTS.get(e["type"])
            ctx = {k: f"{v:g}" if isinstance(v, float) else v for k, v in (e.get("ctx") or {}).items()}
            out.setdefault(key, pair[index].format(**ctx) if pair else e["msg"])
        return None, out


def error_text(code: str, locale: str = "ru") -> str:
    pair = ERROR_TEXTS.get(code)
    return (pair[1] if locale == "en" else pair[0]) if pair else code
