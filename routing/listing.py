"""The listing a web form was sent from, as routing facts: a property page on the agency's site sends its price,
coordinates, district, metro, deal and property type with the form (connectors/webforms), the intake keeps them
in the first message's ``meta["listing"]``, and an inquiry without a linked property is judged by them.

Pure: anything malformed is left out (the condition then does not match), never raised.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def _number(value: Any, low: float, high: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and low <= number <= high else None


def _text(value: Any, limit: int) -> str | None:
    return value.strip()[:limit] or None if isinstance(value, str) else None


def listing_facts(meta: Mapping[str, Any]) -> dict[str, Any]:
    """``InquiryFacts`` fields from ``meta["listing"]`` (only those present and well-formed)."""
    listing = meta.get("listing") if isinstance(meta, Mapping) else None
    if not isinstance(listing, Mapping):
        return {}
    out: dict[str, Any] = {}
    lat, lon = _number(listing.get("lat"), -90, 90), _number(listing.get("lon"), -180, 180)
    if lat is not None and lon is not None:
        out["lat"], out["lon"] = lat, lon
    price = _number(listing.get("price"), 0, 1e13)
    if price is not None:
        out["price"] = price
    for key, limit in (("district", 200), ("metro", 200), ("property_type", 100)):
        text = _text(listing.get(key), limit)
        if text is not None:
            out[key] = text
    if listing.get("deal_type") in ("sale", "rent"):
        out["deal_type"] = listing["deal_type"]
    return out
