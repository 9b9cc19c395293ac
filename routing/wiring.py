"""``wire(hub)``: the routing service and the SLA scheduler; ``VIEWS``: the routing pages."""

from __future__ import annotations

from routing.calendar import WorkCalendar
from routing.calendar_files import XmlCalendar
from routing.calendar_service import CalendarKeeper
from routing.service import RoutingService
from routing.sla_scheduler import SlaScheduler

VIEWS = ("routing.views", "routing.views_agents", "routing.views_calendar", "routing.views_hours",
         "routing.views_editor", "routing.views_replay", "routing.views_places")


def wire(hub) -> tuple[RoutingService, SlaScheduler]:  # noqa: ANN001 - bootstrap.Hub (no import cycle)
    """Bootstrap's one call: the routing service (every instance routes what it takes in) and the SLA
    scheduler (on PostgreSQL under leadership, so one instance runs the chain). Both are started and
    stopped with the connectors, after the database is migrated."""
    from routing.settings import RoutingSettings

    settings = getattr(hub.settings, "routing", None) or RoutingSettings()
    work = WorkCalendar(settings.hours)
    if isinstance(work.calendar, XmlCalendar):  # the official calendar: its loaded years, the missing-year warning
        hub.connectors["calendar"] = CalendarKeeper(hub.database.sessions, work.calendar, zone=settings.hours.time_zone)
    routing = RoutingService(hub.database.sessions, hub.bus, work=work, sla=settings.sla,
                             directory_ttl_s=settings.directory_ttl_s)
    scheduler = SlaScheduler(hub.database.sessions, hub.bus, routing, poll_s=settings.sla_poll_s)
    if not settings.enabled:
        return routing, scheduler
    hub.connectors["routing"] = routing
    hub.intake.routing = routing  # a group of new inquiries is stored and routed in one transaction
    dsn = hub.pg_dsn
    if dsn is not None:
        from bus.leader import LedConnector

        hub.connectors["sla"] = LedConnector(scheduler, dsn, "hub:sla", hub.instance,
                                             **hub.settings.cluster.leader_timing)
    else:
        hub.connectors["sla"] = scheduler
    return routing, scheduler
