"""Consents: purposes, sources and the client's current state (the latest grant or withdrawal wins)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

PURPOSES = ("processing", "recording", "marketing")
SOURCES = ("webform", "bot", "agent", "import", "api")
YES = frozenset({"1", "on", "yes", "true", "y", "да", "д", "+", "согласен", "согласна", "есть"})
NO = frozenset({"0", "off", "no", "false", "n", "нет", "н", "-", "отказ", "не согласен", "не согласна"})


@dataclass(frozen=True, slots=True)
class ConsentState:
    purpose: str
    granted: bool
    source: str
    at: datetime
    source_ref: str | None = None


def parse_flag(text: str | None) -> bool | None:
    """A checkbox's or a cell's yes/no; None when it says neither (an empty cell changes nothing)."""
    if text is None:
        return None
    key = str(text).strip().lower()
    if key in YES:
        return True
    if key in NO:
        return False
    return None


def current(rows: Iterable[ConsentState]) -> dict[str, ConsentState]:
    """The latest state per purpose."""
    out: dict[str, ConsentState] = {}
    for row in sorted(rows, key=lambda r: r.at):
        out[row.purpose] = row
    return out
