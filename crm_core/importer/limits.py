"""Limits of the client import, and the one rule for cells a spreadsheet would run as formulas."""

from __future__ import annotations

MAX_FILE_BYTES = 20 * 1024 * 1024
"""Bigger files are refused whole (the web page reads at most one byte more than this)."""
MAX_FIELD_CHARS = 10_000
"""A longer cell rejects its row; its text is never copied out of the file."""
MAX_ROWS = 100_000
MAX_XLSX_UNPACKED_BYTES = 300 * 1024 * 1024
"""An XLSX is a zip: refuse one whose parts unpack to more than this (a zip bomb)."""
NAME_CHARS = 300  # Client.name / company_name columns
SEGMENT_CHARS = 200

FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r")
"""A cell starting with one of these is a formula to Excel/LibreOffice (CSV injection, ``=cmd|' /C calc'!A0``)."""


def csv_safe(value: object) -> str:
    """Text for a CSV cell that a spreadsheet shows and never executes: a formula lead gets a ``'`` before it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_LEAD) else text


def unescape_cell(text: str) -> str:
    """Undo ``csv_safe`` on the way back in, so an exported file re-imports to the same text."""
    if len(text) > 1 and text[0] == "'" and text[1:].startswith(FORMULA_LEAD):
        return text[1:]
    return text


def shown(text: str, limit: int = 40) -> str:
    """A cell's text quoted in an error message: one line, clipped."""
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"
