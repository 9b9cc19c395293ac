"""The sources report's money: each advertising source's cost over the period (from the monthly costs an admin
keeps on the «Источники звонков» page), spread over the report's rows by their inquiries.

A source's cost per inquiry is its cost over the period divided by all its inquiries in the period, the whole
agency's (a department's or an agent's report then shows the share its own inquiries account for, and the
same cost per inquiry); the cost per deal is a row's cost divided by its deals. No cost set: blank.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, exists, or_, select

from crm_core.models import Inquiry
from crm_core.models.agency import Deal


def deal_made() -> ColumnElement[bool]:
    """The inquiry's deal reached a positive funnel stage or was closed as won."""
    return exists(select(Deal.id).where(Deal.inquiry_id == Inquiry.id,
                                        or_(Deal.reached_positive_at.is_not(None), Deal.status == "won")))


def name_key(name: str | None) -> str:
    return (name or "").strip().casefold()


@dataclass(frozen=True, slots=True)
class Money:
    cost: float | None
    per_inquiry: float | None
    per_deal: float | None


def spread(rows: Sequence[tuple[str, int, int]], costs: Mapping[str, float], agency_counts: Mapping[str, int]
           ) -> list[Money]:
    """For each row (its source name, inquiries, deals): its part of the source's cost, the cost per inquiry
    and per deal. ``agency_counts``: every inquiry of each source in the period (by ``name_key``)."""
    by_key: dict[str, float] = {}
    for name, amount in costs.items():
        by_key[name_key(name)] = by_key.get(name_key(name), 0.0) + amount
    out = []
    for name, received, deals in rows:
        key = name_key(name)
        if not key or key not in by_key:
            out.append(Money(None, None, None))
            continue
        total = agency_counts.get(key, 0)
        per_inquiry = by_key[key] / total if total else None
        cost = by_key[key] if not total else per_inquiry * received  # type: ignore[operator]
        out.append(Money(round(cost, 2), None if per_inquiry is None else round(per_inquiry, 2),
                         round(cost / deals, 2) if deals else None))
    return out


def unused(costs: Mapping[str, float], names: Sequence[str]) -> list[tuple[str, float]]:
    """The sources that cost money in the period and brought no inquiry (names as the admin wrote them)."""
    seen = {name_key(n) for n in names}
    return sorted((name, round(amount, 2)) for name, amount in costs.items()
                  if amount > 0 and name_key(name) not in seen)
