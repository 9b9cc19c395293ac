"""Role checks that every handler declares. A handler without a declaration is refused (fail closed).

Path parameters that name a database row (``{id}``, ``{…_id}``, ``{rec}``) are checked once for every route
(``web.middleware.routes``): anything but a number the id columns can hold answers 404 before a handler or
the database sees it, so a handler may take ``int(request.match_info["id"])`` as it is."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from crm_core.models import Role

H = TypeVar("H", bound=Callable)
EVERY_ROLE = frozenset(Role)
ROW_ID_NAMES = frozenset({"id", "rec"})
"""Path parameters that name a row, besides every name ending in ``_id``."""
ROW_ID_MAX = 2**31 - 1
"""The largest id there can be: the models' ids are SQLAlchemy ``Integer``, PostgreSQL's 4-byte integer
(SQLite's holds more, but a larger id is never issued on either)."""


def is_row_id(name: str) -> bool:
    return name in ROW_ID_NAMES or name.endswith("_id")


def row_id(value: str) -> int | None:
    """The id a path parameter names, or None when no row can have it (not ASCII digits, beyond the range)."""
    if not value or len(value) > 10 or not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    return number if number <= ROW_ID_MAX else None


def allow(*roles: Role) -> Callable[[H], H]:
    """Let logged-in users with these roles in (every role when none is named)."""

    def mark(handler: H) -> H:
        handler.allowed_roles = frozenset(roles) or EVERY_ROLE  # type: ignore[attr-defined]
        return handler

    return mark


def public(handler: H) -> H:
    """No login needed (login page, health, the OpenAPI document, public intake endpoints)."""
    handler.public = True  # type: ignore[attr-defined]
    return handler


def csrf_exempt(handler: H) -> H:
    """Machine-to-machine endpoints that check their own credentials instead (webhooks, public forms)."""
    handler.csrf_exempt = True  # type: ignore[attr-defined]
    return handler


def db_free(handler: H) -> H:
    """Public and answering even while the database is down (health, metrics)."""
    handler.public = True  # type: ignore[attr-defined]
    handler.db_free = True  # type: ignore[attr-defined]
    return handler
