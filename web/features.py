"""The capabilities that plug pages into the workspace, each from its own package.

A capability's ``wiring.py`` names its page modules in ``VIEWS`` (``"wallboard.views"``, …). A page module
has ``add_routes(router)`` and may list ``NAV`` items and ``SCRIPTS`` (static paths loaded on every page for
a logged-in user, e.g. "/static/notifications/notices.js"); its interface texts go to
``web.i18n.add_texts`` when the module is imported. A capability's templates live in its ``templates/``
folder and its static files in ``static/``, served under ``/static/<capability>/``. Adding a capability
is adding its package to ``PAGES`` below (``bootstrap.CAPABILITIES`` says which are wired, and in what order).
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

# Packages with pages of their own, each through `<package>.wiring.VIEWS`.
PAGES = ("telephony", "routing", "speech", "agency", "reports", "wallboard", "callfeed", "notifications",
         "workflow", "selfservice", "channels.email", "channels.messaging", "privacy", "webhooks", "api", "ops")
# The shell's own pages that plug in the same way (the agent's state switch and the search box in the top bar).
SHELL_VIEWS = ("web.views.agent_status", "web.views.search", "web.views.settings_log")


# The top bar's menus, in this order; every NavItem names one (``nav.group.<name>`` is its title).
GROUPS = ("work", "clients", "calls", "team", "reports", "settings")


@dataclass(frozen=True, slots=True)
class NavItem:
    """A link in one of the top bar's menus (``group``), shown to the listed roles (empty: everybody logged in)."""

    href: str
    text_key: str
    roles: frozenset[str] = frozenset()
    order: int = 100
    group: str = "work"
    also: tuple[str, ...] = ()  # other addresses that belong to this item (highlighted as the current place)
    pinned: bool = False  # shown in the top bar itself as an icon, not in its menu (the notices and their count)

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise ValueError(f"nav item {self.href}: group {self.group!r} is not one of {GROUPS}")

    def shown_to(self, role: str) -> bool:
        return not self.roles or role in self.roles


_ADMIN = frozenset({"admin"})
# The shell's own pages (web/views): the inquiries, the clients, the administrator's users, departments, import.
CORE_NAV = (
    NavItem("/inbox", "nav.inbox", order=10, group="work"),
    NavItem("/clients", "nav.clients", order=10, group="clients"),
    NavItem("/admin/users", "nav.users", _ADMIN, order=10, group="team"),
    NavItem("/admin/departments", "nav.departments", _ADMIN, order=11, group="team"),
    NavItem("/admin/import", "nav.import", _ADMIN, order=20, group="clients"),
)


def package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def capability_dirs(folder: str) -> list[tuple[str, Path]]:
    """Each page-owning capability's `templates` or `static` folder that exists: (capability, path)."""
    found = []
    for package in PAGES:
        root = package_dir(package)
        if root is not None and (root / folder).is_dir():
            found.append((package, root / folder))
    return found


@cache
def features() -> tuple[ModuleType, ...]:
    """Found on first use, not at import: the page modules themselves import the web helpers."""
    names = list(SHELL_VIEWS)
    for package in PAGES:
        if importlib.util.find_spec(package) is None:
            continue
        names.extend(getattr(importlib.import_module(f"{package}.wiring"), "VIEWS", ()))
    return tuple(importlib.import_module(name) for name in names)


def nav_items(role: str) -> list[NavItem]:
    items = [*CORE_NAV, *(item for feature in features() for item in getattr(feature, "NAV", ()))]
    return sorted((i for i in items if i.shown_to(role)), key=lambda i: (i.order, i.href))



def page_scripts() -> list[str]:
    """Scripts every workspace page loads (live features that listen for `hub:<kind>` pushes)."""
    return sorted({src for feature in features() for src in getattr(feature, "SCRIPTS", ())})
