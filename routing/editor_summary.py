"""A rule in words for the editor's list: its conditions, whom it gives inquiries to, and how it picks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from routing.hours import WEEKDAYS

Names = Mapping[str, Mapping[int, str]]


def _money(value: float) -> str:
    return f"{value:,.0f}".replace(",", "\u00a0")


def summary(rule: Mapping[str, Any], t: Callable[..., str], names: Names) -> dict[str, Any]:
    when = rule.get("when") or {}
    parts: list[str] = []
    for key in ("channels", "sources", "dids", "districts", "metro", "property_types", "languages", "segments"):
        if when.get(key):
            values = [t(f"channel.{v}") if key == "channels" else str(v) for v in when[key]]
            parts.append(f"{t('editor.' + key)}: {', '.join(values)}")
    if when.get("departments"):
        parts.append(f"{t('editor.departments')}: "
                     + ", ".join(names["departments"].get(d, f"№{d}") for d in when["departments"]))
    if when.get("territories") or when.get("polygon"):
        parts.append(t("editor.map"))
    if when.get("deal_types"):
        parts.append(f"{t('editor.deal_types')}: {', '.join(t('deal.' + d) for d in when['deal_types'])}")
    if when.get("price_min") is not None or when.get("price_max") is not None:
        low = f"{t('editor.price_min')} {_money(when['price_min'])}" if when.get("price_min") is not None else ""
        high = f"{t('editor.price_max')} {_money(when['price_max'])}" if when.get("price_max") is not None else ""
        parts.append(f"{t('editor.price')} {low} {high}".strip())
    if when.get("hours"):
        h = when["hours"]
        days = ", ".join(t("editor.day." + d) for d in h.get("days") or WEEKDAYS)
        parts.append(f"{t('editor.hours')}: {days} {h['start']}–{h['end']}"
                     + (f" ({t('editor.hours_outside')})" if h.get("outside") else ""))
    target = rule.get("target") or {}
    whom: list[str] = []
    for key, label in (("agents", "agents"), ("teams", "teams"), ("departments", "departments")):
        if target.get(key):
            whom.append(f"{t('editor.target.' + label)}: "
                        + ", ".join(names[key].get(i, f"№{i}") for i in target[key]))
    if target.get("inquiry_department"):
        whom.append(t("editor.target.inquiry_department"))
    if target.get("pool"):
        whom.append(t("editor.pool." + target["pool"]))
    strategy = t("editor.s." + rule.get("strategy", "least_loaded"))
    if rule.get("owner_first", True):
        strategy = f"{t('editor.owner_first_short')}, {t('editor.then')} {strategy}"
    if rule.get("property_agent_first"):
        strategy = f"{t('editor.property_agent_first_short')}, {strategy}"
    return {"when": parts, "target": "; ".join(whom) or "—", "strategy": strategy}
