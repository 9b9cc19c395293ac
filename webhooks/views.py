"""The administrator's webhook pages: subscriptions (create with the secret shown once, disable, enable, send a
test event) and the delivery log with its answers and a re-send button."""

from __future__ import annotations

import logging

from aiohttp import web
from sqlalchemy import select

from crm_core.models import Role
from crm_core.models.webhooks import WebhookDelivery, WebhookSubscription
from web.features import NavItem
from web.guard import allow
from web.i18n import add_texts
from web.keys import ACTOR, HUB, sessions
from web.render import render
from webhooks import queries
from webhooks.core import EVENT_TYPES, TEST_EVENT, BadUrl, check_url
from webhooks.payloads import Occurrence
from webhooks.wiring import service_of, settings_of

log = logging.getLogger("hub.web.webhooks")
NAV = [NavItem("/admin/webhooks", "webhooks.nav", roles=frozenset({Role.ADMIN}), order=94, group="settings")]
STATUSES = ("pending", "retry", "delivered", "failed")
PAGE = 50

add_texts({
    "webhooks.nav": ("Вебхуки", "Webhooks"),
    "webhooks.title": ("Вебхуки: события для внешних систем", "Webhooks: events for other systems"),
    "webhooks.hint": ("Хаб отправляет выбранные события получателю, каждое с подписью по секрету подписки "
                      "(как проверить подпись — в описании вебхуков). Неудачная отправка повторяется 24 часа. "
                      "Адреса в локальной сети (например, 1С в офисе) разрешены.",
                      "The hub posts the chosen events as JSON, signed with HMAC-SHA256 in the X-Hub-Signature "
                      "header. A failed delivery is retried for 24 hours. Addresses on the local network (e.g. "
                      "1C in the office) are allowed."),
    "webhooks.none": ("Подписок пока нет", "No subscriptions yet"),
    "webhooks.name": ("Название", "Name"),
    "webhooks.url": ("Адрес (URL) получателя", "Receiver URL"),
    "webhooks.events": ("События", "Events"),
    "webhooks.state": ("Состояние", "State"),
    "webhooks.active": ("включена", "active"),
    "webhooks.inactive": ("отключена", "disabled"),
    "webhooks.disable": ("Отключить", "Disable"),
    "webhooks.enable": ("Включить", "Enable"),
    "webhooks.test": ("Отправить проверочное событие", "Send a test event"),
    "webhooks.log": ("Журнал отправок", "Delivery log"),
    "webhooks.queue": ("В очереди / не доставлено", "Queued / failed"),
    "webhooks.new": ("Новая подписка", "New subscription"),
    "webhooks.create": ("Создать", "Create"),
    "webhooks.created": ("Подписка создана", "Subscription created"),
    "webhooks.secret": ("Секрет для проверки подписи", "Secret for checking the signature"),
    "webhooks.secret_once": ("Сохраните секрет сейчас: он показывается только один раз. Получатель проверяет им "
                             "подпись каждого запроса (docs/webhooks.md).",
                             "Save the secret now: it is shown only once. The receiver checks every request's "
                             "signature with it (docs/webhooks.md)."),
    "webhooks.back": ("К подпискам", "Back to subscriptions"),
    "webhooks.saved": ("Сохранено", "Saved"),
    "webhooks.test_queued": ("Проверочное событие поставлено в очередь", "Test event queued"),
    "webhooks.resent": ("Отправка поставлена в очередь ещё раз", "Delivery queued again"),
    "webhooks.err.name": ("Укажите название", "Give a name"),
    "webhooks.err.events": ("Выберите хотя бы одно событие", "Pick at least one event"),
    "webhooks.err.url.empty": ("Укажите адрес", "Give a URL"),
    "webhooks.err.url.too_long": ("Слишком длинный адрес", "The URL is too long"),
    "webhooks.err.url.invalid": ("Это не адрес", "Not a URL"),
    "webhooks.err.url.scheme": ("Только адреса http:// и https://", "Only http:// and https:// URLs"),
    "webhooks.err.url.credentials": ("Логин и пароль в адресе не допускаются", "No login or password in the URL"),
    "webhooks.err.url.address": ("На этот адрес хаб не отправляет (служебный или запрещённый)",
                                 "The hub does not post to this address (reserved or refused)"),
    "webhooks.log_title": ("Журнал отправок вебхуков", "Webhook delivery log"),
    "webhooks.log_none": ("Отправок нет", "No deliveries"),
    "webhooks.all": ("Все", "All"),
    "webhooks.subscription": ("Подписка", "Subscription"),
    "webhooks.status": ("Статус", "Status"),
    "webhooks.filter": ("Показать", "Show"),
    "webhooks.time": ("Время события", "Event time"),
    "webhooks.event": ("Событие", "Event"),
    "webhooks.attempts": ("Попыток", "Attempts"),
    "webhooks.response": ("Ответ получателя", "Receiver's answer"),
    "webhooks.next": ("Следующая попытка", "Next attempt"),
    "webhooks.delivery_id": ("Номер доставки", "Delivery id"),
    "webhooks.resend": ("Отправить ещё раз", "Send again"),
    "webhooks.older": ("Старше", "Older"),
    "webhooks.status.pending": ("в очереди", "queued"),
    "webhooks.status.retry": ("повтор", "retrying"),
    "webhooks.status.delivered": ("доставлено", "delivered"),
    "webhooks.status.failed": ("не доставлено", "failed"),
    "webhooks.error.timeout": ("нет ответа вовремя", "no answer in time"),
    "webhooks.error.network": ("не удалось соединиться", "could not connect"),
    "webhooks.error.refused": ("адрес запрещён", "address refused"),
    "webhooks.event.call.ringing": ("Звонок: звонит телефон сотрудника", "Call: an agent's phone rings"),
    "webhooks.event.call.answered": ("Звонок: ответили", "Call: answered"),
    "webhooks.event.call.ended": ("Звонок: завершён", "Call: ended"),
    "webhooks.event.inquiry.opened": ("Обращение: новое", "Inquiry: opened"),
    "webhooks.event.inquiry.assigned": ("Обращение: назначено", "Inquiry: assigned"),
    "webhooks.event.inquiry.status_changed": ("Обращение: сменился статус", "Inquiry: status changed"),
    "webhooks.event.inquiry.closed": ("Обращение: закрыто", "Inquiry: closed"),
    "webhooks.event.message.received": ("Новое сообщение", "Message received"),
    "webhooks.event.task.due": ("Задача: подошёл срок", "Task due"),
    "webhooks.event.deal.stage_changed": ("Сделка: новый этап", "Deal: stage changed"),
    "webhooks.event.client.changed": ("Клиент изменён", "Client changed"),
    "webhooks.event.ping": ("Проверка связи", "Test event"),
})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/admin/webhooks", subscriptions_page)
    router.add_post("/admin/webhooks", create)
    router.add_post("/admin/webhooks/{id}/active", set_active)
    router.add_post("/admin/webhooks/{id}/test", send_test)
    router.add_get("/admin/webhooks/deliveries", deliveries_page)
    router.add_post("/admin/webhooks/deliveries/{id}/resend", resend)


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) <= 9 else None


def _poke(request: web.Request) -> None:
    recorder = service_of(request.app[HUB])
    if recorder is not None:
        recorder.invalidate()
        recorder.wake_sender()


async def _page(request: web.Request, *, errors: dict[str, str] | None = None, form: dict | None = None,
                status: int = 200) -> web.Response:
    async with sessions(request)() as s:
        subs = (await s.execute(select(WebhookSubscription).order_by(WebhookSubscription.id))).scalars().all()
        counts = await queries.counts_by_subscription(s)
    return render(request, "webhooks_list.html", {
        "subs": subs, "counts": counts, "event_types": EVENT_TYPES, "errors": errors or {}, "form": form or {},
        "notice": request.query.get("notice")}, status=status)


@allow(Role.ADMIN)
async def subscriptions_page(request: web.Request) -> web.StreamResponse:
    return await _page(request)


@allow(Role.ADMIN)
async def create(request: web.Request) -> web.StreamResponse:
    data = await request.post()
    name = str(data.get("name", "")).strip()[:200]
    events = [e for e in EVENT_TYPES if e in data.getall("events", [])]
    errors: dict[str, str] = {}
    try:
        url = check_url(str(data.get("url", "")), settings_of(request.app[HUB]).allow_private)
    except BadUrl as exc:
        errors["url"] = f"webhooks.err.url.{exc.code}"
    if not name:
        errors["name"] = "webhooks.err.name"
    if not events:
        errors["events"] = "webhooks.err.events"
    if errors:
        form = {"name": name, "url": str(data.get("url", ""))[:2000], "events": events}
        return await _page(request, errors=errors, form=form, status=422)
    async with sessions(request)() as s, s.begin():
        sub = await queries.create_subscription(s, name=name, url=url, events=events,
                                                created_by=request[ACTOR].user_id)
    log.info("webhook subscription=%s created by user=%s events=%s", sub.id, request[ACTOR].user_id,
             ",".join(sub.events))
    _poke(request)
    resp = render(request, "webhooks_created.html", {"sub": sub})
    resp.headers["Cache-Control"] = "no-store"  # the secret is shown once: not kept by the browser either
    return resp


@allow(Role.ADMIN)
async def set_active(request: web.Request) -> web.StreamResponse:
    sub_id = int(request.match_info["id"])
    active = (await request.post()).get("active") == "1"
    async with sessions(request)() as s, s.begin():
        if not await queries.set_active(s, sub_id, active):
            raise web.HTTPNotFound()
    log.info("webhook subscription=%s %s by user=%s", sub_id, "enabled" if active else "disabled",
             request[ACTOR].user_id)
    _poke(request)
    raise web.HTTPSeeOther("/admin/webhooks?notice=saved")


@allow(Role.ADMIN)
async def send_test(request: web.Request) -> web.StreamResponse:
    sub_id = int(request.match_info["id"])
    async with sessions(request)() as s:
        if await s.get(WebhookSubscription, sub_id) is None:
            raise web.HTTPNotFound()
    recorder = service_of(request.app[HUB])
    if recorder is None:
        raise web.HTTPServiceUnavailable(text="Вебхуки выключены в настройках ([webhooks] enabled = false)")
    await recorder.enqueue([(sub_id, Occurrence(TEST_EVENT, {"subscription_id": sub_id,
                                                             "requested_by": request[ACTOR].user_id}))])
    raise web.HTTPSeeOther(f"/admin/webhooks/deliveries?subscription={sub_id}&notice=test")


@allow(Role.ADMIN)
async def deliveries_page(request: web.Request) -> web.StreamResponse:
    sub_id = _int(request.query.get("subscription"))
    status = request.query.get("status") if request.query.get("status") in STATUSES else None
    before = _int(request.query.get("before"))
    async with sessions(request)() as s:
        rows = await queries.deliveries(s, sub_id, status, before, PAGE)
        names = dict((await s.execute(select(WebhookSubscription.id, WebhookSubscription.name))).all())
    return render(request, "webhooks_deliveries.html", {
        "rows": rows, "names": names, "subscription": sub_id, "status": status, "statuses": STATUSES,
        "older": rows[-1].id if len(rows) == PAGE else None, "notice": request.query.get("notice"),
        "error_kind": error_kind})


def error_kind(error: str | None) -> str | None:
    """The translation key of a delivery's error (its text stays in the title, for the technician)."""
    if not error:
        return None
    kind = error.split(":", 1)[0]
    return f"webhooks.error.{kind}" if kind in ("timeout", "network", "refused") else "webhooks.error.network"


@allow(Role.ADMIN)
async def resend(request: web.Request) -> web.StreamResponse:
    row_id = int(request.match_info["id"])
    async with sessions(request)() as s, s.begin():
        row = await s.get(WebhookDelivery, row_id)
        if row is None:
            raise web.HTTPNotFound()
        sub_id = row.subscription_id
        queued = await queries.resend(s, row_id)
    log.info("webhook delivery row=%s re-sent by user=%s (queued: %s)", row_id, request[ACTOR].user_id, queued)
    _poke(request)
    raise web.HTTPSeeOther(f"/admin/webhooks/deliveries?subscription={sub_id}&notice=resent")
