"""The capabilities that plug pages into the workspace, each from its own module.

A feature module has `add_routes(router)` and may list `NAV` items; its interface texts go to
`web.i18n.add_texts` when the module is imported. Adding a capability is one line here.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True, slots=True)
class NavItem:
    """A link in the top bar, shown to the listed roles (empty: everybody logged in)."""

    href: str
    text_key: str
    roles: frozenset[str] = frozenset()
    order: int = 100

    def shown_to(self, role: str) -> bool:
        return not self.roles or role in self.roles


FEATURES: tuple[ModuleType, ...] = ()


def nav_items(role: str) -> list[NavItem]:
    items = [item for feature in FEATURES for item in getattr(feature, "NAV", ())]
    return sorted((i for i in items if i.shown_to(role)), key=lambda i: (i.order, i.href))
