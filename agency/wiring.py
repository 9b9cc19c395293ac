"""``wire(hub)``: a claimed owner lead hands its viewing task to the winner; ``VIEWS``: the agency's pages."""

from __future__ import annotations

from agency import cold_calls

VIEWS = ("agency.views_deals", "agency.views_inquiry", "agency.views_control", "agency.views_funnel",
         "agency.views_properties")


def wire(hub) -> None:  # noqa: ANN001 - bootstrap.Hub
    cold_calls.subscribe(hub.bus, hub.database.sessions)
