"""Districts and metro stations offered by the rule editor: the shipped list until the administrator edits it,
shown on the map (the stations with coordinates) and edited as text, a line per place."""

from __future__ import annotations

from aiohttp import web

from crm_core.models import Role
from crm_core.models.routing import RoutingKV
from routing.places import (
    PLACES_KEY,
    districts_text,
    load_places,
    parse_districts,
    parse_stations,
    save_places,
    stations_text,
)
from routing.views import render
from routing.views_editor import with_tiles
from web.guard import allow
from web.i18n import translator
from web.keys import LOCALE, sessions


async def _page(request: web.Request, stations: str | None = None, districts: str | None = None,
                problems: list[str] | None = None, status: int = 200) -> web.Response:
    async with sessions(request)() as s:
        places = await load_places(s)
    return with_tiles(render(request, "routing_places.html", {
        "stations_text": stations if stations is not None else stations_text(places["stations"]),
        "districts_text": districts if districts is not None else districts_text(places["districts"]),
        "stations": [p for p in places["stations"] if p.get("lat") is not None],
        "counts": (len(places["stations"]), len(places["districts"])), "problems": problems or [],
        "notice": request.query.get("notice"),
    }, status=status))


@allow(Role.ADMIN)
async def places_page(request: web.Request) -> web.StreamResponse:
    return await _page(request)


@allow(Role.ADMIN)
async def places_save(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    if form.get("reset"):
        async with sessions(request)() as s, s.begin():
            row = await s.get(RoutingKV, PLACES_KEY)
            if row is not None:
                await s.delete(row)
        raise web.HTTPSeeOther("/admin/routing/places?notice=saved")
    stations_raw, districts_raw = str(form.get("stations", "")), str(form.get("districts", ""))
    stations, bad_stations = parse_stations(stations_raw)
    districts, bad_districts = parse_districts(districts_raw)
    if bad_stations or bad_districts:
        t = translator(request[LOCALE])
        problems = [f"{t('places.stations')}: {t('places.error.' + code, n=n)}" for n, code in bad_stations]
        problems += [f"{t('places.districts')}: {t('places.error.' + code, n=n)}" for n, code in bad_districts]
        return await _page(request, stations_raw, districts_raw, problems[:20], status=422)
    async with sessions(request)() as s, s.begin():
        await save_places(s, {"stations": stations, "districts": districts})
    raise web.HTTPSeeOther("/admin/routing/places?notice=saved")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/admin/routing/places", places_page)
    router.add_post("/admin/routing/places", places_save)
