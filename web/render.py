"""Server-rendered pages with Jinja2 (autoescape on: client text is always shown as text)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web

from web import labels
from web.features import capability_dirs, nav_items, page_scripts
from web.i18n import translator
from web.keys import JINJA, LOCALE, SESSION, USER, ZONE

TEMPLATES = Path(__file__).parent / "templates"


def make_env(time_zone: str = "Europe/Moscow", queue_names: dict[str, str] | None = None) -> jinja2.Environment:
    zone = ZoneInfo(time_zone)
    env = jinja2.Environment(
        # The shell's layout first, then each capability's own templates/ (names are prefixed by capability).
        loader=jinja2.FileSystemLoader([TEMPLATES, *(path for _, path in capability_dirs("templates"))]),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    zones: dict[str, ZoneInfo] = {time_zone: zone}

    def viewer(ctx: jinja2.runtime.Context) -> ZoneInfo:
        """The viewer's department's zone when it has its own, else the agency's."""
        name = ctx.get("viewer_zone") or time_zone
        found = zones.get(name)
        if found is None:
            found = zones[name] = ZoneInfo(name)
        return found

    @jinja2.pass_context
    def dt(ctx: jinja2.runtime.Context, v: Any) -> str:
        return v.astimezone(viewer(ctx)).strftime("%d.%m.%Y %H:%M") if v else "—"

    @jinja2.pass_context
    def local_input(ctx: jinja2.runtime.Context, v: Any) -> str:
        return v.astimezone(viewer(ctx)).strftime("%Y-%m-%dT%H:%M") if v else ""

    env.filters["dt"] = dt
    env.filters["local_input"] = local_input
    env.globals["agency_zone"] = time_zone
    env.filters.update(labels.FILTERS)  # codes and core notes in the reader's language
    env.globals["queue_names"] = dict(queue_names or {})
    return env


def render(request: web.Request, name: str, context: dict[str, Any], status: int = 200) -> web.Response:
    locale = request.get(LOCALE, "ru")
    session = request.get(SESSION)
    user = request.get(USER)
    page = request.app[JINJA].get_template(name).render(
        t=translator(locale), locale=locale, user=user,
        feature_nav=nav_items(user.role) if user else [],
        feature_scripts=page_scripts() if user else [],
        csrf=session.csrf if session else "", path=request.path, viewer_zone=request.get(ZONE),
        **context,
    )
    return web.Response(text=page, content_type="text/html", charset="utf-8", status=status)
