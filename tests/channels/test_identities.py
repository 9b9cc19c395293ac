"""One client across channels: the agent merges a VK card and a WhatsApp card of one person, and a
conversation that moves from Telegram to WhatsApp to a call stays one inquiry, shown as one thread."""

from __future__ import annotations

import json
import time

import pytest
from aiohttp import ClientSession
from sqlalchemy import select

from crm_core.models import Client, Contact, Inquiry, Message
from crm_core.models.audit import AuditEntry
from telephony.call_log import CallLog
from telephony.model import CallRecord
from tests.channels.conftest import wait_until
from tests.connectors.conftest import TELEGRAM_TOKEN
from tests.connectors.fake_botapi import FakeBotApi

NUMBER = "79161234567"


async def hook(running, path: str, body: bytes, headers: dict) -> int:  # noqa: ANN001
    async with ClientSession() as http, http.post(running.base + path, data=body, headers=headers) as resp:
        return resp.status


async def test_the_agent_merges_a_vk_card_and_a_whatsapp_card_into_one_client(running, vk_api, wa_api):
    await hook(running, "/vk/callback", json.dumps(vk_api.message_new(555, 1, "Здравствуйте")).encode(),
               {"Content-Type": "application/json"})
    await hook(running, "/whatsapp/webhook",
               *wa_api.signed(wa_api.message(NUMBER, "wamid.M1", "Это снова я", timestamp=int(time.time()))))
    async with running.hub.database.sessions() as s, s.begin():
        vk_client = (await s.execute(select(Contact.client_id).where(Contact.kind == "vk"))).scalar_one()
        wa_client = (await s.execute(select(Contact.client_id).where(Contact.kind == "whatsapp"))).scalar_one()
        for client in (await s.execute(select(Client))).scalars():
            client.owner_id = running.agency.users["anna"]
    assert vk_client != wa_client
    oleg = await running.browser("oleg")  # not his clients: refused, nothing moves
    await oleg.get("/inbox")
    resp, _ = await oleg.post(f"/clients/{vk_client}/merge", {"other_id": str(wa_client)})
    assert resp.status == 303 and "notice=merge_" in resp.headers["Location"]
    _, card = await oleg.get(resp.headers["Location"])
    anna = await running.browser("anna")
    _, card = await anna.get(f"/clients/{vk_client}")
    assert 'id="client-merge"' in card
    resp, _ = await anna.post(f"/clients/{vk_client}/merge", {"other_id": f"№{wa_client}"})
    assert resp.status == 303 and resp.headers["Location"].endswith("notice=merged")
    async with running.hub.database.sessions() as s:
        kinds = {(c.kind, c.client_id) for c in (await s.execute(select(Contact))).scalars()}
        owners = {m.client_id for m in (await s.execute(select(Message))).scalars()}
        inquiries = {i.client_id for i in (await s.execute(select(Inquiry))).scalars()}
        assert await s.get(Client, wa_client) is None
        [entry] = (await s.execute(select(AuditEntry).where(AuditEntry.action == "client.merge"))).scalars()
    assert kinds == {("vk", vk_client), ("whatsapp", vk_client), ("phone", vk_client)}
    assert owners == inquiries == {vk_client} and entry.details["merged"] == wa_client
    _, card = await anna.get(f"/clients/{vk_client}")
    assert "Карточки клиентов объединены" in card
    for label in ('aria-label="ВКонтакте"', 'aria-label="WhatsApp"', 'aria-label="Телефон"', "https://vk.com/id555",
                  f"https://wa.me/{NUMBER}"):
        assert label in card


@pytest.fixture
async def botapi():
    api = FakeBotApi(TELEGRAM_TOKEN)
    await api.start()
    yield api
    await api.close()


@pytest.fixture
def hub_sections(vk_api, wa_api, botapi, hub_sections):  # noqa: ANN001 - the channels' sections plus Telegram
    return {**hub_sections, "telegram": {"enabled": True, "token": TELEGRAM_TOKEN, "base_url": botapi.base_url,
                                         "poll_timeout_s": 1}}


async def test_telegram_then_whatsapp_then_a_call_is_one_thread_on_the_inquiry_page(running, wa_api, botapi):
    chat = 777002
    sender = {"id": chat, "is_bot": False, "first_name": "Павел"}
    where = {"chat": {"id": chat, "type": "private"}, "from": sender}
    botapi.push({"update_id": 1, "message": {"message_id": 1, "date": 1795390910, **where, "contact": {
        "phone_number": "+" + NUMBER, "user_id": chat, "first_name": "Павел"}}})
    botapi.push({"update_id": 2, "message": {"message_id": 2, "date": 1795390911, **where,
                                             "text": "Ищу трёшку у метро Сокол"}})

    async def from_telegram():
        async with running.hub.database.sessions() as s:
            return (await s.execute(select(Message).where(Message.channel == "telegram"))).first() is not None
    await wait_until(from_telegram)
    await hook(running, "/whatsapp/webhook", *wa_api.signed(
        wa_api.message(NUMBER, "wamid.T2", "Пишу из WhatsApp: можно планировку?", timestamp=int(time.time()))))
    now = time.time()
    call = CallRecord("c.1", "c.1", "inbound", "+" + NUMBER, "74950000001", "Павел", "74950000001", "sales",
                      ("101",), "101", now, now, now + 3, now + 60, 3.0, 57.0, "answered", None, None)
    await CallLog(running.hub.database.sessions, running.hub.intake).store(call, {})
    async with running.hub.database.sessions() as s:
        rows = (await s.execute(select(Message.channel, Message.inquiry_id).where(Message.direction == "in")
                                .order_by(Message.id))).all()
    assert [r.channel for r in rows] == ["telegram", "whatsapp", "call"]
    [inquiry_id] = {r.inquiry_id for r in rows}
    async with running.hub.database.sessions() as s, s.begin():
        (await s.get(Inquiry, inquiry_id)).owner_id = running.agency.users["anna"]
    anna = await running.browser("anna")
    _, page = await anna.get(f"/inquiries/{inquiry_id}")
    assert "Ищу трёшку у метро Сокол" in page and "можно планировку?" in page
    for icon in ('aria-label="Telegram"', 'aria-label="WhatsApp"', 'aria-label="Звонок"'):
        assert icon in page
    assert page.index("Ищу трёшку") < page.index("можно планировку?")
