"""The property base: each role's tabs, quick search by address fragment / id / price, links from inquiries and
calls with per-property counts, and who may change what."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from agency import properties as P
from agency import property_access, property_queries
from agency.property_forms import FieldError, PropertyInput
from crm_core.access import Forbidden, NotFound
from crm_core.models import Call, Inquiry, InquiryEvent, TimelineEntry


async def _add(world, who, address, **kw):  # noqa: ANN001, ANN202
    return await P.create_property(world.sessions, world.actors[who], PropertyInput(address=address, **kw))


@pytest.fixture
async def base(world):  # noqa: ANN001, ANN201
    ids = {
        "anna": await _add(world, "anna", "Москва, ул. Лёвшинский пер., д. 3", price="15 000 000", deal_type="sale",
                           property_type="flat", liquidity="high", district="Хамовники", metro="Смоленская"),
        "anna_old": await _add(world, "anna", "Москва, Тверская ул., д. 10"),
        "oleg": await _add(world, "oleg", "Москва, Ленинский проспект, д. 40", price="9 900 000"),
        "maria": await _add(world, "maria", "Москва, ул. Арбат, д. 1", deal_type="rent", price="120000"),
        "spb": await _add(world, "spbagent", "Санкт-Петербург, Невский пр., д. 1"),
    }
    await P.set_archived(world.sessions, world.actors["anna"], ids["anna_old"], True)
    return ids


async def _tab(world, who, tab):  # noqa: ANN001, ANN202
    async with world.sessions() as s:
        return {r.id for r in await property_queries.list_properties(s, world.actors[who], tab)}


async def test_each_role_sees_its_tabs(world, base):
    assert await _tab(world, "anna", "mine") == {base["anna"]}
    assert await _tab(world, "anna", "archive") == {base["anna_old"]}
    assert await _tab(world, "anna", "all") == {base["anna"]}
    assert await _tab(world, "anna", "team") == set()
    assert await _tab(world, "boss", "team") == {base["anna"], base["oleg"]}
    assert await _tab(world, "boss", "archive") == {base["anna_old"]}
    assert await _tab(world, "mgr", "all") == {base["maria"]}
    assert await _tab(world, "director", "team") == {base["anna"], base["oleg"], base["maria"]}
    assert await _tab(world, "spbhead", "all") == {base["spb"]}
    assert await _tab(world, "root", "all") == {base["anna"], base["oleg"], base["maria"], base["spb"]}


async def test_out_of_reach_is_not_found_and_reading_is_not_writing(world, base):
    data = PropertyInput(address="Москва, ул. Арбат, д. 1, изменено")
    for who in ("anna", "oleg", "boss", "spbagent", "spbhead"):
        async with world.sessions() as s:
            with pytest.raises(NotFound):
                await property_access.get_property(s, world.actors[who], base["maria"])
        with pytest.raises(NotFound):
            await P.update_property(world.sessions, world.actors[who], base["maria"], data)
        with pytest.raises(NotFound):
            await P.set_archived(world.sessions, world.actors[who], base["maria"], True)
    with pytest.raises(Forbidden):  # the director reads the division, changes nothing
        await P.update_property(world.sessions, world.actors["director"], base["maria"], data)
    with pytest.raises(Forbidden):
        await P.create_property(world.sessions, world.actors["director"], data)
    await P.update_property(world.sessions, world.actors["mgr"], base["maria"], data)
    async with world.sessions() as s:
        prop = await property_access.get_property(s, world.actors["maria"], base["maria"])
        assert prop.address.endswith("изменено")


async def test_an_agent_reads_the_property_of_an_inquiry_they_work_but_cannot_change_it(world, base):
    anna = world.actors["anna"]
    inquiry_id = await world.inquiry("anna", phone="+79163330001")
    boss = world.actors["boss"]
    await P.link_inquiry(world.sessions, boss, inquiry_id, base["oleg"])  # the head links oleg's object
    async with world.sessions() as s:
        assert (await property_access.get_property(s, anna, base["oleg"])).id == base["oleg"]
        assert base["oleg"] in {r.id for r in await property_queries.search_properties(s, anna, "Ленинский")}
    with pytest.raises(Forbidden):
        await P.update_property(world.sessions, anna, base["oleg"], PropertyInput(address="Москва, другое"))


async def test_quick_search_by_address_fragment_id_and_price(world, base):
    async def found(who, q):  # noqa: ANN001, ANN202
        async with world.sessions() as s:
            return [r.id for r in await property_queries.search_properties(s, world.actors[who], q)]

    assert await found("root", "левшинский") == [base["anna"]]  # any case, ё as е
    assert await found("root", "ЛЁВШИНСКИЙ ПЕР") == [base["anna"]]
    assert await found("root", "арбат, д. 1") == [base["maria"]]
    assert await found("root", f"№{base['oleg']}") == [base["oleg"]]
    assert await found("root", "15 000 000") == [base["anna"]]
    assert await found("root", "10000000") == [base["oleg"]]  # within 5 %
    assert await found("root", "100%") == []  # LIKE wildcards are text
    assert await found("root", "") == []
    assert await found("anna", "арбат") == []  # another department's object is not offered
    assert await found("spbagent", "Невский") == [base["spb"]]


async def test_links_from_inquiries_and_calls_are_counted_once_and_written_to_history(world, base):
    anna = world.actors["anna"]
    first = await world.inquiry("anna", phone="+79163330002")
    second = await world.inquiry("anna", phone="+79163330003")
    assert await P.link_inquiry(world.sessions, anna, first, base["anna"]) is True
    assert await P.link_inquiry(world.sessions, anna, first, base["anna"]) is False
    await P.link_inquiry(world.sessions, anna, second, base["anna"])
    async with world.sessions() as s, s.begin():
        call = Call(uniqueid="1700000000.1", direction="inbound", caller="+79163330002", agent_id=anna.user_id,
                    inquiry_id=first, client_id=(await s.get(Inquiry, first)).client_id)
        foreign = Call(uniqueid="1700000000.2", direction="inbound", caller="+79163330009",
                       agent_id=world.users["maria"])
        s.add_all([call, foreign])
    assert await P.link_call(world.sessions, anna, call.id, base["anna"]) is True
    assert await P.link_call(world.sessions, anna, call.id, base["anna"]) is False
    with pytest.raises(NotFound):
        await P.link_call(world.sessions, anna, foreign.id, base["anna"])
    with pytest.raises(NotFound):  # maria's object is not anna's to link
        await P.link_inquiry(world.sessions, anna, first, base["maria"])
    with pytest.raises(NotFound):  # nor is anna's inquiry maria's
        await P.link_inquiry(world.sessions, world.actors["maria"], first, base["maria"])
    async with world.sessions() as s:
        stats = await property_queries.property_stats(s, base["anna"])
        assert (stats.inquiries, stats.calls) == (2, 1)
        assert (await s.get(Inquiry, first)).property_id == base["anna"]
        events = (await s.execute(select(InquiryEvent.kind, InquiryEvent.note)
                                  .where(InquiryEvent.inquiry_id == first))).all()
        timeline = (await s.execute(select(TimelineEntry.kind).where(TimelineEntry.inquiry_id == first))).scalars()
        assert events.count(("property_linked", "Москва, ул. Лёвшинский пер., д. 3")) == 1
        assert list(timeline).count("property_linked") == 2  # the inquiry's link and the call's


async def test_bad_property_input_names_the_field(world):
    def errors(**kw):  # noqa: ANN003, ANN202
        with pytest.raises(ValidationError) as exc:
            PropertyInput(**kw)
        return {str(e["loc"][0]) if e["loc"] else "form" for e in exc.value.errors()}

    assert errors(address="") == {"address"}
    assert errors(address="Москва, ул. Лесная", price="дорого") == {"price"}
    assert errors(address="Москва, ул. Лесная", price="-5") == {"price"}
    assert errors(address="Москва, ул. Лесная", deal_type="swap") == {"deal_type"}
    assert errors(address="Москва, ул. Лесная", property_type="castle") == {"property_type"}
    assert errors(address="Москва, ул. Лесная", liquidity="super") == {"liquidity"}
    assert errors(address="Москва, ул. Лесная", lat="95", lon="37") == {"lat"}
    assert errors(address="Москва, ул. Лесная", lat="55.7") == {"form"}
    with pytest.raises(FieldError) as exc:  # an agent cannot hand an object to a colleague
        await P.create_property(world.sessions, world.actors["anna"], PropertyInput(
            address="Москва, ул. Лесная", agent_id=world.users["oleg"]))
    assert exc.value.field == "agent_id"
    with pytest.raises(FieldError) as exc:  # a head can, but only within the department
        await P.create_property(world.sessions, world.actors["boss"], PropertyInput(
            address="Москва, ул. Лесная", agent_id=world.users["maria"]))
    assert exc.value.field == "agent_id"
    with pytest.raises(FieldError) as exc:  # an owner client out of reach
        await P.create_property(world.sessions, world.actors["anna"], PropertyInput(
            address="Москва, ул. Лесная", owner_client_id=999999))
    assert exc.value.field == "owner_client_id"
    prop_id = await P.create_property(world.sessions, world.actors["boss"], PropertyInput(
        address="Москва, ул. Лесная", agent_id=world.users["oleg"]))
    assert prop_id in await _tab(world, "oleg", "mine")
