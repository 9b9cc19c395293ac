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
from web.keys import JINJA, LOCALE, SESSION, USER

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
    env.filters["dt"] = lambda v: v.astimezone(zone).strftime("%d.%m.%Y %H:%M") if v else "—"
    env.filters["local_input"] = lambda v: v.astimezone(zone).strftime("%Y-%m-%dT%H:%M") if v else ""
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
        csrf=session.csrf if session else "", path=request.path, **context,
    )
    return web.Response(text=page, content_type="text/html", charset="utf-8", status=status)
