"""Role checks that every handler declares. A handler without a declaration is refused (fail closed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from crm_core.models import Role

H = TypeVar("H", bound=Callable)
EVERY_ROLE = frozenset(Role)


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
