"""/healthz (database and each connector) and /metrics (Prometheus text format)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from web.guard import db_free
from web.keys import HUB, SOCKETS


@db_free
async def healthz(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    db_ok = await hub.database.ping()
    connectors = hub.connector_states()
    healthy = db_ok and all(state in ("connected", "running", "disabled", "standby")
                            for state in connectors.values())
    starting = not hub.started.is_set()  # connectors still starting: forms and calls are not taken yet
    body = {
        "status": "degraded" if not db_ok else "starting" if starting else "ok" if healthy else "degraded",
        "instance": hub.instance,
        "leads": hub.leaders(),
        "database": {"state": hub.database.state, "error": hub.database.error},
        "connectors": connectors,
    }
    mail = getattr(hub, "mail", None)
    if mail is not None and mail.quarantined is not None:  # mail kept aside, waiting for an admin
        body["mail"] = {"quarantined": mail.quarantined, "system_mail": mail.system_waiting}
    calendar = getattr(hub.connectors.get("calendar"), "health", None)
    if calendar is not None:  # the official production calendar: the years it has, the needed years it lacks
        shown = calendar()
        body["calendar"] = shown
        if shown.get("note"):
            body["status_note"] = shown["note"]
    from ops.status import last_backup

    b = hub.settings.backup  # the last good backup; a warning past [backup] warn_after_hours (48 h)
    body["backup"] = last_backup(hub.var_dir, b.dir, b.warn_after_hours)
    # 200 only once the hub takes work: a proxy or a check that sends traffic on 200 must not reach a hub whose
    # form endpoint still answers "intake is stopped" (seen as forms refused right after a start under load)
    return web.json_response(body, status=200 if db_ok and not starting else 503)


def _registry(request: web.Request) -> CollectorRegistry:
    hub = request.app[HUB]
    reg = CollectorRegistry()
    Gauge("hub_database_up", "1 when the database answers", registry=reg).set(
        1 if hub.database.state == "up" else 0)
    Gauge("hub_websocket_connections", "Open browser sockets", registry=reg).set(request.app[SOCKETS].connections)
    Gauge("hub_websocket_frames_sent", "Frames sent to browsers", registry=reg).set(request.app[SOCKETS].sent)
    Gauge("hub_websocket_slow_dropped", "Sockets closed for being too slow", registry=reg).set(
        request.app[SOCKETS].dropped_slow)
    Gauge("hub_bus_events_published", "Events published on the bus", registry=reg).set(hub.bus.published)
    Gauge("hub_bus_handler_failures", "Bus handlers that raised", registry=reg).set(hub.bus.failures)
    leads = Gauge("hub_leader", "1 when this instance is the single consumer of a connector", ["connector"],
                  registry=reg)
    for name, leading in hub.leaders().items():
        leads.labels(name).set(1 if leading else 0)
    up = Gauge("hub_connector_up", "1 when a connector is connected", ["connector"], registry=reg)
    for name, state in hub.connector_states().items():
        up.labels(name).set(1 if state in ("connected", "running") else 0)
    return reg


@db_free
async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(_registry(request))
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
