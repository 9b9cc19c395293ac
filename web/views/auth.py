"""Login and logout. Sessions rotate on login. Failed logins are limited per (login, address) and only slowed
down per login alone (``web.ratelimit``): a right password from another address always gets in."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from aiohttp import web

from crm_core.users import authenticate
from web import sessions as websessions
from web.guard import allow, public
from web.i18n import add_texts, translator
from web.keys import HUB, LIMITER, LOCALE, SESSION, USER, sessions
from web.render import render

log = logging.getLogger("hub.web.auth")
add_texts({"login.slowed": ("После нескольких неудачных попыток вход в эту учётную запись замедлен.",
                            "After several failed attempts, logins to this account are slowed down.")})


def _set_cookie(request: web.Request, response: web.StreamResponse, info: websessions.SessionInfo,
                ttl: timedelta) -> None:
    response.set_cookie(
        websessions.COOKIE, info.token, max_age=int(ttl.total_seconds()), httponly=True, samesite="Lax",
        secure=request.app[HUB].settings.web.secure_cookies, path="/",
    )


async def _anonymous_session(request: web.Request) -> websessions.SessionInfo:
    session = request.get(SESSION)
    if session is None:
        session = await websessions.create(sessions(request), None, websessions.ANONYMOUS_TTL)
        request[SESSION] = session
    return session


@public
async def login_page(request: web.Request) -> web.StreamResponse:
    if request.get(USER) is not None:
        raise web.HTTPSeeOther("/inbox")
    session = await _anonymous_session(request)
    response = render(request, "login.html", {"error": None, "login": ""})
    _set_cookie(request, response, session, websessions.ANONYMOUS_TTL)
    return response


@public
async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    login = str(form.get("login", ""))[:100]
    password = str(form.get("password", ""))[:1000]
    limiter = request.app[LIMITER]
    ip = limiter.address(request)
    t = translator(request[LOCALE])
    wait = await limiter.check(ip, login)
    if wait:
        log.warning("login rate-limited ip=%s login=%r", ip, login)
        response = render(request, "login.html", {"error": t("login.too_many", seconds=wait), "login": login},
                          status=429)
        response.headers["Retry-After"] = str(wait)
        return response
    pause = await limiter.delay(login)
    if pause:  # before checking the password, right or wrong alike: the wait tells nothing
        log.info("login slowed down %.2fs ip=%s login=%r", pause, ip, login)
        await asyncio.sleep(pause)
    async with sessions(request)() as s:
        user = await authenticate(s, login, password)
    if user is None:
        await limiter.record_failure(ip, login)
        log.info("login failed ip=%s login=%r", ip, login)
        error = t("login.failed") + (" " + t("login.slowed") if pause else "")
        return render(request, "login.html", {"error": error, "login": login}, status=401)
    await limiter.record_success(ip, login)
    ttl = timedelta(hours=request.app[HUB].settings.web.session_hours)
    old = request.get(SESSION)
    info = await websessions.create(sessions(request), user.id, ttl, replaces=old.token if old else None)
    log.info("login user=%s ip=%s", user.id, ip)
    response = web.HTTPSeeOther("/inbox")
    _set_cookie(request, response, info, ttl)
    raise response


@allow()
async def logout(request: web.Request) -> web.StreamResponse:
    session = request.get(SESSION)
    if session is not None:
        await websessions.destroy(sessions(request), session.token)
    log.info("logout user=%s", request[USER].id)
    response = web.HTTPSeeOther("/login")
    response.del_cookie(websessions.COOKIE, path="/")
    raise response
