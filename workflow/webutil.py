"""Small helpers the workflow pages share."""

from __future__ import annotations

from aiohttp import web

from web.keys import HUB


def service(request: web.Request):  # noqa: ANN201 - workflow.service.WorkflowService
    """The running workflow service (wired by bootstrap; wired here on first use when a hub was built without it)."""
    hub = request.app[HUB]
    found = hub.connectors.get("workflow")
    if found is None:
        from workflow.wiring import wire

        found = wire(hub)
    return found


def int_param(value: object) -> int:
    text = str(value or "")
    if not text.isdigit() or len(text) > 12:
        raise web.HTTPNotFound()
    return int(text)


def optional_int(value: object) -> int | None:
    text = str(value or "").strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 12:
        raise web.HTTPBadRequest(text="a number was expected")
    return int(text)
