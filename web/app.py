"""The aiohttp application: routes, middlewares, and the hub's resources tied to the app's life."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

from aiohttp import web

from api.problems import problem_details
from bootstrap import Hub, start_hub, stop_hub, wire_web_pushes
from web import labels
from web.features import capability_dirs, features
from web.guard import csrf_exempt, db_free, public
from web.keys import HUB, JINJA, LIMITER, SOCKETS
from web.middleware import auth, database_gate, errors, routes, security_headers
from web.ratelimit import LoginLimiter
from web.render import make_env
from web.views import admin, api, health, imports, pages, ws
from web.views import auth as auth_views
from web.wshub import SocketHub

STATIC = Path(__file__).parent / "static"
MAX_BODY = 25 * 1024 * 1024


def create_app(hub: Hub) -> web.Application:
    app = web.Application(
        middlewares=[security_headers, problem_details, routes, database_gate, errors, auth], client_max_size=MAX_BODY
    )
    app[HUB] = hub
    app[JINJA] = make_env(hub.settings.time_zone, hub.settings.asterisk.queue_names)
    app[SOCKETS] = SocketHub(hub.settings.web.ws_queue_size)
    app[LIMITER] = LoginLimiter.for_hub(hub)  # shared by all instances (database or Redis) when several may run
    wire_web_pushes(hub, app[SOCKETS])
    if hub.telephony is not None:  # the pop-up names a queue as the pages do (settings, the queue names page)
        hub.telephony.queue_label = partial(labels.queue, names=hub.settings.asterisk.queue_names)  # type: ignore[attr-defined]
    app.cleanup_ctx.append(_hub_lifecycle)
    app.on_shutdown.append(_close_sockets)
    add_routes(app)
    for feature in features():  # a capability may wrap every request (privacy: the access log, hidden numbers)
        getattr(feature, "setup_app", lambda _app: None)(app)
    return app


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/", pages.home)
    r.add_get("/favicon.ico", favicon)
    r.add_get("/login", auth_views.login_page)
    r.add_post("/login", auth_views.login_submit)
    r.add_post("/logout", auth_views.logout)
    r.add_get("/inbox", pages.inbox)
    r.add_get("/inquiries/{id}", pages.inquiry_page)
    r.add_post("/inquiries/{id}/claim", pages.claim)
    r.add_post("/inquiries/{id}", pages.inquiry_update)
    r.add_post("/inquiries/{id}/reply", pages.inquiry_reply)
    r.add_get("/clients", pages.clients_page)
    r.add_get("/clients/{id}", pages.client_page)
    r.add_post("/clients/{id}", pages.client_update)
    r.add_post("/language", pages.set_language)
    r.add_get("/admin/users", admin.users_page)
    r.add_post("/admin/users", admin.users_create)
    r.add_post(r"/admin/users/{id:\d+}/served", admin.users_served)
    r.add_get("/admin/departments", admin.departments_page)
    r.add_post("/admin/departments", admin.departments_create)
    r.add_get("/admin/import", imports.import_page)
    r.add_post("/admin/import", imports.import_upload)
    r.add_get("/ws", ws.websocket)
    r.add_get("/healthz", health.healthz)
    r.add_get("/metrics", health.metrics)
    r.add_get("/api/openapi.json", api.openapi)
    for method, path, handler, *_ in api.ROUTES:
        r.add_route(method, path, handler)
    for feature in features():
        feature.add_routes(r)
    for package, folder in capability_dirs("static"):  # before /static/ itself: the longer prefix first
        r.add_static(f"/static/{package}/", folder, append_version=True)
    r.add_static("/static/", STATIC, append_version=True)
    for connector in app[HUB].connectors.values():
        for method, path, handler in getattr(connector, "routes", lambda: [])():
            r.add_route(method, path, _machine_endpoint(handler))


@db_free
async def favicon(request: web.Request) -> web.StreamResponse:
    """Browsers ask for /favicon.ico whatever the page links (base.html links the same SVG)."""
    return web.FileResponse(STATIC / "favicon.svg", headers={"Content-Type": "image/svg+xml",
                                                             "Cache-Control": "public, max-age=86400"})


def _machine_endpoint(handler):  # noqa: ANN001, ANN202
    """Connector endpoints are called by other machines: no login, no CSRF; they check their own input."""

    async def endpoint(request: web.Request) -> web.StreamResponse:
        return await handler(request)

    endpoint.__qualname__ = getattr(handler, "__qualname__", "endpoint")
    return csrf_exempt(public(endpoint))


async def _hub_lifecycle(app: web.Application) -> AsyncIterator[None]:
    """Start the hub (database with retries, connectors) as an owned task; stop it with the app."""
    hub = app[HUB]
    hub.tasks.spawn("hub-start", start_hub(hub))
    yield
    await stop_hub(hub)


async def _close_sockets(app: web.Application) -> None:
    await app[SOCKETS].close_all()
