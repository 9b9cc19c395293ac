"""The capabilities that plug pages into the workspace, each from its own module in `web/feature_views/`.

A feature module has `add_routes(router)` and may list `NAV` items and `SCRIPTS` (static paths loaded
on every page for a logged-in user, e.g. "/static/notices.js"); its interface texts go to
`web.i18n.add_texts` when the module is imported. Adding a capability is adding its module.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from functools import cache
from types import ModuleType

import web.feature_views


@dataclass(frozen=True, slots=True)
class NavItem:
    """A link in the top bar, shown to the listed roles (empty: everybody logged in)."""

    href: str
    text_key: str
    roles: frozenset[str] = frozenset()
    order: int = 100

    def shown_to(self, role: str) -> bool:
        return not self.roles or role in self.roles


@cache
def features() -> tuple[ModuleType, ...]:
    """Found on first use, not at import: the feature modules themselves import the web helpers."""
    names = sorted(m.name for m in pkgutil.iter_modules(web.feature_views.__path__))
    return tuple(importlib.import_module(f"web.feature_views.{name}") for name in names)


def nav_items(role: str) -> list[NavItem]:
    items = [item for feature in features() for item in getattr(feature, "NAV", ())]
    return sorted((i for i in items if i.shown_to(role)), key=lambda i: (i.order, i.href))


def page_scripts() -> list[str]:
    """Scripts every workspace page loads (live features that listen for `hub:<kind>` pushes)."""
    return sorted({src for feature in features() for src in getattr(feature, "SCRIPTS", ())})
