"""Territories drawn on the map: GeoJSON polygons, checked once, and a spatial index over all of them.

Coordinates are GeoJSON's (longitude, latitude). A point on a polygon's border belongs to it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry


def _shapely() -> Any:  # the shapely module, which has no type hints
    """shapely (with numpy under it, some 14 MB) loads with the first polygon: an agency that routes by
    districts and metro and draws no territory never holds it."""
    import shapely
    import shapely.geometry
    import shapely.validation

    return shapely


class BadPolygon(ValueError):
    """The GeoJSON is not a usable polygon; the message says what is wrong."""


def polygon_from_geojson(data: Mapping[str, Any]) -> BaseGeometry:
    """A Polygon or MultiPolygon from a GeoJSON geometry or Feature; raises BadPolygon with the reason."""
    if not isinstance(data, Mapping):
        raise BadPolygon("not a GeoJSON object")
    if data.get("type") == "Feature":
        data = data.get("geometry") or {}
        if not isinstance(data, Mapping):
            raise BadPolygon("the Feature has no geometry")
    kind = data.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        raise BadPolygon(f"geometry type {kind!r} is not Polygon or MultiPolygon")
    shapely = _shapely()
    try:
        geometry = shapely.geometry.shape(data)
    except (ValueError, TypeError, IndexError, KeyError, AttributeError, shapely.errors.GEOSException) as exc:
        raise BadPolygon(f"cannot read the coordinates: {exc}") from None
    if geometry.is_empty:
        raise BadPolygon("the polygon is empty")
    if not geometry.is_valid:
        raise BadPolygon(f"invalid polygon: {shapely.validation.explain_validity(geometry)}")
    if geometry.area == 0:
        raise BadPolygon("the polygon has no area")
    min_x, min_y, max_x, max_y = geometry.bounds
    if not (-180 <= min_x <= max_x <= 180 and -90 <= min_y <= max_y <= 90):
        raise BadPolygon("coordinates are outside longitude -180..180 / latitude -90..90 (GeoJSON is lon, lat)")
    return geometry


class TerritoryIndex:
    """Which polygons hold a point: ``containing(lon, lat)`` gives their indices.

    An STRtree over the polygons finds, once at compile time, the candidates for every cell of a grid laid
    over them; a cell the polygon fully covers needs no test at query time, a cell its border crosses is
    tested exactly with shapely. Same answers as asking every polygon (``intersects``), in about a
    microsecond instead of the tree query's ten.
    """

    def __init__(self, polygons: Sequence[BaseGeometry], cells_per_side: int | None = None) -> None:
        self.polygons = tuple(polygons)
        if cells_per_side is None:  # finer with more polygons: 32 for one, 256 from 50 on (half a second)
            cells_per_side = min(256, 32 * math.ceil(math.sqrt(len(self.polygons))))
        self.tree = None
        self._cells: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {}
        if not self.polygons:
            return
        shapely = _shapely()
        self._intersects_xy = shapely.intersects_xy
        for polygon in self.polygons:
            shapely.prepare(polygon)
        self.tree = shapely.STRtree(self.polygons)
        geometries = self.tree.geometries  # the polygons as shapely's array, for the vectorised calls
        x0, y0, x1, y1 = (float(v) for v in shapely.total_bounds(geometries))
        self._x0, self._y0 = x0, y0
        self._nx = self._ny = cells_per_side
        self._dx = (x1 - x0) / cells_per_side or 1.0
        self._dy = (y1 - y0) / cells_per_side or 1.0
        self._x1, self._y1 = x1, y1
        ix = [i for i in range(self._nx) for _ in range(self._ny)]
        iy = [j for _ in range(self._nx) for j in range(self._ny)]
        margin = 1e-9  # a point rounded into a neighbouring cell is still inside a cell's slightly larger box
        boxes = shapely.box([x0 + i * self._dx - margin for i in ix], [y0 + j * self._dy - margin for j in iy],
                            [x0 + (i + 1) * self._dx + margin for i in ix],
                            [y0 + (j + 1) * self._dy + margin for j in iy])
        cell_of, polygon_of = self.tree.query(boxes, predicate="intersects")
        covered = shapely.covers(geometries[polygon_of], boxes[cell_of])
        inside: dict[int, list[int]] = {}
        edge: dict[int, list[int]] = {}
        for cell, polygon, full in zip(cell_of.tolist(), polygon_of.tolist(), covered.tolist(), strict=True):
            key = ix[cell] * self._ny + iy[cell]
            (inside if full else edge).setdefault(key, []).append(polygon)
        for key in inside.keys() | edge.keys():
            self._cells[key] = (tuple(sorted(inside.get(key, ()))), tuple(sorted(edge.get(key, ()))))

    def containing(self, lon: float, lat: float) -> list[int]:
        if self.tree is None or not (self._x0 <= lon <= self._x1 and self._y0 <= lat <= self._y1):
            return []
        cx = min(int((lon - self._x0) / self._dx), self._nx - 1)
        cy = min(int((lat - self._y0) / self._dy), self._ny - 1)
        cell = self._cells.get(cx * self._ny + cy)
        if cell is None:
            return []
        inside, edge = cell
        if not edge:
            return list(inside)
        hits = [i for i in edge if self._intersects_xy(self.polygons[i], lon, lat)]
        return sorted(hits + list(inside)) if inside else hits

    def containing_by_tree(self, lon: float, lat: float) -> list[int]:
        """The same answer straight from the STRtree (the reference the grid is tested against)."""
        if self.tree is None:
            return []
        return sorted(self.tree.query(_shapely().Point(lon, lat), predicate="intersects").tolist())
