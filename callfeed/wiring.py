"""``wire(hub)``: the call feed service on ``hub.connectors["callfeed"]``, listening to the PBX."""

from __future__ import annotations

from callfeed.service import CallFeedService
from callfeed.settings import CallFeedSettings

VIEWS = ("callfeed.views",)


def settings_of(hub) -> CallFeedSettings:  # noqa: ANN001 - bootstrap.Hub
    return getattr(hub.settings, "callfeed", None) or CallFeedSettings()


def wire(hub) -> None:  # noqa: ANN001 - bootstrap.Hub
    from selfservice.wiring import wire as wire_selfservice

    wire_selfservice(hub)  # the client self-service page rides along (issue 10: items 8 and 11)
    settings = settings_of(hub)
    if not settings.enabled:
        return
    service = CallFeedService(hub, settings)
    hub.connectors["callfeed"] = service
    if hub.telephony is not None:
        hub.telephony.add_listener(service.on_event, service.on_rebuilt)


def service_of(hub) -> CallFeedService | None:  # noqa: ANN001
    found = hub.connectors.get("callfeed")
    return found if isinstance(found, CallFeedService) else None
