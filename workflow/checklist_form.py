"""The quality checklist's editor, row by row: each item a text and a weight; buttons add, move and remove rows
(the form shown again, unsaved). Pure: posted rows in, items and per-field error codes out."""

from __future__ import annotations

from collections.abc import Callable, Sequence

MAX_ITEMS = 50


def rows_from_form(getall: Callable[[str], Sequence[str]]) -> list[dict]:
    texts, weights = getall("item_text"), getall("item_weight")
    return [{"text": str(t).strip()[:300], "weight": str(weights[i] if i < len(weights) else "").strip()[:20]}
            for i, t in enumerate(texts[:MAX_ITEMS + 5])]


def apply_op(rows: list[dict], op: str) -> list[dict]:
    rows = [dict(r) for r in rows]
    name, _, arg = op.partition(":")
    i = int(arg) if arg.isdigit() else -1
    if name == "add" and len(rows) < MAX_ITEMS:
        rows.append({"text": "", "weight": "1"})
    elif name == "remove" and 0 <= i < len(rows):
        del rows[i]
    elif name == "up" and 0 < i < len(rows):
        rows[i - 1], rows[i] = rows[i], rows[i - 1]
    elif name == "down" and 0 <= i < len(rows) - 1:
        rows[i + 1], rows[i] = rows[i], rows[i + 1]
    return rows


def validate(rows: list[dict]) -> tuple[list[dict], dict[str, str]]:
    """Items as ``quality.parse_items`` gives them (keys by position); a row with neither text nor weight is
    dropped; errors keyed ``item_text-<i>``, ``item_weight-<i>``, ``items``."""
    items: list[dict] = []
    errors: dict[str, str] = {}
    for i, row in enumerate(rows):
        if not row["text"] and row["weight"] in ("", "1"):
            continue
        try:
            weight = float(row["weight"].replace(",", ".") or "1")
        except ValueError:
            weight = -1.0
        if not 0 < weight <= 100:
            errors[f"item_weight-{i}"] = "qc.err.weight"
        if not row["text"]:
            errors[f"item_text-{i}"] = "qc.err.text"
        items.append({"key": str(len(items) + 1), "text": row["text"], "weight": weight})
    if not items:
        errors["items"] = "qc.err.no_items"
    elif len(items) > MAX_ITEMS:
        errors["items"] = "qc.err.too_many"
    return items, errors
