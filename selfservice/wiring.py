"""``wire(hub)``: the self-service on ``hub.connectors["selfservice"]`` (called from callfeed's wire)."""

from __future__ import annotations

from selfservice.service import SelfService
from selfservice.settings import SelfServiceSettings

VIEWS = ("selfservice.views",)


def settings_of(hub) -> SelfServiceSettings:  # noqa: ANN001 - bootstrap.Hub
    return getattr(hub.settings, "selfservice", None) or SelfServiceSettings()


def wire(hub) -> None:  # noqa: ANN001 - bootstrap.Hub
    settings = settings_of(hub)
    if settings.enabled:
        hub.connectors["selfservice"] = SelfService(hub, settings)


def service_of(hub) -> SelfService | None:  # noqa: ANN001
    found = hub.connectors.get("selfservice")
    return found if isinstance(found, SelfService) else None
