"""The first JSON API's routes (``/api/me``, ``/api/inquiries``, …), kept for the integrations that use them.

They are operations of the ``api`` capability now (``api/views_legacy.py``): tokens or a login, problem details,
and one document with ``/api/v1`` — served here at its old address ``/api/openapi.json`` too."""

from __future__ import annotations

from api.operations import endpoint
from api.views import openapi_json as openapi
from api.views_legacy import OPS

ROUTES = [(op.method, op.path, endpoint(op)) for op in OPS]

__all__ = ["ROUTES", "openapi"]
