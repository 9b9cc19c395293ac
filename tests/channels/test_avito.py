"""Avito messenger end to end against the fake Avito (tests/channels/fake_avito.py): the v3 webhook in,
the token, the chat's listing and history on first sight, replies and read marks out, on each database."""

from __future__ import annotations

import json

import pytest
from aiohttp import ClientSession
from sqlalchemy import func, select

from crm_core.models import Contact, Inquiry, Message, Property
from tests.channels.conftest import wait_until
from tests.channels.fake_avito import FakeAvito

CLIENT_ID, CLIENT_SECRET, ACCOUNT, HOOK = "avito-app-1", "avito-secret-9", 250_001, "hook-5e2f0c9a1b"
CLIENT, ITEM, PROPERTY = 733_100, 4_120_001, 9_001
CHAT = "u2i-Zx8kQ1w2"


@pytest.fixture
async def avito_api():
    api = FakeAvito(CLIENT_ID, CLIENT_SECRET, ACCOUNT)
    await api.start()
    yield api
    await api.close()


@pytest.fixture
def hub_sections(avito_api):  # noqa: ANN001
    return {
        "avito": {"enabled": True, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "user_id": ACCOUNT,
                  "webhook_secret": HOOK, "public_url": "https://hub.example.ru", "api_url": avito_api.api_url,
                  "max_body_bytes": 4096, "listings": {str(ITEM): PROPERTY}},
        "email": {"retry_delays_s": [1.5] * 6},
    }


async def post(running, event, secret: str = HOOK) -> tuple[int, str]:  # noqa: ANN001
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    async with ClientSession() as http, http.post(f"{running.base}/avito/webhook/{secret}", data=body,
                                                  headers={"Content-Type": "application/json"}) as resp:
        return resp.status, await resp.text()


async def count(running, model, *where) -> int:  # noqa: ANN001
    async with running.hub.database.sessions() as s:
        return (await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


async def add_property(running) -> None:  # noqa: ANN001
    async with running.hub.database.sessions() as s, s.begin():
        s.add(Property(id=PROPERTY, address="Ленинский пр., 30, кв. 5", address_key="ленинский пр., 30, кв. 5",
                       district="Гагаринский", metro="Ленинский проспект", property_type="flat", deal_type="sale",
                       price=14_500_000, agent_id=running.agency.users["anna"]))


async def test_forged_events_store_nothing_and_a_chat_arrives_whole_with_its_listing(running, avito_api):
    await add_property(running)
    avito_api.chat(CHAT, (CLIENT, "Ольга"), {"id": ITEM, "title": "2-к. квартира, 54 м², 7/12 эт.",
                                              "url": f"https://www.avito.ru/moskva/kvartiry/{ITEM}"})
    avito_api.message(CHAT, CLIENT, "Добрый день! Квартира ещё продаётся?", created=1_800_000_000)  # before the hub
    event = avito_api.message(CHAT, CLIENT, "Можно посмотреть в четверг вечером?")
    assert (await post(running, event, secret="guess"))[0] == 403
    assert (await post(running, b"{not json"))[0] == 400
    assert (await post(running, {"id": "e1", "payload": {"type": "message", "value": {"id": 5}}}))[0] == 400
    assert (await post(running, {**event, "pad": "x" * 5000}))[0] == 400  # over max_body_bytes
    assert await count(running, Message) == 0 and await count(running, Contact) == 0
    assert (await post(running, event))[0] == 200
    assert (await post(running, event))[0] == 200  # Avito posts it again: handled once
    again = avito_api.event(event["payload"]["value"])  # the same message under a new event id
    assert (await post(running, again))[0] == 200
    assert await count(running, Message) == 2 and await count(running, Inquiry) == 1  # the earlier one fetched
    async with running.hub.database.sessions() as s:
        inquiry = (await s.execute(select(Inquiry))).scalar_one()
        contact = (await s.execute(select(Contact).where(Contact.kind == "avito"))).scalar_one()
    assert inquiry.property_id == PROPERTY and contact.value == str(CLIENT)
    assert avito_api.read == [CHAT, CHAT] and avito_api.token_calls == 1
    await wait_until(lambda: _true(avito_api.subscriptions))
    assert avito_api.subscriptions == [f"https://hub.example.ru/avito/webhook/{HOOK}"]
    anna = await running.browser("admin" if "admin" in running.agency.users else "anna")
    _, page = await anna.get(f"/inquiries/{inquiry.id}")
    assert "Квартира ещё продаётся?" in page and "посмотреть в четверг" in page and "Ольга" in page
    assert 'aria-label="Авито"' in page and "2-к. квартира, 54 м²" in page


async def _true(value) -> bool:  # noqa: ANN001
    return bool(value)


async def test_a_reply_survives_an_outage_and_a_refused_token(running, avito_api):
    avito_api.chat(CHAT, (CLIENT, "Ольга"))
    await post(running, avito_api.message(CHAT, CLIENT, "Есть ли парковка?"))
    async with running.hub.database.sessions() as s, s.begin():
        inquiry = (await s.execute(select(Inquiry))).scalar_one()
        inquiry.owner_id = running.agency.users["anna"]
    avito_api.outage = 503
    anna = await running.browser("anna")
    await anna.get(f"/inquiries/{inquiry.id}")
    resp, _ = await anna.post(f"/inquiries/{inquiry.id}/reply", {"text": "Да, подземная.", "channel": "avito"})
    assert resp.status == 303

    async def delivery(state: str) -> bool:
        async with running.hub.database.sessions() as s:
            m = (await s.execute(select(Message).where(Message.direction == "out"))).scalar_one()
            return m.delivery == state
    await wait_until(lambda: delivery("retry"))
    health = await (await anna.http.get(running.base + "/healthz")).json()
    assert health["connectors"]["avito"] == "degraded"
    avito_api.outage = None
    avito_api.expire()  # the token the hub holds is refused now: it must ask for a new one
    await wait_until(lambda: delivery("sent"), hub=running.hub)
    [sent] = avito_api.sent
    assert sent["content"]["text"] == "Да, подземная." and sent["chat_id"] == CHAT and avito_api.token_calls >= 2
    health = await (await anna.http.get(running.base + "/healthz")).json()
    assert health["connectors"]["avito"] == "running"
    # Avito announces the hub's own message too: not stored twice; one typed in Avito's app is kept
    assert (await post(running, avito_api.event({**sent, "user_id": ACCOUNT})))[0] == 200
    assert (await post(running, avito_api.message(CHAT, ACCOUNT, "Пришлю схему проезда")))[0] == 200
    _, page = await anna.get(f"/inquiries/{inquiry.id}")
    assert page.count("Да, подземная.") == 1 and "Пришлю схему проезда" in page
