"""A routing rule set's problems in the admin's language: the code each ``RuleProblem`` carries
(``routing/rule_problems.py``) → a Russian text (English keeps the compiler's own message), the rule and the
field named as the editor names them. Used by the rule editor and the TOML import page."""

from __future__ import annotations

import re
from dataclasses import dataclass

from routing.rule_problems import RuleProblem
from web.i18n import add_texts, translator

add_texts({
    "ruleerr.value_error": ("недопустимое значение", "invalid value"),
    "ruleerr.missing": ("обязательное поле не заполнено", "a required field is missing"),
    "ruleerr.extra_forbidden": ("такого поля нет", "unknown field"),
    "ruleerr.int": ("нужно целое число", "a whole number is needed"),
    "ruleerr.float": ("нужно число", "a number is needed"),
    "ruleerr.bool": ("нужно true или false", "true or false is needed"),
    "ruleerr.string_type": ("нужна строка в кавычках", "a quoted string is needed"),
    "ruleerr.list_type": ("нужен список [..]", "a list [..] is needed"),
    "ruleerr.dict": ("нужна таблица { .. } с полями", "a table { .. } of fields is needed"),
    "ruleerr.literal_error": ("допустимые значения: {expected}", "allowed values: {expected}"),
    "ruleerr.greater_than": ("должно быть больше {gt}", "must be above {gt}"),
    "ruleerr.greater_than_equal": ("должно быть не меньше {ge}", "must be at least {ge}"),
    "ruleerr.less_than": ("должно быть меньше {lt}", "must be below {lt}"),
    "ruleerr.less_than_equal": ("должно быть не больше {le}", "must be at most {le}"),
    "ruleerr.string_too_short": ("слишком коротко: не меньше {min_length} симв.", "too short"),
    "ruleerr.string_too_long": ("слишком длинно: не больше {max_length} симв.", "too long"),
    "ruleerr.string_pattern_mismatch": ("пишется без пробелов", "no spaces"),
    "ruleerr.bad_time": ("«{value}»: нужно время ЧЧ:ММ, например 09:30", "{value}: a time HH:MM is needed"),
    "ruleerr.empty_interval": ("интервал пуст: начало и конец совпадают", "the interval is empty"),
    "ruleerr.no_weekday": ("укажите хотя бы один день недели (или не указывайте дни — тогда каждый день)",
                           "name at least one weekday"),
    "ruleerr.price_range": ("цена «от» ({min}) больше цены «до» ({max})", "price_min {min} is above price_max {max}"),
    "ruleerr.pool_and_people": ("кому — либо пул, либо агенты, команды и отделы, но не то и другое сразу",
                                "a target is either a pool or people, not both"),
    "ruleerr.nobody": ("не указано, кому: выберите агентов, команды, отделы, навыки, отдел обращения или пул",
                       "the target names nobody"),
    "ruleerr.unknown_ids": ("таких нет: {ids}", "unknown: {ids}"),
    "ruleerr.territory_twice": ("территория с таким кодом уже есть", "this territory id is used twice"),
    "ruleerr.rule_twice": ("правило с таким кодом уже есть", "this rule id is used twice"),
    "ruleerr.priority_overlap": ("приоритет {priority} уже занят правилом «{other}»; у каждого правила свой",
                                 "priority {priority} overlaps rule \"{other}\""),
    "ruleerr.unknown_territory": ("нет территории «{territory}» (есть: {known})", "unknown territory {territory}"),
    "ruleerr.unknown_territory_none": ("нет территории «{territory}» (территорий пока нет)",
                                       "unknown territory {territory}"),
    "ruleerr.empty_list": ("пустой список не подойдёт ни одному обращению; уберите условие, чтобы подходило любое",
                           "an empty list would match nothing"),
    "ruleerr.bad_zone": ("неизвестный часовой пояс «{zone}»", "unknown time zone {zone}"),
    "ruleerr.bad_polygon": ("контур не читается: {reason}", "bad polygon: {reason}"),
    "ruleerr.used_by": ("используется правилами {rules}", "used by rules {rules}"),
    "ruleerr.toml": ("текст не читается как TOML", "not valid TOML"),
    "ruleerr.toml_at": ("текст не читается как TOML: ошибка в строке {line}, позиция {column}",
                        "not valid TOML at line {line}, column {column}"),
    "ruleerr.file_too_big": ("файл больше 1 МБ", "the file is over 1 MB"),
    "ruleerr.not_utf8": ("файл не в кодировке UTF-8", "the file is not UTF-8 text"),
    "ruleerr.where.rule": ("правило №{n}", "rule {n}"), "ruleerr.where.territory": ("территория №{n}", "territory {n}"),
    "ruleerr.where.default": ("правило по умолчанию", "the default rule"),
    "ruleerr.where.named": ("правило «{name}»", "rule \"{name}\""),
})

# pydantic's error types that say the same thing in the admin's words
_SAME = {"int_parsing": "int", "int_type": "int", "int_from_float": "int", "float_parsing": "float",
         "float_type": "float", "bool_parsing": "bool", "bool_type": "bool", "dict_type": "dict", "model_type": "dict",
         "model_attributes_type": "dict", "bad_polygon": "bad_polygon"}
_FIELDS = {
    "id": "код (id)", "name": "название", "priority": "приоритет", "enabled": "включено", "target": "кому",
    "strategy": "способ распределения", "owner_first": "владелец первым",
    "property_agent_first": "агент объекта первым", "offer_seconds": "время на отклик, с",
    "on_no_agent": "если некому", "offer_on_timeout": "по истечении отклика", "spread_period": "период",
    "geojson": "контур", "time_zone": "часовой пояс", "file": "файл", "when": "условия", "when.channels": "каналы",
    "when.dids": "номера (DID)", "when.utm_sources": "метки utm_source", "when.sites": "сайты",
    "when.sources": "источники", "when.districts": "районы", "when.metro": "станции метро",
    "when.metro_lines": "линии метро", "when.territories": "территории", "when.polygon": "область на карте",
    "when.property_types": "типы объектов", "when.deal_types": "тип сделки", "when.price_min": "цена от",
    "when.price_max": "цена до", "when.languages": "языки", "when.skills": "навыки", "when.departments": "отделы",
    "when.segments": "сегменты клиентов", "when.hours": "время суток", "when.hours.start": "время: с",
    "when.hours.end": "время: до", "when.hours.days": "время: дни", "target.agents": "кому: агенты",
    "target.teams": "кому: команды", "target.departments": "кому: отделы", "target.skills": "кому: навыки",
    "target.pool": "кому: пул", "sla.accept_within_hours": "SLA: принять за, ч", "sla.max_idle_days": "SLA: без "
    "действий не дольше, дн.",
}
# the fields the rule editor's form shows a message beside (routing_editor_form.html); others go on top
EDITOR_FIELDS = frozenset({
    "channels", "deal_types", "departments", "dids", "districts", "hours_days", "hours_end", "hours_start", "id",
    "languages", "metro", "name", "offer_seconds", "polygon", "price_max", "price_min", "property_types", "segments",
    "sla_accept_hours", "sla_idle_days", "sources", "strategy", "target_agents", "target_departments", "target_kind",
    "target_teams", "territories"})
_POLYGON = [  # routing/territory.py's reasons
    (re.compile(r"^not a GeoJSON object"), "это не объект GeoJSON"),
    (re.compile(r"^the Feature has no geometry"), "у объекта Feature нет геометрии"),
    (re.compile(r"^geometry type (.+) is not Polygon or MultiPolygon"),
     r"тип геометрии \1 — не Polygon и не MultiPolygon"),
    (re.compile(r"^cannot read the coordinates"), "не удаётся прочитать координаты"),
    (re.compile(r"^the polygon is empty"), "контур пуст"),
    (re.compile(r"^invalid polygon: Ring Self-intersection(.*)"), r"контур пересекает сам себя\1"),
    (re.compile(r"^invalid polygon: Self-intersection(.*)"), r"контур пересекает сам себя\1"),
    (re.compile(r"^invalid polygon: Too few points(.*)"), r"в контуре слишком мало точек\1"),
    (re.compile(r"^invalid polygon: (.*)"), r"контур некорректен: \1"),
    (re.compile(r"^the polygon has no area"), "у контура нулевая площадь"),
    (re.compile(r"^coordinates are outside"), "координаты вне диапазона: долгота −180..180, широта −90..90 "
                                              "(в GeoJSON сначала долгота)"),
]
_UNCODED = [(re.compile(r"^not valid TOML"), "toml"), (re.compile(r"^the file is over"), "file_too_big"),
            (re.compile(r"^the file is not UTF-8"), "not_utf8")]
_WHERE = re.compile(r'^(rules|territories)\[(\d+)\](?: "(.*)")?$')


def problem_message(p: RuleProblem, locale: str) -> str:
    """The message alone, for the field it belongs to."""
    if locale == "en":
        return p.message
    t = translator(locale)
    args = dict(p.args)
    code = _SAME.get(p.code, p.code)
    if not code:
        code = next((c for pattern, c in _UNCODED if pattern.match(p.message)), "value_error")
    if code == "bad_polygon":
        detail = args.get("detail", "")
        reason = next((pattern.sub(ru, detail) for pattern, ru in _POLYGON if pattern.match(detail)), detail)
        text = t("ruleerr.bad_polygon", reason=reason)
        return f"{text} ({t('ruleerr.used_by', rules=args['rules'])})" if args.get("rules") else text
    if code == "unknown_territory" and not args.get("known"):
        code = "unknown_territory_none"
    key = f"ruleerr.{code}"
    try:
        text = t(key, **args)
    except (KeyError, IndexError):
        text = t(key)
    return text if text != key else t("ruleerr.value_error")


def problem_where(p: RuleProblem, locale: str) -> str:
    """'rules[3] "center-sale"' → «правило №4 «center-sale»»."""
    if not p.rule or locale == "en":
        return p.rule or ""
    t = translator(locale)
    if p.rule == "default":
        return t("ruleerr.where.default")
    m = _WHERE.match(p.rule)
    if m:
        where = t("ruleerr.where." + ("rule" if m[1] == "rules" else "territory"), n=int(m[2]) + 1)
        return f"{where} «{m[3]}»" if m[3] is not None else where
    return t("ruleerr.where.named", name=p.rule.strip('"'))


def field_label(field: str, locale: str) -> str:
    return field if locale == "en" else _FIELDS.get(field, field)


def problem_line(p: RuleProblem, locale: str) -> str:
    """One line for the top of a form: where, which field, what is wrong."""
    where = " ".join(part for part in (problem_where(p, locale), f"«{field_label(p.field, locale)}»"
                                       if p.field else "") if part)
    return f"{where}: {problem_message(p, locale)}" if where else problem_message(p, locale)


@dataclass(frozen=True, slots=True)
class Shown:
    """A problem as the TOML page lists it: ``rule`` and ``field`` as written (the page's data attributes),
    the rest in the admin's language."""

    rule: str | None
    field: str
    where: str
    label: str
    message: str


def shown(problems: list[RuleProblem], locale: str) -> list[Shown]:
    return [Shown(p.rule, p.field, problem_where(p, locale), field_label(p.field, locale) if p.field else "",
                  problem_message(p, locale)) for p in problems]

