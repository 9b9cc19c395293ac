"""The client's own page ``/my``, opened by a one-time sign-in link, and the agent's «send the link» action.

Public pages (no staff login): ``GET /my/in/{token}`` shows a button only (mail scanners and link previews
that open the link do not use it up), ``POST /my/in`` redeems the link and opens a client session (cookie
``hub_my``, path ``/my``, HttpOnly, SameSite=Strict), ``GET /my`` shows that client's records only, ``POST
/my/out`` ends it. A bad, used or expired link gets one and the same answer; sign-in attempts are limited
per address. Everything is rendered by Jinja2 with autoescaping; the pages load no script.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from crm_core.access import get_client
from crm_core.models import Role
from selfservice import links
from selfservice.links import CHANNELS, LinkRefused
from selfservice.wiring import service_of
from web import sessions as websessions
from web.guard import allow, public
from web.i18n import add_texts, translator
from web.keys import ACTOR, HUB, JINJA, LOCALE, SESSION, USER, sessions

log = logging.getLogger("hub.web.selfservice")
COOKIE = "hub_my"
SENDERS = (Role.AGENT, Role.DEPT_MANAGER, Role.DEPT_HEAD, Role.ADMIN)

add_texts({
    "my.title": ("Личный кабинет", "My page"),
    "my.sign_in": ("Войти в личный кабинет", "Open my page"),
    "my.sign_in_help": ("Ссылка одноразовая: после входа она перестанет работать.",
                        "The link works once: after you sign in it stops working."),
    "my.bad_link": ("Ссылка недействительна или устарела. Запросите новую у агента или в нашем Telegram-боте.",
                    "This link is invalid or has expired. Ask your agent or our Telegram bot for a new one."),
    "my.signed_out": ("Вы вышли. Чтобы войти снова, запросите новую ссылку у агента или в Telegram-боте.",
                      "You have signed out. To come back, ask your agent or our Telegram bot for a new link."),
    "my.too_many": ("Слишком много попыток. Попробуйте через минуту.", "Too many attempts. Try again in a minute."),
    "my.hello": ("Здравствуйте, {name}!", "Hello, {name}!"),
    "my.inquiries": ("Ваши открытые обращения", "Your open requests"),
    "my.no_inquiries": ("Открытых обращений нет", "No open requests"),
    "my.viewings": ("Просмотры", "Viewings"),
    "my.no_viewings": ("Просмотров не запланировано", "No viewings planned"),
    "my.agent": ("Ваш агент", "Your agent"),
    "my.no_agent": ("Агент ещё не назначен — мы свяжемся с вами.", "No agent yet — we will contact you."),
    "my.agency_phone": ("Телефон агентства", "Agency phone"),
    "my.sign_out": ("Выйти", "Sign out"),
    "my.col.no": ("№", "No."),
    "my.col.subject": ("Тема", "Subject"),
    "my.col.status": ("Статус", "Status"),
    "my.col.since": ("Создано", "Created"),
    "my.col.next": ("Следующий шаг", "Next step"),
    "my.col.when": ("Когда", "When"),
    "my.col.address": ("Адрес", "Address"),
    "my.col.agent": ("Агент", "Agent"),
    "my.status.new": ("принято", "received"),
    "my.status.offered": ("передаётся агенту", "being assigned"),
    "my.status.in_work": ("в работе", "in progress"),
    "my.viewing.planned": ("запланирован", "planned"),
    "my.viewing.done": ("проведён", "done"),
    "my.send.label": ("Личный кабинет клиента", "Client's self-service page"),
    "my.send.button": ("Отправить ссылку в личный кабинет", "Send a link to the client's page"),
    "my.send.telegram": ("в Telegram", "by Telegram"),
    "my.send.email": ("на e-mail", "by email"),
    "my.send.sms": ("по СМС", "by SMS"),
    "my.send.sms_opted_out": ("Клиент отказался от СМС", "The client has opted out of SMS"),
    "my.send.sms_cap": ("Достигнут дневной лимит СМС", "The daily SMS cap is reached"),
    "my.send.no_inquiry": ("У клиента нет обращения, к которому привязать СМС",
                           "The client has no inquiry to keep the SMS on"),
    "my.send.sent": ("Ссылка отправлена ({channel}), действует {minutes} мин",
                     "Link sent ({channel}), valid {minutes} min"),
    "my.send.no_address": ("У клиента нет ни Telegram, ни e-mail, ни телефона",
                           "The client has no Telegram, email or phone"),
    "my.send.channel_off": ("Этот канал в хабе не подключён", "This channel is not connected in the hub"),
    "my.send.too_many": ("Слишком много ссылок за час", "Too many links within the hour"),
    "my.send.off": ("Личный кабинет выключен", "The self-service page is off"),
})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/my", my_page)
    router.add_get("/my/in/{token}", sign_in_page)
    router.add_post("/my/in", sign_in)
    router.add_post("/my/out", sign_out)
    router.add_get(r"/clients/{id:\d+}/selfservice-link", link_options)
    router.add_post(r"/clients/{id:\d+}/selfservice-link", send_link)


# --- the client's side (public) -------------------------------------------------------------------------

def _page(request: web.Request, name: str, context: dict[str, Any], status: int = 200) -> web.Response:
    """Rendered as nobody: a staff member's own session never shows on a client's page."""
    locale = request.get(LOCALE, "ru")
    session = request.get(SESSION)
    text = request.app[JINJA].get_template(name).render(
        t=translator(locale), locale=locale, user=None, feature_nav=[], feature_scripts=[],
        csrf=session.csrf if session else "", path=request.path, **context)
    response = web.Response(text=text, content_type="text/html", charset="utf-8", status=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _service(request: web.Request):  # noqa: ANN202
    service = service_of(request.app[HUB])
    if service is None:
        raise web.HTTPNotFound()
    return service


def _limited(request: web.Request) -> web.Response | None:
    if _service(request).allow(request.remote or "?"):
        return None
    response = _page(request, "selfservice_message.html", {"message_key": "my.too_many"}, status=429)
    response.headers["Retry-After"] = "60"
    return response


async def _anonymous(request: web.Request) -> websessions.SessionInfo:
    """A session for the CSRF token of the sign-in form (as the login page has), made when there is none."""
    session = request.get(SESSION)
    if session is None:
        session = await websessions.create(sessions(request), None, websessions.ANONYMOUS_TTL)
        request[SESSION] = session
    return session


@public
async def sign_in_page(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"][:100]
    if (limited := _limited(request)) is not None:
        return limited
    async with sessions(request)() as s:
        valid = await links.is_valid(s, token)
    if not valid:
        return _page(request, "selfservice_message.html", {"message_key": "my.bad_link"}, status=404)
    session = await _anonymous(request)
    response = _page(request, "selfservice_sign_in.html", {"token": token})
    response.set_cookie(websessions.COOKIE, session.token, max_age=int(websessions.ANONYMOUS_TTL.total_seconds()),
                        httponly=True, samesite="Lax", secure=request.app[HUB].settings.web.secure_cookies, path="/")
    return response


@public
async def sign_in(request: web.Request) -> web.StreamResponse:
    """Redeem the link (once) and open the client's page; the CSRF token was checked by the middleware."""
    if (limited := _limited(request)) is not None:
        return limited
    form = await request.post()
    token = str(form.get("token") or "")[:100]
    service = _service(request)
    async with sessions(request)() as s, s.begin():
        opened = await links.redeem(s, token, session_minutes=service.settings.session_minutes) if token else None
    if opened is None:
        log.info("self-service sign-in refused from %s", request.remote)
        return _page(request, "selfservice_message.html", {"message_key": "my.bad_link"}, status=404)
    sid, client_id = opened
    log.info("self-service sign-in client=%s", client_id)
    response = web.HTTPSeeOther("/my")
    response.set_cookie(COOKIE, sid, max_age=service.settings.session_minutes * 60, httponly=True,
                        samesite="Strict", secure=request.app[HUB].settings.web.secure_cookies, path="/my")
    raise response


@public
async def my_page(request: web.Request) -> web.StreamResponse:
    service = _service(request)
    async with sessions(request)() as s:
        client_id = await links.session_client(s, request.cookies.get(COOKIE))
        page = await links.my_page(s, client_id) if client_id is not None else None
    if page is None:
        return _page(request, "selfservice_message.html", {"message_key": "my.bad_link"}, status=401)
    await _anonymous(request)  # the sign-out form's CSRF token
    response = _page(request, "selfservice_page.html", {"p": page, "agency_phone": service.settings.agency_phone,
                                                        "agency_name": service.settings.agency_name})
    session = request[SESSION]
    if session is not None and request.cookies.get(websessions.COOKIE) != session.token:
        response.set_cookie(websessions.COOKIE, session.token, httponly=True, samesite="Lax", path="/",
                            max_age=int(websessions.ANONYMOUS_TTL.total_seconds()),
                            secure=request.app[HUB].settings.web.secure_cookies)
    return response


@public
async def sign_out(request: web.Request) -> web.StreamResponse:
    async with sessions(request)() as s, s.begin():
        await links.end_session(s, request.cookies.get(COOKIE))
    response = _page(request, "selfservice_message.html", {"message_key": "my.signed_out"})
    response.del_cookie(COOKIE, path="/my")
    return response


# --- the agent's side -----------------------------------------------------------------------------------

def _json(data: dict, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


@allow(*SENDERS)
async def link_options(request: web.Request) -> web.StreamResponse:
    """What the client card's «send the link» offers: the client's channels that the hub can send on."""
    t = translator(request.get(LOCALE, "ru"))
    service = service_of(request.app[HUB])
    client_id = int(request.match_info["id"])
    async with sessions(request)() as s:
        await get_client(s, request[ACTOR], client_id)
        have = [c for c in CHANNELS if await links.address_of(s, client_id, c)]
    on = service.channels_on() if service is not None else ()
    return _json({"label": t("my.send.label"), "button": t("my.send.button"),
                  "channels": [{"id": c, "label": t(f"my.send.{c}")} for c in have if c in on],
                  "note": "" if service is not None and any(c in on for c in have) else
                  t("my.send.off" if service is None else "my.send.no_address" if not have else "my.send.channel_off")})


@allow(*SENDERS)
async def send_link(request: web.Request) -> web.StreamResponse:
    """Send the client a sign-in link by Telegram or email (a client the agent may see)."""
    t = translator(request.get(LOCALE, "ru"))
    service = service_of(request.app[HUB])
    client_id = int(request.match_info["id"])
    form = await request.post()
    channel = str(form.get("channel") or "auto")
    if channel not in (*CHANNELS, "auto"):
        raise web.HTTPBadRequest(text="unknown channel")
    async with sessions(request)() as s:
        await get_client(s, request[ACTOR], client_id)
    if service is None:
        return _json({"ok": False, "message": t("my.send.off")}, status=409)
    try:
        used = await service.send_link(client_id, channel, requested_by=request[USER].id,
                                       base_url=f"{request.scheme}://{request.host}")
    except LinkRefused as exc:
        return _json({"ok": False, "message": t(f"my.send.{exc.reason}")}, status=409)
    return _json({"ok": True, "channel": used, "message": t(
        "my.send.sent", channel=t(f"my.send.{used}"), minutes=service.settings.link_minutes)})
