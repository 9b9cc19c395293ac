"""Which file column holds which client field: common Russian and English headers, or the user's mapping."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from crm_core.importer.reading import Cell
from crm_core.importer.report import ImportFileError

FIELDS = ("name", "last_name", "first_name", "middle_name", "phone", "email", "company", "note", "birthday",
          "segment", "consent_processing", "consent_recording", "consent_marketing", "skip")
KEY_FIELDS = ("phone", "email")
"""A file needs at least one of these: they are how clients are found and told apart."""

_ALIASES = {
    "name": ["фио", "ф и о", "имя клиента", "клиент", "контакт", "контактное лицо", "наименование клиента",
             "фамилия имя отчество", "полное имя", "name", "full name", "fullname", "client", "client name",
             "contact", "contact name"],
    "last_name": ["фамилия", "last name", "lastname", "surname", "family name"],
    "first_name": ["имя", "first name", "firstname", "given name"],
    "middle_name": ["отчество", "middle name", "patronymic"],
    "phone": ["телефон", "телефоны", "тел", "моб", "мобильный", "мобильный телефон", "моб тел", "сотовый",
              "номер телефона", "контактный телефон", "рабочий телефон", "phone", "phones", "tel", "telephone",
              "mobile", "mobile phone", "phone number", "cell"],
    "email": ["email", "e mail", "emails", "почта", "эл почта", "электронная почта", "емейл", "имейл", "mail",
              "e mail address", "email address", "адрес электронной почты"],
    "company": ["компания", "организация", "наименование", "фирма", "юр лицо", "юрлицо", "название компании",
                "контрагент", "company", "organization", "organisation", "company name"],
    "note": ["примечание", "примечания", "комментарий", "комментарии", "заметка", "заметки", "описание", "note",
             "notes", "comment", "comments", "description", "remark"],
    "birthday": ["день рождения", "дата рождения", "др", "д р", "birthday", "birth date", "date of birth", "dob",
                 "birthdate"],
    "segment": ["сегмент", "сегменты", "группа", "категория", "метки", "теги", "тег", "segment", "segments",
                "group", "category", "tags", "tag"],
    "skip": ["skip", "ignore", "пропустить", "-"],
    "consent_processing": ["согласие", "согласие на обработку", "согласие на обработку пд",
                           "согласие на обработку персональных данных", "consent", "processing consent"],
    "consent_recording": ["согласие на запись", "согласие на запись разговоров", "recording consent"],
    "consent_marketing": ["согласие на рассылку", "согласие на рекламу", "рассылка", "marketing consent",
                          "marketing"],
}
_CONSENT_WORDS = (("consent_marketing", ("рассыл", "реклам", "marketing")), ("consent_recording", ("запис", "record")),
                  ("consent_processing", ("обработ", "processing", "пд")))
_CONTAINS = (  # a header that merely contains one of these words (e.g. "Телефон 2", "E-mail рабочий")
    ("phone", ("телефон", "phone", "мобильн")),
    ("email", ("mail", "почт")),
    ("birthday", ("рожд", "birth")),
    ("company", ("компан", "организац", "company")),
    ("note", ("примеч", "коммент", "comment", "note")),
    ("segment", ("сегмент", "segment")),
    ("name", ("фио",)),
)


def norm_header(text: str) -> str:
    text = text.lower().replace("ё", "е").replace("\ufeff", "")
    return " ".join(re.sub(r"[\s._:*\-–—()\"'/№#]+", " ", text).split())


_BY_ALIAS = {norm_header(alias): fieldname for fieldname, aliases in _ALIASES.items() for alias in aliases}


def field_for_header(header: str) -> str | None:
    key = norm_header(header)
    if not key:
        return None
    if key in _BY_ALIAS:
        return _BY_ALIAS[key]
    if "соглас" in key or "consent" in key:  # «Согласие на рассылку (да/нет)» and the like
        return next((f for f, words in _CONSENT_WORDS if any(w in key for w in words)), "consent_processing")
    for fieldname, words in _CONTAINS:
        if any(word in key for word in words):
            return fieldname
    return None


def field_for_mapping(value: str) -> str:
    """A mapping's target: a field name (``phone``) or any header we know (``Телефон``)."""
    key = value.strip().lower()
    if key in FIELDS:
        return key
    found = _BY_ALIAS.get(norm_header(value))
    if found is None:
        raise ImportFileError(f"неизвестное поле «{value}» в сопоставлении столбцов; поля: {', '.join(FIELDS)}")
    return found


@dataclass(frozen=True, slots=True)
class Column:
    index: int
    header: str
    field: str


def header_text(cell: Cell) -> str:
    return cell.strip() if isinstance(cell, str) else ""


def _letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = string.ascii_uppercase[rem] + letters
    return letters


def resolve_columns(header: list[Cell], mapping: dict[str, str] | None) -> list[Column]:
    """The columns to read. ``mapping`` keys are headers as in the file (any case) or column letters (A, B…)."""
    names = [header_text(c) for c in header]
    fields: dict[int, str] = {}
    for i, name in enumerate(names):
        found = field_for_header(name)
        if found is not None:
            fields[i] = found
    for column, target in (mapping or {}).items():
        target_field = field_for_mapping(target)
        wanted = norm_header(column)
        matches = [i for i, name in enumerate(names) if norm_header(name) == wanted]
        if not matches and column.strip().isalpha() and column.strip().isascii():
            letter = column.strip().upper()
            matches = [i for i in range(len(names)) if _letter(i) == letter]
        if not matches:
            shown_names = ", ".join(f"«{n}»" for n in names if n) or "(пусто)"
            raise ImportFileError(f"в файле нет столбца «{column}»; есть: {shown_names}")
        for i in matches:
            fields[i] = target_field
    return [Column(i, names[i] or _letter(i), f) for i, f in sorted(fields.items()) if f != "skip"]


def score(columns: list[Column]) -> int:
    return len({c.field for c in columns})


def mapping_hits(header: list[Cell], mapping: dict[str, str] | None) -> int:
    wanted = {norm_header(k) for k in (mapping or {})}
    return sum(1 for c in header if norm_header(header_text(c)) in wanted)


def require_key_column(columns: list[Column], header: list[Cell]) -> None:
    if not any(c.field in KEY_FIELDS for c in columns):
        seen = ", ".join(f"«{header_text(c)}»" for c in header if header_text(c))[:300] or "(пусто)"
        raise ImportFileError(
            "не найден столбец с телефоном или email (по ним клиентов находят и не дублируют); "
            f"в заголовке: {seen}. Назовите столбцы «Телефон», «Email» или задайте сопоставление"
        )
