"""An agent answers a Telegram client from the inquiry page; the answer goes out through the bot."""

import asyncio

import pytest
from sqlalchemy import select

from crm_core.models import Inquiry, Message
from tests.connectors.conftest import TELEGRAM_TOKEN

CHAT = 777001


@pytest.fixture
def hub_sections(botapi):
    return {"telegram": {"enabled": True, "token": TELEGRAM_TOKEN, "base_url": botapi.base_url, "poll_timeout_s": 1}}


def client_writes(botapi, update_id, text):
    botapi.push({"update_id": update_id, "message": {
        "message_id": update_id, "date": 1795390910, "text": text, "chat": {"id": CHAT, "type": "private"},
        "from": {"id": CHAT, "is_bot": False, "first_name": "Павел"}}})


async def wait_until(check, limit_s=10.0):
    async with asyncio.timeout(limit_s):
        while not await check():  # noqa: ASYNC110 - polling what the fake Bot API and the database hold
            await asyncio.sleep(0.05)


async def take(running, owner="anna"):
    async def arrived():
        async with running.hub.database.sessions() as s:
            return (await s.execute(select(Inquiry))).scalar_one_or_none() is not None
    await wait_until(arrived)
    async with running.hub.database.sessions() as s, s.begin():
        inquiry = (await s.execute(select(Inquiry))).scalar_one()
        inquiry.owner_id = running.agency.users[owner]
        return inquiry.id


async def test_the_agents_answer_reaches_the_clients_chat(running, botapi):
    client_writes(botapi, 1, "Сколько стоит аренда офиса на Тверской?")
    inquiry_id = await take(running)
    anna = await running.browser("anna")
    _, page = await anna.get(f"/inquiries/{inquiry_id}")
    assert 'name="channel"' in page and 'value="telegram" selected' in page
    reply = {"text": "От 120 000 ₽ в месяц.", "channel": "telegram"}
    resp, _ = await anna.post(f"/inquiries/{inquiry_id}/reply", reply)
    assert resp.status == 303

    async def sent():
        return any(m.get("text") == "От 120 000 ₽ в месяц." and int(m["chat_id"]) == CHAT for m in botapi.sent)
    await wait_until(sent)


async def test_a_client_who_blocked_the_bot_gets_the_reply_marked_undelivered(running, botapi):
    client_writes(botapi, 1, "Нужна квартира")
    inquiry_id = await take(running)
    botapi.blocked.add(CHAT)
    anna = await running.browser("anna")
    await anna.get(f"/inquiries/{inquiry_id}")
    await anna.post(f"/inquiries/{inquiry_id}/reply", {"text": "Есть варианты", "channel": "telegram"})

    async def undelivered():
        async with running.hub.database.sessions() as s:
            m = (await s.execute(select(Message).where(Message.direction == "out"))).scalar_one_or_none()
            return m is not None and m.delivery == "undelivered"
    await wait_until(undelivered)
    _, page = await anna.get(f"/inquiries/{inquiry_id}")
    assert "не доставлено" in page and "заблокирован" in page
