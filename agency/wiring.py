"""``wire(hub)``: a claimed owner lead hands its viewing task to the winner; ``VIEWS``: the agency's pages."""

from __future__ import annotations

from agency import deals

VIEWS = ("agency.views", "agency.views_properties")


def wire(hub) -> None:  # noqa: ANN001 - bootstrap.Hub
    deals.subscribe(hub.bus, hub.database.sessions)
