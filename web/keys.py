"""Typed slots in the aiohttp application (web.AppKey) for everything handlers reach."""

from __future__ import annotations

from typing import TYPE_CHECKING

import jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

if TYPE_CHECKING:
    from bootstrap import Hub
    from crm_core.access import Actor
    from crm_core.models import User
    from web.ratelimit import LoginLimiter
    from web.sessions import SessionInfo
    from web.wshub import SocketHub

HUB: web.AppKey[Hub] = web.AppKey("hub")
JINJA: web.AppKey[jinja2.Environment] = web.AppKey("jinja", jinja2.Environment)
SOCKETS: web.AppKey[SocketHub] = web.AppKey("sockets")
LIMITER: web.AppKey[LoginLimiter] = web.AppKey("login_limiter")

USER: web.RequestKey[User | None] = web.RequestKey("user")
ACTOR: web.RequestKey[Actor] = web.RequestKey("actor")
SESSION: web.RequestKey[SessionInfo | None] = web.RequestKey("session")
LOCALE: web.RequestKey[str] = web.RequestKey("locale", str)
# the time zone of the viewer's department when it has its own (an office in another city), else absent
ZONE: web.RequestKey[str] = web.RequestKey("zone", str)


def sessions(request: web.Request) -> async_sessionmaker[AsyncSession]:
    return request.app[HUB].database.sessions


def viewer_zone(request: web.Request) -> str:
    """The zone the viewer reads and writes times in: their department's own, else the agency's."""
    return request.get(ZONE) or request.app[HUB].settings.time_zone
