"""Request pipeline: security headers, routes (unknown path, wrong method, impossible id), database gate,
session and user, role guard, CSRF, error pages."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy import select

from crm_core.access import Forbidden, NotFound, actor_for
from crm_core.models import Department, User
from web import sessions as websessions
from web.guard import is_row_id, row_id
from web.i18n import add_texts, pick_locale, translator
from web.keys import ACTOR, HUB, LOCALE, SESSION, USER, ZONE, sessions

log = logging.getLogger("hub.web")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
OPEN_PREFIXES = ("/static/",)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)


add_texts({"error.method_not_allowed": ("Этот адрес не принимает такой запрос", "Method not allowed here")})


def wants_json(request: web.Request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _set_headers(exc)
        raise
    if not response.prepared:
        _set_headers(response)
    return response


def _set_headers(response: web.StreamResponse) -> None:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Permissions-Policy", "camera=(), geolocation=(), microphone=()")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if "Cache-Control" not in response.headers and response.content_type == "text/html":
        response.headers["Cache-Control"] = "no-store"


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Domain errors as HTTP: out of reach is 404 (never revealing that the id exists), no right is 403."""
    try:
        return await handler(request)
    except NotFound:
        return _error(request, 404, "error.not_found")
    except Forbidden:
        return _error(request, 403, "error.forbidden")


def _error(request: web.Request, status: int, key: str) -> web.Response:
    t = translator(request.get(LOCALE, "ru"))
    if wants_json(request):
        return web.json_response({"error": t(key)}, status=status)
    from web.render import render  # local: render imports this module's helpers

    return render(request, "error.html", {"status": status, "message": t(key)}, status=status)


@web.middleware
async def routes(request: web.Request, handler: Handler) -> web.StreamResponse:
    """What no handler serves, answered here for every route: an unknown path is 404, a known path with a
    method it does not take is 405 (with ``Allow``), and a row id no row can have (``web.guard.row_id``:
    not a number, 2^31 or more) is 404 — before the database, the session or a handler sees the request."""
    info = request.match_info
    failure = info.http_exception
    if failure is None and all(row_id(value) is not None for name, value in info.items() if is_row_id(name)):
        return await handler(request)
    request[LOCALE] = pick_locale(None, request.headers.get("Accept-Language"),
                                  request.app[HUB].settings.web.default_locale)
    if isinstance(failure, web.HTTPMethodNotAllowed):
        response = _error(request, 405, "error.method_not_allowed")
        response.headers["Allow"] = ", ".join(sorted(failure.allowed_methods))
        return response
    if failure is not None and failure.status != 404:
        raise failure
    return _error(request, 404, "error.not_found")


@web.middleware
async def database_gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """While the database is down only health, metrics and static files answer; the rest say 503."""
    info = request.match_info
    if request.app[HUB].database.ready.is_set() or getattr(info.handler, "db_free", False):
        return await handler(request)
    if request.path.startswith(OPEN_PREFIXES):
        return await handler(request)
    t = translator(pick_locale(None, request.headers.get("Accept-Language")))
    return web.json_response({"error": t("error.db_down")}, status=503, headers={"Retry-After": "5"})


@web.middleware
async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Load the session and user, enforce the handler's declared roles, check CSRF on every change."""
    target = request.match_info.handler
    is_public = getattr(target, "public", False) or request.path.startswith(OPEN_PREFIXES)
    if getattr(target, "db_free", False):
        return await handler(request)
    session = await websessions.load(sessions(request), request.cookies.get(websessions.COOKIE))
    request[SESSION] = session
    user = await _user(request, session.user_id if session else None)
    request[USER] = user
    request[LOCALE] = pick_locale(user.locale if user else None, request.headers.get("Accept-Language"),
                                    request.app[HUB].settings.web.default_locale)
    if not is_public:
        roles = getattr(target, "allowed_roles", None)
        if roles is None:
            log.error("handler %s declares no role check: refused", getattr(target, "__qualname__", target))
            raise web.HTTPForbidden()
        if user is None:
            if wants_json(request):
                return web.json_response({"error": "login required"}, status=401)
            raise web.HTTPSeeOther("/login")
        if user.role not in roles:
            return _error(request, 403, "error.forbidden")
    if request.method in UNSAFE and not getattr(target, "csrf_exempt", False):
        await _check_csrf(request, session)
    return await handler(request)


async def _user(request: web.Request, user_id: int | None) -> User | None:
    """The session's user and, in the same database session, the actor that access rules judge."""
    if user_id is None:
        return None
    async with sessions(request)() as s:
        user = await s.get(User, user_id)
        if user is None or not user.is_active:
            return None
        request[ACTOR] = await actor_for(s, user.id)
        if user.department_id is not None:
            zone = (await s.execute(select(Department.time_zone).where(Department.id == user.department_id))).scalar()
            if zone:
                request[ZONE] = zone
    return user


async def _check_csrf(request: web.Request, session: websessions.SessionInfo | None) -> None:
    sent = request.headers.get("X-CSRF-Token")
    if sent is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        sent = (await request.post()).get("_csrf")
    if session is None or not isinstance(sent, str) or not hmac.compare_digest(sent, session.csrf):
        log.warning("csrf check failed path=%s user=%s", request.path, session.user_id if session else None)
        raise _csrf_failure(request)


def _csrf_failure(request: web.Request) -> web.HTTPException:
    t = translator(request.get(LOCALE, "ru"))
    if wants_json(request):
        return web.HTTPForbidden(text='{"error": "csrf"}', content_type="application/json")
    return web.HTTPForbidden(text=t("error.csrf"))
