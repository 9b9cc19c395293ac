"""A property carries its Avito listing's number (typed on the property's form); a chat under that listing
becomes a lead on the property and the routing rules, judging the property's facts, give it to the agent
they name; the settings' ``listings`` map still ties the listings it names. Against the fake Avito, on each
database."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from crm_core.agent_states import set_status
from crm_core.models import Inquiry, Property, User
from routing.queries import save_rule_data
from tests.channels.fake_avito import FakeAvito
from tests.channels.test_avito import ACCOUNT, CLIENT_ID, CLIENT_SECRET, HOOK, post

ITEM, MAPPED_ITEM, MAPPED_PROPERTY = 5_230_017, 5_230_099, 9_101


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
                  "webhook_secret": HOOK, "api_url": avito_api.api_url,
                  "listings": {str(MAPPED_ITEM): MAPPED_PROPERTY}},
        "email": {"retry_delays_s": [1.5] * 6},
    }


PROPERTY_FORM = {"address": "Москва, ул. Вавилова, 9, кв. 12", "district": "Гагаринский", "metro": "Ленинский проспект",
                 "lat": "", "lon": "", "property_type": "flat", "deal_type": "sale", "price": "14 500 000",
                 "liquidity": "", "owner_client_id": "", "agent_id": ""}


async def test_a_chat_under_a_propertys_listing_reaches_the_agent_the_rules_give_that_property(running, avito_api):
    users = running.agency.users
    anna = await running.browser("anna")
    await anna.get("/properties/new")
    resp, _ = await anna.post("/properties", {**PROPERTY_FORM, "avito_item_id": str(ITEM)})
    assert resp.status == 303
    prop_id = int(resp.headers["Location"].split("/")[2].split("?")[0])
    _, page = await anna.get(f"/properties/{prop_id}")
    assert "Номер объявления на Авито" in page and f'value="{ITEM}"' in page
    # the same listing on a second property is refused with the reason; letters are refused too
    resp, page = await anna.post("/properties", {**PROPERTY_FORM, "address": "ул. Косыгина, 2",
                                                 "avito_item_id": str(ITEM)})
    assert resp.status == 422 and f"уже у объекта №{prop_id}" in page
    resp, page = await anna.post("/properties", {**PROPERTY_FORM, "avito_item_id": "avito-1"})
    assert resp.status == 422 and "только цифры" in page
    async with running.hub.database.sessions() as s, s.begin():
        s.add(Property(id=MAPPED_PROPERTY, address="Москва, ул. Тверская, 1", district="Тверской", property_type="flat",
                       deal_type="rent", agent_id=users["maria"]))
        await s.execute(update(User).where(User.id.in_([users["anna"], users["oleg"], users["maria"]]))
                        .values(status="available"))
    await save_rule_data(running.hub.database.sessions, {"rules": [
        {"id": "gagarinsky", "priority": 10, "when": {"districts": ["Гагаринский"]},
         "target": {"agents": [users["anna"]]}, "owner_first": False},
        {"id": "tverskoy", "priority": 20, "when": {"districts": ["Тверской"]},
         "target": {"agents": [users["maria"]]}, "owner_first": False},
        {"id": "rest", "priority": 90, "target": {"agents": [users["oleg"]]}, "owner_first": False}]})

    async def chat(chat_id: str, client: int, item: int | None, text: str) -> Inquiry:
        listing = {"id": item, "title": "2-к. квартира, 54 м²", "url": f"https://www.avito.ru/moskva/kvartiry/{item}"}
        avito_api.chat(chat_id, (client, "Клиент"), listing if item else None)
        assert (await post(running, avito_api.message(chat_id, client, text)))[0] == 200
        async with running.hub.database.sessions() as s:
            return (await s.execute(select(Inquiry).where(Inquiry.thread_key == f"avito:{chat_id}"))).scalar_one()

    on_listing = await chat("u2i-listing-1", 810_001, ITEM, "Квартира на Вавилова ещё продаётся?")
    mapped = await chat("u2i-mapped-2", 810_002, MAPPED_ITEM, "Сдаёте на Тверской?")
    plain = await chat("u2i-plain-3", 810_003, None, "Ищу квартиру")
    assert (on_listing.property_id, on_listing.owner_id) == (prop_id, users["anna"])
    assert (mapped.property_id, mapped.owner_id) == (MAPPED_PROPERTY, users["maria"])  # the settings' map
    assert (plain.property_id, plain.owner_id) == (None, users["oleg"])
    _, page = await anna.get(f"/inquiries/{on_listing.id}")
    assert "Квартира на Вавилова ещё продаётся?" in page and "правило «gagarinsky»" in page


async def test_a_rule_gives_a_chat_on_a_propertys_listing_to_the_propertys_agent_first(running, avito_api):
    """«Агент объекта первым»: the property's agent gets the lead though the rule names someone else; while
    that agent is offline, the rule's own strategy decides. The property is linked either way."""
    users = running.agency.users
    item = 5_230_050
    async with running.hub.database.sessions() as s, s.begin():
        prop = Property(address="Москва, Пречистенка, 3", district="Хамовники", property_type="flat",
                        deal_type="sale", agent_id=users["maria"], avito_item_id=str(item))
        s.add(prop)
        await s.flush()
        prop_id = prop.id
        await s.execute(update(User).where(User.id.in_([users["anna"], users["oleg"], users["maria"]]))
                        .values(status="available"))
    await save_rule_data(running.hub.database.sessions, {"rules": [
        {"id": "avito", "priority": 10, "when": {"channels": ["avito"]}, "target": {"agents": [users["oleg"]]},
         "strategy": "least_loaded", "owner_first": False, "property_agent_first": True}]})

    async def chat(chat_id: str, client: int, on_listing: bool) -> Inquiry:
        listing = {"id": item, "title": "3-к. квартира, 90 м²", "url": f"https://www.avito.ru/moskva/kvartiry/{item}"}
        avito_api.chat(chat_id, (client, "Клиент"), listing if on_listing else None)
        assert (await post(running, avito_api.message(chat_id, client, "Добрый день, квартира свободна?")))[0] == 200
        async with running.hub.database.sessions() as s:
            return (await s.execute(select(Inquiry).where(Inquiry.thread_key == f"avito:{chat_id}"))).scalar_one()

    lead = await chat("u2i-agent-1", 820_001, True)
    other = await chat("u2i-agent-2", 820_002, False)
    assert (lead.property_id, lead.owner_id) == (prop_id, users["maria"])  # the property's agent, not the rule's
    assert (other.property_id, other.owner_id) == (None, users["oleg"])
    root = await running.browser("root")
    _, page = await root.get(f"/inquiries/{lead.id}")
    assert "агенту объекта первым" in page and "правило «avito», агент объекта первым" in page

    await set_status(running.hub.database.sessions, running.hub.bus, users["maria"], "offline")
    late = await chat("u2i-agent-3", 820_003, True)
    assert (late.property_id, late.owner_id) == (prop_id, users["oleg"])  # the rule's least loaded instead
    _, page = await root.get(f"/inquiries/{late.id}")
    assert "наименее загруженному" in page and "— не в сети" in page  # why the property's agent did not get it
