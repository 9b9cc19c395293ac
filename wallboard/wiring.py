"""``wire(hub)``: the wallboard service on the bus (and the PBX); ``VIEWS``: its pages."""

from __future__ import annotations

from bus.events import AgentStatusChanged, InquiryAssigned, Push
from wallboard.service import WallboardService
from wallboard.settings import WallboardSettings

VIEWS = ("wallboard.views",)


def wire(hub) -> None:  # noqa: ANN001 - bootstrap.Hub
    settings = getattr(hub.settings, "wallboard", None) or WallboardSettings()
    if not settings.enabled:
        return
    service = WallboardService(hub, settings)
    hub.connectors["wallboard"] = service
    hub.bus.subscribe(AgentStatusChanged, service.on_status)
    hub.bus.subscribe(InquiryAssigned, service.on_assigned)
    hub.bus.subscribe(Push, service.on_push)
    if hub.telephony is not None:
        hub.telephony.add_listener(service.on_event, service.on_rebuilt)
