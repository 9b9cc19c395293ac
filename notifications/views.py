"""The notification center's pages: the user's notices (unread count, mark read), their preferences (which
kinds by which channel) with the Telegram link code, a client's memorable dates, and the greeting
templates (administrators)."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import delete, func, select, update

from channels.telegram.service import issue_link_code
from crm_core.access import get_client
from crm_core.models import Contact, ContactKind, MemorableDate, Role, User, utcnow
from crm_core.models.agency import Deal
from crm_core.models.notifications import DateReminder, GreetingSent, GreetingTemplate, NoticeDelivery, Notification
from notifications.dates import KIND_RU, next_occurrence
from notifications.prefs import CHANNELS, KINDS, channels_for, load_prefs, save_prefs
from notifications.settings import NotificationSettings
from notifications.wiring import settings_of
from web.features import NavItem
from web.guard import allow
from web.i18n import add_texts
from web.keys import ACTOR, HUB, USER, sessions
from web.render import render

log = logging.getLogger("hub.web.notifications")
SCRIPTS = ["/static/notifications/notices.js"]
NAV = [
    NavItem("/notices", "notices.nav", order=90, group="work", pinned=True),
    NavItem("/admin/greetings", "greetings.nav", roles=frozenset({Role.ADMIN}), order=92, group="settings"),
]
DATE_KINDS = ("birthday", "deal_anniversary", "custom")
GREET_BY = ("", "telegram", "email")
PAGE = 100

add_texts({
    "notices.nav": ("Уведомления", "Notices"),
    "notices.title": ("Уведомления", "Notices"),
    "notices.unread": ("Непрочитанных", "Unread"),
    "notices.none": ("Уведомлений пока нет", "No notices yet"),
    "notices.read_all": ("Отметить все прочитанными", "Mark all read"),
    "notices.settings": ("Настройки уведомлений", "Notification settings"),
    "notices.open": ("Открыть", "Open"),
    "notices.kind.routing": ("Распределение", "Routing"),
    "notices.kind.sla": ("Сроки (SLA)", "Deadlines (SLA)"),
    "notices.kind.callback": ("Перезвоны", "Callbacks"),
    "notices.kind.dates": ("Памятные даты", "Memorable dates"),
    "notices.kind.analytics": ("Аналитика", "Analytics"),
    "notices.channel.browser": ("В браузере", "In the browser"),
    "notices.channel.telegram": ("В Telegram", "By Telegram"),
    "notices.channel.email": ("По e-mail", "By email"),
    "notices.prefs_title": ("Как получать уведомления", "How to get notices"),
    "notices.saved": ("Настройки сохранены", "Settings saved"),
    "notices.kind": ("Вид", "Kind"),
    "notices.tg_title": ("Мой Telegram", "My Telegram"),
    "notices.tg_linked": ("Чат Telegram привязан", "Telegram chat linked"),
    "notices.tg_not_linked": ("Telegram не привязан: уведомления туда не придут",
                              "Telegram not linked: no notices go there"),
    "notices.tg_get_code": ("Получить код привязки", "Get a link code"),
    "notices.tg_code": ("Отправьте боту сообщение", "Send the bot the message"),
    "notices.tg_code_valid": ("Код действует {minutes} мин. и только один раз.",
                              "The code is valid for {minutes} min and only once."),
    "notices.tg_unlink": ("Отвязать Telegram", "Unlink Telegram"),
    "notices.email_none": ("Email не указан в профиле: по e-mail уведомления не придут",
                           "No email in your profile: no notices by email"),
    "dates.title": ("Памятные даты", "Memorable dates"),
    "dates.client": ("Клиент", "Client"),
    "dates.none": ("Памятных дат пока нет", "No memorable dates yet"),
    "dates.kind": ("Вид", "Kind"),
    "dates.kind.birthday": ("День рождения", "Birthday"),
    "dates.kind.deal_anniversary": ("Годовщина сделки", "Deal anniversary"),
    "dates.kind.custom": ("Другая дата", "Other date"),
    "dates.date": ("Дата", "Date"),
    "dates.title_field": ("Название (для «другой даты»)", "Title (for “other date”)"),
    "dates.lead": ("Напомнить за, дней", "Remind days ahead"),
    "dates.repeat": ("Каждый год", "Every year"),
    "dates.greet": ("Поздравить клиента", "Greet the client"),
    "dates.greet.none": ("не поздравлять", "no greeting"),
    "dates.greet.telegram": ("в Telegram", "by Telegram"),
    "dates.greet.email": ("по e-mail", "by email"),
    "dates.template": ("Шаблон поздравления", "Greeting template"),
    "dates.template.default": ("стандартный", "default"),
    "dates.next": ("Ближайшая", "Next"),
    "dates.greeted": ("Поздравлен", "Greeted"),
    "dates.no_address": ("нет контакта для поздравления", "no contact to greet on"),
    "dates.greeting.queued": ("в очереди", "queued"),
    "dates.greeting.failed": ("не доставлено", "not delivered"),
    "dates.greeting.off": ("не отправлено: канал выключен", "not sent: the channel is off"),
    "dates.add": ("Добавить дату", "Add a date"),
    "dates.won_deals": ("Закрытые сделки без годовщины", "Won deals without an anniversary"),
    "dates.deal": ("Сделка", "Deal"),
    "dates.add_anniversary": ("Добавить годовщину", "Add the anniversary"),
    "dates.delete": ("Удалить", "Delete"),
    "dates.added": ("Дата добавлена", "Date added"),
    "dates.bad_date": ("Укажите дату в формате ГГГГ-ММ-ДД", "Give the date as YYYY-MM-DD"),
    "dates.bad_lead": ("От 0 до 60 дней", "From 0 to 60 days"),
    "dates.bad_title": ("Для другой даты нужно название", "An other date needs a title"),
    "dates.greet_hint": ("Поздравление уходит один раз в рабочее время в день даты (с выходного — в ближайшее "
                         "рабочее время).", "A greeting goes once, in working time on the day (from a day off: at "
                         "the next working time)."),
    "greetings.nav": ("Шаблоны поздравлений", "Greeting templates"),
    "greetings.title": ("Шаблоны поздравлений", "Greeting templates"),
    "greetings.name": ("Название", "Name"),
    "greetings.subject": ("Тема письма", "Email subject"),
    "greetings.body": ("Текст", "Text"),
    "greetings.active": ("Используется", "In use"),
    "greetings.hint": ("Подстановки: {name} — имя клиента, {title} — повод, {date} — дата, {agency} — агентство.",
                       "Placeholders: {name} client's name, {title} occasion, {date} date, {agency} agency."),
    "greetings.new": ("Новый шаблон", "New template"),
    "greetings.none": ("Шаблонов пока нет: поздравления идут стандартным текстом",
                       "No templates yet: greetings use the default text"),
    "greetings.saved": ("Шаблон сохранён", "Template saved"),
    "greetings.required": ("Нужны название и текст", "A name and a text are needed"),
    "timeline.greeting": ("Поздравление", "Greeting"),
})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/notices", notices_page)
    router.add_get("/notices/unread", unread_count)
    router.add_post("/notices/read", mark_read)
    router.add_get("/me/notifications", prefs_page)
    router.add_post("/me/notifications", save_prefs_form)
    router.add_post("/me/notifications/telegram-code", telegram_code)
    router.add_post("/me/notifications/telegram-unlink", telegram_unlink)
    router.add_get("/clients/{id:\\d+}/dates", dates_page)
    router.add_post("/clients/{id:\\d+}/dates", add_date)
    router.add_post("/clients/{id:\\d+}/dates/{date_id:\\d+}/delete", delete_date)
    router.add_get("/admin/greetings", greetings_page)
    router.add_post("/admin/greetings", save_greeting)


def _settings(request: web.Request) -> NotificationSettings:
    return settings_of(request.app[HUB])


async def _unread(request: web.Request) -> int:
    async with sessions(request)() as s:
        return (await s.execute(select(func.count()).select_from(Notification).where(
            Notification.user_id == request[USER].id, Notification.read_at.is_(None)))).scalar_one()


# notices ------------------------------------------------------------------------------------------------
@allow()
async def notices_page(request: web.Request) -> web.StreamResponse:
    async with sessions(request)() as s:
        rows = (await s.execute(select(Notification).where(Notification.user_id == request[USER].id)
                                .order_by(Notification.id.desc()).limit(PAGE))).scalars().all()
    return render(request, "notifications_list.html", {"notices": rows, "unread": await _unread(request)})


@allow()
async def unread_count(request: web.Request) -> web.StreamResponse:
    return web.json_response({"unread": await _unread(request)})


@allow()
async def mark_read(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    one = str(form.get("id") or "")
    stmt = update(Notification).where(Notification.user_id == request[USER].id, Notification.read_at.is_(None))
    if one.isdigit():
        stmt = stmt.where(Notification.id == int(one))
    async with sessions(request)() as s, s.begin():
        await s.execute(stmt.values(read_at=utcnow()).execution_options(synchronize_session=False))
    target = str(form.get("next") or "/notices")
    raise web.HTTPSeeOther(target if target.startswith("/") and not target.startswith("//") else "/notices")


# preferences ----------------------------------------------------------------------------------------------
async def _prefs_context(request: web.Request, **extra: object) -> dict:
    user_id = request[USER].id
    async with sessions(request)() as s:
        stored = (await load_prefs(s, [user_id])).get(user_id)
        user = await s.get(User, user_id)
    assert user is not None
    grid = {k: set(channels_for(stored, k)) for k in KINDS}
    return {"kinds": KINDS, "channels": CHANNELS, "grid": grid, "linked": bool(user.telegram_chat_id),
            "has_email": bool(user.email), "code": None, "minutes": _settings(request).link_code_ttl_s // 60,
            "notice": request.query.get("notice"), **extra}


@allow()
async def prefs_page(request: web.Request) -> web.StreamResponse:
    return render(request, "notifications_prefs.html", await _prefs_context(request))


@allow()
async def save_prefs_form(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    choice = {k: [c for c in CHANNELS if form.get(f"{k}.{c}")] for k in KINDS}
    async with sessions(request)() as s, s.begin():
        await save_prefs(s, request[USER].id, choice)
    raise web.HTTPSeeOther("/me/notifications?notice=saved")


@allow()
async def telegram_code(request: web.Request) -> web.StreamResponse:
    ttl = timedelta(seconds=_settings(request).link_code_ttl_s)
    code = await issue_link_code(sessions(request), request[USER].id, ttl)
    log.info("telegram link code issued for user=%s", request[USER].id)
    return render(request, "notifications_prefs.html", await _prefs_context(request, code=code))


@allow()
async def telegram_unlink(request: web.Request) -> web.StreamResponse:
    async with sessions(request)() as s, s.begin():
        await s.execute(update(User).where(User.id == request[USER].id).values(telegram_chat_id=None)
                        .execution_options(synchronize_session=False))
    raise web.HTTPSeeOther("/me/notifications")


# memorable dates ------------------------------------------------------------------------------------------
def channels_off(request: web.Request) -> set[str]:
    """The greeting channels with no sender (email switched off, no Telegram bot): nothing leaves on them."""
    hub = request.app[HUB]
    return ({"email"} if not hub.settings.email.enabled else set()) | \
        ({"telegram"} if "telegram" not in hub.connectors else set())


async def _greetings(request: web.Request, s, client_id: int) -> dict[int, tuple[date, str]]:  # noqa: ANN001
    """The last greeting of each of the client's dates and what became of it: sent, queued, failed, or off (its
    channel is switched off, so it never leaves)."""
    rows = (await s.execute(
        select(GreetingSent.id, GreetingSent.date_id, GreetingSent.occurrence, GreetingSent.channel)
        .join(MemorableDate, MemorableDate.id == GreetingSent.date_id)
        .where(MemorableDate.client_id == client_id).order_by(GreetingSent.occurrence))).all()
    sources = [f"greeting:{r.id}" for r in rows]
    status = dict((await s.execute(select(NoticeDelivery.source, NoticeDelivery.status)
                                   .where(NoticeDelivery.source.in_(sources)))).all()) if sources else {}
    off, out = channels_off(request), {}
    for r in rows:
        state = status.get(f"greeting:{r.id}", "queued")
        if state in ("queued", "retry", "sending"):
            state = "off" if r.channel in off else "queued"
        out[r.date_id] = (r.occurrence, "sent" if state == "sent" else state)
    return out


async def _dates_context(request: web.Request, client_id: int, **extra: object) -> dict:
    settings = _settings(request)
    today = utcnow().astimezone(ZoneInfo(request.app[HUB].settings.time_zone)).date()  # the agency's day
    async with sessions(request)() as s:
        client = await get_client(s, request[ACTOR], client_id)
        rows = (await s.execute(
            select(MemorableDate, DateReminder).outerjoin(DateReminder, DateReminder.date_id == MemorableDate.id)
            .where(MemorableDate.client_id == client_id).order_by(MemorableDate.month, MemorableDate.day))).all()
        greeted = await _greetings(request, s, client_id)
        kinds = set((await s.execute(select(Contact.kind).where(Contact.client_id == client_id))).scalars())
        templates = (await s.execute(select(GreetingTemplate).where(GreetingTemplate.is_active.is_(True))
                                     .order_by(GreetingTemplate.name))).scalars().all()
        won = (await s.execute(select(Deal.id, Deal.closed_at).where(
            Deal.client_id == client_id, Deal.status == "won", Deal.closed_at.is_not(None)).order_by(Deal.id))).all()
    reachable = {"telegram": ContactKind.TELEGRAM in kinds, "email": ContactKind.EMAIL in kinds}
    dates = []
    for d, r in rows:
        repeat = True if r is None else r.repeat_yearly
        dates.append({
            "id": d.id, "kind": d.kind, "on": d.on, "title": (r.title if r else None) or d.note,
            "lead": settings.default_lead_days if r is None else r.lead_days, "repeat": repeat,
            "greet_by": r.greet_by if r else None, "next": next_occurrence(d.on, repeat, today),
            "greeted": greeted.get(d.id, (None, None))[0], "greeting": greeted.get(d.id, (None, None))[1],
            "unreachable": bool(r and r.greet_by and not reachable.get(r.greet_by)),
        })
    zone = ZoneInfo(request.app[HUB].settings.time_zone)
    have = {(d["kind"], d["on"]) for d in dates}
    anniversaries = [{"deal_id": deal_id, "on": closed.astimezone(zone).date()} for deal_id, closed in won
                     if ("deal_anniversary", closed.astimezone(zone).date()) not in have]
    return {"client": client, "dates": dates, "anniversaries": anniversaries, "templates": templates,
            "date_kinds": DATE_KINDS, "greet_options": GREET_BY, "errors": {},
            "form": {"lead": str(settings.default_lead_days), "repeat": "1"},
            "notice": request.query.get("notice"), "kind_ru": KIND_RU, **extra}


@allow()
async def dates_page(request: web.Request) -> web.StreamResponse:
    return render(request, "notifications_dates.html", await _dates_context(request, int(request.match_info["id"])))


@allow()
async def add_date(request: web.Request) -> web.StreamResponse:
    client_id = int(request.match_info["id"])
    form = {k: str(v) for k, v in (await request.post()).items() if k != "_csrf"}
    errors: dict[str, str] = {}
    kind = form.get("kind") if form.get("kind") in DATE_KINDS else "custom"
    try:
        on = date.fromisoformat(form.get("on", "").strip())
    except ValueError:
        errors["on"] = "dates.bad_date"
        on = None
    lead_text = form.get("lead", "").strip() or str(_settings(request).default_lead_days)
    lead = int(lead_text) if lead_text.isdigit() else -1
    if not 0 <= lead <= 60:
        errors["lead"] = "dates.bad_lead"
    title = form.get("title", "").strip()[:200] or None
    if kind == "custom" and not title:
        errors["title"] = "dates.bad_title"
    greet_by = form.get("greet_by") if form.get("greet_by") in ("telegram", "email") else None
    template = form.get("template_id", "")
    async with sessions(request)() as s, s.begin():
        await get_client(s, request[ACTOR], client_id, write=True)
        if not errors and on is not None:
            template_id = None
            if template.isdigit() and await s.get(GreetingTemplate, int(template)) is not None:
                template_id = int(template)
            row = MemorableDate(client_id=client_id, kind=kind, on=on, month=on.month, day=on.day, note=title)
            s.add(row)
            await s.flush()
            s.add(DateReminder(date_id=row.id, title=title, lead_days=lead, repeat_yearly=bool(form.get("repeat")),
                               greet_by=greet_by, template_id=template_id))
    if errors:
        context = await _dates_context(request, client_id, errors=errors, form=form)
        return render(request, "notifications_dates.html", context, status=422)
    log.info("memorable date added client=%s kind=%s by user=%s", client_id, kind, request[USER].id)
    raise web.HTTPSeeOther(f"/clients/{client_id}/dates?notice=added")


@allow()
async def delete_date(request: web.Request) -> web.StreamResponse:
    client_id, date_id = int(request.match_info["id"]), int(request.match_info["date_id"])
    async with sessions(request)() as s, s.begin():
        await get_client(s, request[ACTOR], client_id, write=True)
        await s.execute(delete(MemorableDate).where(MemorableDate.id == date_id, MemorableDate.client_id == client_id))
    raise web.HTTPSeeOther(f"/clients/{client_id}/dates")


# greeting templates ------------------------------------------------------------------------------------
async def _greetings_context(request: web.Request, **extra: object) -> dict:
    async with sessions(request)() as s:
        rows = (await s.execute(select(GreetingTemplate).order_by(GreetingTemplate.id))).scalars().all()
    return {"templates": rows, "errors": {}, "form": {}, "notice": request.query.get("notice"), **extra}


@allow(Role.ADMIN)
async def greetings_page(request: web.Request) -> web.StreamResponse:
    return render(request, "notifications_greetings.html", await _greetings_context(request))


@allow(Role.ADMIN)
async def save_greeting(request: web.Request) -> web.StreamResponse:
    form = {k: str(v) for k, v in (await request.post()).items() if k != "_csrf"}
    name, body = form.get("name", "").strip()[:200], form.get("body", "").strip()[:4000]
    if not name or not body:
        context = await _greetings_context(request, errors={"form": "greetings.required"}, form=form)
        return render(request, "notifications_greetings.html", context, status=422)
    template_id = form.get("id", "")
    async with sessions(request)() as s, s.begin():
        row = await s.get(GreetingTemplate, int(template_id)) if template_id.isdigit() else None
        if row is None:
            row = GreetingTemplate(name=name, body=body)
            s.add(row)
        row.name, row.body = name, body
        row.subject = form.get("subject", "").strip()[:300]
        row.is_active = bool(form.get("is_active")) if template_id.isdigit() else True
    raise web.HTTPSeeOther("/admin/greetings?notice=saved")
