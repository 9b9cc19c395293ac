"""Districts and metro stations the rule editor offers: the list the hub ships (``territory_data/``, with its
source and licence in MANIFEST.tsv) until an administrator edits it; the edited list is kept in ``routing_kv``.

A line of the editable text is ``город; станция; линия; широта; долгота`` (line and coordinates may be left
empty) for stations, ``город; район`` for districts. Bad lines are reported with their number, never stored.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import utcnow
from crm_core.models.routing import RoutingKV

PLACES_KEY = "places"
MAX_PLACES = 5000


@dataclass(frozen=True, slots=True)
class Station:
    city: str
    name: str
    line: str = ""
    lat: float | None = None
    lon: float | None = None


def _read(name: str) -> str:
    return resources.files("routing").joinpath("territory_data", name).read_text(encoding="utf-8")


def shipped() -> dict[str, list[dict[str, Any]]]:
    """The shipped list: stations (Moscow and Saint Petersburg) and districts."""
    stations = [{"city": r["city"], "name": r["name"], "line": r.get("line", ""),
                 "lat": float(r["lat"]) if r.get("lat") else None, "lon": float(r["lon"]) if r.get("lon") else None}
                for r in csv.DictReader(io.StringIO(_read("metro.csv")))]
    districts = [{"city": r["city"], "name": r["name"]} for r in csv.DictReader(io.StringIO(_read("districts.csv")))]
    return {"stations": stations, "districts": districts}


async def load_places(s: AsyncSession) -> dict[str, list[dict[str, Any]]]:
    row = await s.get(RoutingKV, PLACES_KEY)
    if row is not None and row.value.get("stations") is not None:
        return {"stations": list(row.value["stations"]), "districts": list(row.value.get("districts", []))}
    return shipped()


async def save_places(s: AsyncSession, places: dict[str, list[dict[str, Any]]]) -> None:
    row = await s.get(RoutingKV, PLACES_KEY)
    if row is None:
        s.add(RoutingKV(key=PLACES_KEY, value=dict(places), updated_at=utcnow()))
    else:
        row.value, row.updated_at = dict(places), utcnow()
    await s.flush()


def stations_text(stations: list[dict[str, Any]]) -> str:
    def coord(v: Any) -> str:
        return "" if v is None else f"{v:.6f}".rstrip("0").rstrip(".")
    return "\n".join(f"{s['city']}; {s['name']}; {s.get('line', '')}; {coord(s.get('lat'))}; {coord(s.get('lon'))}"
                     for s in stations)


def districts_text(districts: list[dict[str, Any]]) -> str:
    return "\n".join(f"{d['city']}; {d['name']}" for d in districts)


def parse_stations(text: str) -> tuple[list[dict[str, Any]], list[tuple[int, str]]]:
    """(stations, [(line number, problem code)]): codes ``fields``, ``coords``, ``too_many``."""
    out: list[dict[str, Any]] = []
    problems: list[tuple[int, str]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(";")]
        if len(parts) < 2 or not parts[0] or not parts[1] or len(parts) > 5:
            problems.append((n, "fields"))
            continue
        parts += [""] * (5 - len(parts))
        try:
            lat = float(parts[3].replace(",", ".")) if parts[3] else None
            lon = float(parts[4].replace(",", ".")) if parts[4] else None
        except ValueError:
            problems.append((n, "coords"))
            continue
        if (lat is None) != (lon is None) or (lat is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180)):  # type: ignore[operator]
            problems.append((n, "coords"))
            continue
        out.append({"city": parts[0][:100], "name": parts[1][:200], "line": parts[2][:200], "lat": lat, "lon": lon})
    if len(out) > MAX_PLACES:
        problems.append((0, "too_many"))
    return out, problems


def parse_districts(text: str) -> tuple[list[dict[str, Any]], list[tuple[int, str]]]:
    out: list[dict[str, Any]] = []
    problems: list[tuple[int, str]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(";")]
        if len(parts) != 2 or not all(parts):
            problems.append((n, "fields"))
            continue
        out.append({"city": parts[0][:100], "name": parts[1][:200]})
    if len(out) > MAX_PLACES:
        problems.append((0, "too_many"))
    return out, problems
