"""The clients' SMS: the log of SMS sent to clients (what, to whom, why, delivered or not, and what SMS.ru
charged for each, in roubles), and the client card's SMS opt-out switch (written through
``channels.sms.service.set_opt_out``: a line in the client's history with who changed it)."""

from __future__ import annotations

import logging
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select

from channels.sms.service import opted_out, set_opt_out
from crm_core.access import get_client, inquiry_scope
from crm_core.models import Channel, Client, Inquiry, Message, utcnow
from web.features import NavItem
from web.guard import allow
from web.i18n import add_texts
from web.keys import ACTOR, HUB, LOCALE, sessions
from web.render import render

log = logging.getLogger("hub.web.sms")
NAV = [NavItem("/notices/sms", "sms.nav", order=91, group="work")]
PAGE = 200
KIND_KEYS = ("reminder", "callback", "link")

add_texts({
    "sms.nav": ("Журнал СМС", "SMS log"),
    "sms.title": ("Журнал СМС клиентам", "SMS to clients"),
    "sms.none": ("СМС ещё не отправлялись", "No SMS sent yet"),
    "sms.col.when": ("Когда", "When"),
    "sms.col.client": ("Клиент", "Client"),
    "sms.col.phone": ("Телефон", "Phone"),
    "sms.col.kind": ("Повод", "Reason"),
    "sms.col.text": ("Текст", "Text"),
    "sms.col.state": ("Доставка", "Delivery"),
    "sms.col.cost": ("Стоимость", "Cost"),
    "sms.kind.reminder": ("напоминание о просмотре", "viewing reminder"),
    "sms.kind.callback": ("перезвон", "callback"),
    "sms.kind.link": ("ссылка в личный кабинет", "self-service link"),
    "sms.kind.other": ("другое", "other"),
    "sms.cost_unknown": ("ещё не известна", "not known yet"),
    "sms.total": ("Итого за показанные СМС", "Total for the SMS shown"),
    "sms.month": ("С начала месяца", "Since the start of the month"),
    "sms.rub": ("{value} ₽", "RUB {value}"),
    "sms.optout.title": ("СМС клиенту", "SMS to the client"),
    "sms.optout.on": ("Клиент отказался от СМС: напоминания и ссылки по СМС ему не уходят",
                      "The client opted out of SMS: no reminders or links by SMS"),
    "sms.optout.off": ("Клиент получает СМС (напоминания о просмотрах, перезвоны, ссылки)",
                       "The client gets SMS (viewing reminders, callbacks, links)"),
    "sms.optout.set": ("Клиент отказался от СМС", "The client opts out of SMS"),
    "sms.optout.unset": ("Снова отправлять СМС", "Send SMS again"),
    "sms.optout.saved": ("Выбор клиента по СМС сохранён", "The client's SMS choice is saved"),
})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/notices/sms", sms_log)
    router.add_post(r"/clients/{id:\d+}/sms-opt-out", opt_out)


def roubles(value: float | None, locale: str) -> str | None:
    """1.85 → «1,85» (Russian) or «1.85»; None when SMS.ru has not said the cost."""
    if value is None:
        return None
    text = str(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    return text.replace(".", ",") if locale == "ru" else text


def _cost(meta: object) -> float | None:
    cost = meta.get("cost") if isinstance(meta, dict) else None
    return float(cost) if isinstance(cost, int | float) else None


@allow()
async def sms_log(request: web.Request) -> web.StreamResponse:
    """The SMS of the inquiries the user may read, newest first, with each one's cost and the totals."""
    locale = request.get(LOCALE, "ru")
    zone = ZoneInfo(request.app[HUB].settings.time_zone)
    local_now = utcnow().astimezone(zone)
    month_start = local_now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    mine = (Message.channel == Channel.SMS, Message.direction == "out", inquiry_scope(request[ACTOR]))
    async with sessions(request)() as s:
        rows = (await s.execute(
            select(Message.id, Message.created_at, Message.body, Message.delivery, Message.delivery_note,
                   Message.meta, Message.client_id, Message.inquiry_id, Client.name)
            .join(Inquiry, Inquiry.id == Message.inquiry_id).join(Client, Client.id == Message.client_id)
            .where(*mine).order_by(Message.id.desc()).limit(PAGE))).all()
        month = (await s.execute(select(Message.meta).join(Inquiry, Inquiry.id == Message.inquiry_id)
                                 .where(*mine, Message.created_at >= month_start))).scalars().all()
    items = []
    for r in rows:
        kind = (r.meta or {}).get("kind")
        items.append({"id": r.id, "at": r.created_at, "client_id": r.client_id, "client": r.name,
                      "inquiry_id": r.inquiry_id, "to": "+" + str((r.meta or {}).get("to", "")).lstrip("+"),
                      "kind": kind if kind in KIND_KEYS else "other", "text": r.body,
                      "delivery": r.delivery or "queued", "note": r.delivery_note,
                      "cost": roubles(_cost(r.meta), locale)})
    total = sum(c for c in (_cost(r.meta) for r in rows) if c is not None)
    month_total = sum(c for c in (_cost(m) for m in month) if c is not None)
    return render(request, "notifications_sms.html", {
        "items": items, "total": roubles(total, locale), "month_total": roubles(month_total, locale),
        "month_start": month_start})


@allow()
async def opt_out(request: web.Request) -> web.StreamResponse:
    """The card's switch: the client opts out of SMS (or back in). Only who may change the card."""
    client_id = int(request.match_info["id"])
    form = await request.post()
    out = str(form.get("out", "")) == "1"
    async with sessions(request)() as s:
        await get_client(s, request[ACTOR], client_id, write=True)  # 404 / 403 otherwise
        unchanged = await opted_out(s, client_id) == out
    if not unchanged:
        user_id = request[ACTOR].user_id
        await set_opt_out(sessions(request), client_id, out, actor_id=user_id)
        log.info("client=%s sms opt-%s by user=%s", client_id, "out" if out else "in", user_id)
    raise web.HTTPSeeOther(f"/clients/{client_id}?notice=sms_saved")
