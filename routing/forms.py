"""The administrator's forms for agents' routing profiles and duty rotas, validated with pydantic.

Each problem is reported for its field with an error ``type`` of its own (``routing_interval``,
``routing_language``, ...) and the values it needs in ``ctx``, so the page can say it in Russian or in
English (``field_errors``): the stored rows always come out of these models, never from raw form text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from routing.calendar import parse_intervals
from routing.duty import WEEKDAYS
from routing.model import CHANNELS, DEFAULT_CAPACITY

CHANNEL_ORDER = ("call", "telegram", "email", "webform", "visit", "manual", "vk", "whatsapp", "avito")
assert set(CHANNEL_ORDER) == CHANNELS
MAX_CAPACITY = 1000
LANGUAGE = re.compile(r"^[a-z]{2,3}$")
ROTA_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
OFF_WORDS = frozenset({"", "-", "—", "off", "выходной", "нет"})


def _blank_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


def parse_day(text: str) -> list[list[str]]:
    """"09:00-13:00, 14:00-18:00" → [["09:00", "13:00"], ["14:00", "18:00"]]; "20:00-08:00" runs past
    midnight; blank or "выходной"/"off" → [] (no duty that day)."""
    text = text.strip()
    if text.lower() in OFF_WORDS:
        return []
    out = []
    for part in re.split(r"[,;]\s*", text):
        bits = [b.strip() for b in re.split(r"\s*[-–—]\s*", part.strip())]
        if len(bits) != 2 or not all(bits):
            raise PydanticCustomError("routing_interval", "{value}: expected HH:MM-HH:MM", {"value": part.strip()})
        out.append(bits)
    try:
        parse_intervals([tuple(b) for b in out], overnight=True)  # type: ignore[misc]
    except ValueError as exc:
        kind = "routing_overlap" if "overlap" in str(exc) else "routing_interval"
        raise PydanticCustomError(kind, "{value}: " + str(exc), {"value": text}) from None
    return [[_clock(a), _clock(b)] for a, b in out]


def _clock(text: str) -> str:
    h, m = text.split(":")
    return f"{int(h):02d}:{int(m):02d}"


def day_text(intervals: list[list[str]] | None) -> str:
    return ", ".join(f"{a}-{b}" for a, b in intervals or [])


class ProfileForm(BaseModel):
    """An agent's routing profile: routable, capacity per channel, languages, the duty rota (by id)."""

    model_config = ConfigDict(extra="ignore")

    routable: bool = False
    cap_call: int = Field(DEFAULT_CAPACITY["call"], ge=0, le=MAX_CAPACITY)
    cap_telegram: int = Field(DEFAULT_CAPACITY["telegram"], ge=0, le=MAX_CAPACITY)
    cap_email: int = Field(DEFAULT_CAPACITY["email"], ge=0, le=MAX_CAPACITY)
    cap_webform: int = Field(DEFAULT_CAPACITY["webform"], ge=0, le=MAX_CAPACITY)
    cap_visit: int = Field(DEFAULT_CAPACITY["visit"], ge=0, le=MAX_CAPACITY)
    cap_manual: int = Field(DEFAULT_CAPACITY["manual"], ge=0, le=MAX_CAPACITY)
    cap_vk: int = Field(DEFAULT_CAPACITY["vk"], ge=0, le=MAX_CAPACITY)
    cap_whatsapp: int = Field(DEFAULT_CAPACITY["whatsapp"], ge=0, le=MAX_CAPACITY)
    cap_avito: int = Field(DEFAULT_CAPACITY["avito"], ge=0, le=MAX_CAPACITY)
    languages: list[str] = Field(default_factory=lambda: ["ru"])
    duty_schedule: str | None = None

    @field_validator("routable", mode="before")
    @classmethod
    def _checkbox(cls, v: object) -> object:
        return v in (True, "on", "1", "true", "yes")

    @field_validator("cap_call", "cap_telegram", "cap_email", "cap_webform", "cap_visit", "cap_manual",
                     "cap_vk", "cap_whatsapp", "cap_avito", "duty_schedule", mode="before")
    @classmethod
    def _blank(cls, v: object, info: ValidationInfo) -> object:
        v = _blank_none(v)
        if v is None and info.field_name and info.field_name.startswith("cap_"):
            return DEFAULT_CAPACITY[info.field_name[4:]]
        return v

    @field_validator("languages", mode="before")
    @classmethod
    def _languages(cls, v: object) -> object:
        if isinstance(v, str):
            v = [p.strip().lower() for p in re.split(r"[,\s]+", v) if p.strip()]
        if not v:
            raise PydanticCustomError("routing_languages_empty", "name at least one language")
        for code in v:
            if not isinstance(code, str) or not LANGUAGE.match(code):
                raise PydanticCustomError("routing_language", "{value}: a language is a code like ru or en",
                                          {"value": str(code)[:20]})
        return list(dict.fromkeys(v))

    @field_validator("duty_schedule")
    @classmethod
    def _known_rota(cls, v: str | None, info: ValidationInfo) -> str | None:
        known = (info.context or {}).get("rotas")
        if v is not None and known is not None and v not in known:
            raise PydanticCustomError("routing_unknown_rota", "{value}: no such duty schedule", {"value": v[:100]})
        return v

    @property
    def capacity(self) -> dict[str, int]:
        return {c: getattr(self, f"cap_{c}") for c in CHANNEL_ORDER}


class RotaForm(BaseModel):
    """A duty rota: weekly intervals per weekday, dated exceptions, holidays off."""

    model_config = ConfigDict(extra="ignore")

    id: str
    name: str = Field("", max_length=200)
    mon: list[list[str]] = []
    tue: list[list[str]] = []
    wed: list[list[str]] = []
    thu: list[list[str]] = []
    fri: list[list[str]] = []
    sat: list[list[str]] = []
    sun: list[list[str]] = []
    exceptions: dict[str, list[list[str]]] = {}
    holidays_off: bool = False
    department_id: int | None = None  # a department's rota counts in that department's time zone

    @field_validator("department_id", mode="before")
    @classmethod
    def _department(cls, v: object) -> object:
        return None if v in (None, "") else v

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, v: object) -> object:
        text = str(v or "").strip()
        if not ROTA_ID.match(text):
            raise PydanticCustomError("routing_rota_id", "use small latin letters, digits, - and _ (up to 100)")
        return text

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, v: object) -> object:
        return str(v or "").strip()

    @field_validator(*WEEKDAYS, mode="before")
    @classmethod
    def _day(cls, v: object) -> object:
        return parse_day(v) if isinstance(v, str) else v

    @field_validator("holidays_off", mode="before")
    @classmethod
    def _checkbox(cls, v: object) -> object:
        return v in (True, "on", "1", "true", "yes")

    @field_validator("exceptions", mode="before")
    @classmethod
    def _exceptions(cls, v: object) -> object:
        """One line per date: "2025-03-08: выходной" or "2025-12-31: 10:00-15:00"."""
        if not isinstance(v, str):
            return v
        out: dict[str, list[list[str]]] = {}
        for line in v.splitlines():
            line = line.strip()
            if not line:
                continue
            day_raw, sep, rest = line.partition(" ")
            day_raw = day_raw.rstrip(":")
            try:
                day = date.fromisoformat(day_raw)
            except ValueError:
                raise PydanticCustomError("routing_exception", "{value}: expected YYYY-MM-DD: intervals or off",
                                          {"value": line[:60]}) from None
            if day.isoformat() in out:
                raise PydanticCustomError("routing_exception_twice", "{value}: this date is given twice",
                                          {"value": day.isoformat()})
            out[day.isoformat()] = parse_day(rest.strip().lstrip(":").strip())
        return out

    @property
    def weekly(self) -> dict[str, list[list[str]]]:
        return {d: getattr(self, d) for d in WEEKDAYS if getattr(self, d)}


# The texts of the errors above and of pydantic's own that these forms can raise: (ru, en), formatted with ctx.
ERROR_TEXTS: Mapping[str, tuple[str, str]] = {
    "routing_interval": ("{value}: нужен интервал ЧЧ:ММ-ЧЧ:ММ", "{value}: expected HH:MM-HH:MM"),
    "routing_overlap": ("{value}: интервалы пересекаются", "{value}: the intervals overlap"),
    "routing_language": ("{value}: язык — код вроде ru или en", "{value}: a language is a code like ru or en"),
    "routing_languages_empty": ("Укажите хотя бы один язык", "Name at least one language"),
    "routing_unknown_rota": ("{value}: нет такого графика дежурств", "{value}: no such duty schedule"),
    "routing_rota_id": ("Строчные латинские буквы, цифры, - и _ (до 100)",
                        "Small latin letters, digits, - and _ (up to 100)"),
    "routing_exception": ("{value}: нужна строка «ГГГГ-ММ-ДД: интервалы» или «ГГГГ-ММ-ДД: выходной»",
                          "{value}: expected “YYYY-MM-DD: intervals” or “YYYY-MM-DD: off”"),
    "routing_exception_twice": ("{value}: дата указана дважды", "{value}: this date is given twice"),
    "int_parsing": ("Нужно целое число", "A whole number is needed"),
    "int_from_float": ("Нужно целое число", "A whole number is needed"),
    "greater_than_equal": ("Не меньше {ge}", "At least {ge}"),
    "less_than_equal": ("Не больше {le}", "At most {le}"),
    "string_too_long": ("Не длиннее {max_length} символов", "At most {max_length} characters"),
    "missing": ("Обязательное поле", "Required"),
}


def field_errors(exc: ValidationError, locale: str = "ru") -> dict[str, str]:
    """Field name → the first problem with it, in the interface language."""
    index = 1 if locale == "en" else 0
    out: dict[str, str] = {}
    for e in exc.errors(include_input=False, include_url=False):
        key = str(e["loc"][0]) if e["loc"] else "form"
        pair = ERROR_TEXTS.get(e["type"])
        text = pair[index].format(**(e.get("ctx") or {})) if pair else e["msg"]
        out.setdefault(key, text)
    return out


def validated(model: type[BaseModel], form: Mapping[str, Any], locale: str = "ru",
              context: dict[str, Any] | None = None) -> tuple[Any, dict[str, str]]:
    """(the model, {}) or (None, field → problem)."""
    try:
        return model.model_validate(dict(form), context=context), {}
    except ValidationError as exc:
        return None, field_errors(exc, locale)


