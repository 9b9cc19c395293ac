"""The pages in a running hub: the notice list with its unread count, the preferences with the Telegram link
code, a client's memorable dates (only for who may see the client), the greeting templates (admins)."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

from sqlalchemy import select, update

from bus.events import Push
from channels.telegram.service import TelegramService
from crm_core.intake import IntakeRequest, IntakeService
from crm_core.models import AgentStatus, Channel, Client, Inquiry, MemorableDate, User
from crm_core.models.agency import Deal
from crm_core.models.notifications import Notification, NotificationPrefs
from notifications.wiring import service_of
from routing.queries import save_rule_data
from tests.notifications.helpers import FakeSender
from tests.notifications.test_bot import text
from tests.web.conftest import hub_sections, running  # noqa: F401 - the running hub fixture


async def test_notices_list_unread_count_and_mark_read(running):  # noqa: F811
    anna_id = running.agency.users["anna"]
    service = service_of(running.hub)
    assert service is not None and running.hub.connectors["notifications"].state == "running"
    await running.hub.bus.publish(Push((anna_id,), "routing.assigned", {"inquiry_id": 77}))
    anna = await running.browser("anna")
    resp, page = await anna.get("/notices")
    assert resp.status == 200 and "Вам назначено обращение №77" in page and 'href="/inquiries/77"' in page
    assert re.search(r'id="notices-unread">1<', page)
    assert '<script src="/static/notifications/notices.js"' in page or "/static/notifications/notices.js" in page
    resp, _ = await anna.get("/notices/unread")
    assert (await resp.json()) == {"unread": 1}
    resp, _ = await anna.post("/notices/read", {})
    assert resp.status == 303
    resp, _ = await anna.get("/notices/unread")
    assert (await resp.json()) == {"unread": 0}
    oleg = await running.browser("oleg")
    _, page = await oleg.get("/notices")
    assert "№77" not in page, "a notice is its addressee's only"


async def test_a_team_offer_reaches_the_group_in_the_browser_and_the_linked_telegram(running):  # noqa: F811
    a = running.agency
    tg = FakeSender()
    service_of(running.hub).notifier.senders["telegram"] = tg  # the bot, as if it were configured
    await save_rule_data(running.hub.database.sessions, {"rules": [{
        "id": "team", "priority": 1, "target": {"departments": [a.sales]}, "strategy": "team_claim",
        "owner_first": False, "offer_seconds": 600}]})
    async with running.hub.database.sessions() as s, s.begin():
        await s.execute(update(User).where(User.id.in_([a.users["anna"], a.users["oleg"]]))
                        .values(status=AgentStatus.AVAILABLE))
        await s.execute(update(User).where(User.id == a.users["anna"]).values(telegram_chat_id="6001"))
    res = await running.hub.intake.accept(IntakeRequest(
        channel=Channel.WEBFORM, external_id="offer-1", name="Клиент", phone=None, email="c@example.ru",
        text="Нужна квартира", subject="Двушка у метро"))
    async with running.hub.database.sessions() as s:
        got = (await s.execute(select(Notification.user_id).where(Notification.kind == "routing")
                               .order_by(Notification.user_id))).scalars().all()
    assert got == sorted([a.users["anna"], a.users["oleg"]]), "every agent the inquiry was offered to"
    for _ in range(100):
        if tg.sent:
            break
        await asyncio.sleep(0.05)
    assert [to for to, _, _ in tg.sent] == ["6001"], "anna linked her Telegram; oleg did not"
    assert f"№{res.inquiry_id}" in tg.sent[0][2] and "Двушка у метро" in tg.sent[0][2]


async def test_preferences_and_the_telegram_link_code(running):  # noqa: F811
    anna_id = running.agency.users["anna"]
    anna = await running.browser("anna")
    resp, page = await anna.get("/me/notifications")
    assert resp.status == 200 and 'id="tg-not-linked"' in page
    assert 'name="sla.telegram" value="1" aria-label' in page and "checked" in page
    resp, _ = await anna.post("/me/notifications", {"sla.browser": "1", "dates.email": "1"})
    assert resp.status == 303
    async with running.hub.database.sessions() as s:
        prefs = (await s.get(NotificationPrefs, anna_id)).channels
    assert prefs["sla"] == ["browser"] and prefs["dates"] == ["email"] and prefs["routing"] == []

    await anna.get("/me/notifications")
    resp, page = await anna.post("/me/notifications/telegram-code", {})
    code = re.search(r'id="tg-code">/link ([A-Z0-9]+)<', page).group(1)
    bot = TelegramService(running.hub.database.sessions, IntakeService(running.hub.database.sessions, running.hub.bus))
    replies = await bot.handle(text(31337, f"/link {code}"))
    assert "Готово" in replies[0].text
    _, page = await anna.get("/me/notifications")
    assert 'id="tg-linked"' in page


async def test_client_dates_page_adds_a_date_and_keeps_other_departments_out_templates_for_admins(running):  # noqa: F811
    users = running.agency.users
    async with running.hub.database.sessions() as s, s.begin():
        client = Client(name="Пётр Сидоров", owner_id=users["anna"], department_id=running.agency.sales)
        s.add(client)
        await s.flush()
        client_id = client.id
        inquiry = Inquiry(client_id=client_id, channel=Channel.MANUAL, external_id="m:1", owner_id=users["anna"])
        s.add(inquiry)
        await s.flush()
        s.add(Deal(inquiry_id=inquiry.id, client_id=client_id, agent_id=users["anna"], status="won",
                   closed_at=datetime(2024, 9, 10, 12, 0, tzinfo=UTC)))
    anna = await running.browser("anna")
    resp, page = await anna.get(f"/clients/{client_id}/dates")
    assert resp.status == 200 and 'id="dates-none"' in page and 'id="won-deals"' in page and "10.09.2024" in page
    resp, _ = await anna.post(f"/clients/{client_id}/dates", {"kind": "deal_anniversary", "on": "2024-09-10",
                                                              "title": "Сделка №1", "repeat": "1"})
    assert resp.status == 303
    _, page = await anna.get(f"/clients/{client_id}/dates")
    assert 'id="won-deals"' not in page and "Годовщина сделки: Сделка №1" in page
    resp, page = await anna.post(f"/clients/{client_id}/dates", {"kind": "birthday", "on": "31.02.1980",
                                                                  "lead": "99", "repeat": "1"})
    assert resp.status == 422 and 'data-field="on"' in page and 'data-field="lead"' in page
    resp, _ = await anna.post(f"/clients/{client_id}/dates", {"kind": "birthday", "on": "1980-03-15", "lead": "5",
                                                              "repeat": "1", "greet_by": "telegram"})
    assert resp.status == 303
    _, page = await anna.get(f"/clients/{client_id}/dates?notice=added")
    assert "15.03.1980" in page and "нет контакта для поздравления" in page, "no Telegram contact to greet on"
    async with running.hub.database.sessions() as s:
        kinds = (await s.execute(select(MemorableDate.kind).where(MemorableDate.client_id == client_id)
                                 .order_by(MemorableDate.id))).scalars().all()
        assert kinds == ["deal_anniversary", "birthday"]
    resp, _ = await anna.get("/admin/greetings")
    assert resp.status == 403, "greeting templates are the administrators'"

    maria = await running.browser("maria")  # another department's agent
    resp, _ = await maria.get(f"/clients/{client_id}/dates")
    assert resp.status == 404
    resp, _ = await maria.post(f"/clients/{client_id}/dates", {"kind": "birthday", "on": "1980-03-15"})
    assert resp.status in (403, 404)

    root = await running.browser("root")
    resp, page = await root.get("/admin/greetings")
    assert resp.status == 200 and 'id="greetings-none"' in page and 'href="/admin/greetings"' in page
    resp, _ = await root.post("/admin/greetings", {"name": "ДР", "subject": "С днём рождения!",
                                                   "body": "{name}, поздравляем!"})
    assert resp.status == 303
    _, page = await root.get("/admin/greetings")
    assert "{name}, поздравляем!" in page
    _, page = await anna.get(f"/clients/{client_id}/dates")
    assert re.search(r'<option value="\d+"\s*>ДР</option>', page), "the agent picks the new template for a greeting"
