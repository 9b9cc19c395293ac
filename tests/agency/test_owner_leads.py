"""The INTRUM process end to end on a fake clock: owner leads imported in bulk become cold-call tasks for the
call center; no answer comes back after the set time and gives up after N tries; a reached owner's property
goes through routing to the agent of its territory with a «назначить просмотр» task; the viewing and the
deal stage that follow are counted in the funnel."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from agency import cold_calls, deal_directories, deal_queries, deals
from agency.cold_calls import ColdCallSettings
from agency.deal_forms import DealError, StepInput
from agency.owner_lead_import import chunks_in_thread, chunks_of, import_owner_leads, read_lead_file
from crm_core.access import NotFound
from crm_core.importer import ImportFileError
from crm_core.models import Client, Contact, Inquiry, Property, RoutingDecision, Task, User
from crm_core.models.agency import OwnerLead, ResultKind
from crm_core.models.routing import TeamOffer
from routing.queries import save_rule_data
from routing.service import RoutingService

MSK = ZoneInfo("Europe/Moscow")
T0 = datetime(2025, 3, 5, 10, 0, tzinfo=MSK)  # a working Wednesday morning

CSV = """Адрес;Телефон собственника;Собственник;Район;Тип объекта;Сделка;Цена
Москва, Лёвшинский пер., д. 3, кв. 5;+7 916 100-00-01;Иван Петров;Хамовники;квартира;продажа;15 000 000
Москва, ул. Арбат, д. 10, кв. 2;8 (916) 100-00-02;Ольга;Арбат;Квартира;аренда;120000
москва, левшинский пер.,  д. 3, кв. 5;89161000001;Иван;Хамовники;квартира;продажа;15000000
Москва, ул. Пречистенка, д. 1;12345;Некто;Хамовники;квартира;продажа;1
;+79161000009;Без адреса;Хамовники;квартира;продажа;1
Москва, ул. Остоженка, д. 7;+79161000003;Пётр;Хамовники;замок;продажа;1
""".encode("cp1251")


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


async def _import(world, data: bytes = CSV, name: str = "leads.csv"):  # noqa: ANN001, ANN202
    return await import_owner_leads(world.sessions, chunks_in_thread(read_lead_file(data, name)),
                                    department_id=world.departments["cc"], source="ЦИАН, собственники", now=T0)


async def _task(world, lead_id: int) -> Task:  # noqa: ANN001
    async with world.sessions() as s:
        lead = await s.get(OwnerLead, lead_id)
        return await s.get(Task, lead.task_id)


async def test_bulk_import_makes_one_cold_call_task_per_new_owner_property_and_names_bad_rows(world):
    report = await _import(world)
    assert (report.rows, report.created, report.duplicates) == (6, 2, 1)
    assert sorted((e.row, e.field) for e in report.errors) == [(5, "phone"), (6, "address"), (7, "property_type")]
    async with world.sessions() as s:
        tasks = (await s.execute(select(Task).where(Task.kind == "cold_call").order_by(Task.id))).scalars().all()
        props = (await s.execute(select(Property).order_by(Property.id))).scalars().all()
        owner = (await s.execute(select(Client).join(Contact).where(Contact.value == "+79161000001"))).scalar_one()
    assert [(t.status, t.department_id, t.due_at, t.phone) for t in tasks] == [
        ("open", world.departments["cc"], T0, "+79161000001"), ("open", world.departments["cc"], T0, "+79161000002")]
    assert [(p.district, p.property_type, p.deal_type, int(p.price)) for p in props] == [
        ("Хамовники", "flat", "sale", 15_000_000), ("Арбат", "flat", "rent", 120_000)]
    assert owner.name == "Иван Петров" and props[0].owner_client_id == owner.id

    again = await _import(world)  # the same file again: nothing new
    assert (again.created, again.duplicates) == (0, 3)
    async with world.sessions() as s:
        assert len((await s.execute(select(OwnerLead))).all()) == 2


async def test_a_file_that_is_not_a_lead_list_is_refused_whole(world):
    with pytest.raises(ImportFileError, match="Телефон"):
        await _import(world, "Адрес;Цена\nМосква, ул. Лесная;1\n".encode())
    with pytest.raises(ImportFileError):
        await _import(world, b"%PDF-1.4 ...", "leads.pdf")


async def test_intrum_process_end_to_end_on_a_fake_clock(world, bus):
    sales, rent = world.departments["sales"], world.departments["rent"]
    async with world.sessions() as s, s.begin():
        await s.execute(update(User).where(User.id.in_([world.users["anna"], world.users["maria"]]))
                        .values(status="available"))
    await save_rule_data(world.sessions, {"rules": [
        {"id": "hamovniki", "priority": 10, "when": {"districts": ["Хамовники"]},
         "target": {"departments": [sales]}, "strategy": "least_loaded", "owner_first": False},
        {"id": "arbat", "priority": 20, "when": {"districts": ["Арбат"]},
         "target": {"departments": [rent]}, "strategy": "least_loaded", "owner_first": False},
    ]})
    clock = Clock(T0)
    routing = RoutingService(world.sessions, bus, clock=clock)
    await routing.start()
    await routing.caught_up()
    try:
        report = await _import(world)
        hamovniki, arbat = report.lead_ids
        caller = world.actors["caller"]
        settings = ColdCallSettings(retry_after_minutes=90, max_attempts=3)

        # No answer: the same task comes back 90 minutes later, free for any caller of the call center.
        task = await _task(world, hamovniki)
        out = await cold_calls.cold_call_result(world.sessions, bus, caller, task.id, "no_answer", settings=settings,
                                                now=T0)
        assert (out.status, out.retry_at) == ("calling", T0 + timedelta(minutes=90))
        task = await _task(world, hamovniki)
        assert (task.status, task.due_at, task.attempts) == ("open", T0 + timedelta(minutes=90), 1)

        # The other owner never answers: after three tries the task gives up.
        arbat_task = (await _task(world, arbat)).id
        for n, outcome in enumerate(("no_answer", "busy", "no_answer")):
            out = await cold_calls.cold_call_result(world.sessions, bus, caller, arbat_task, outcome,
                                                    settings=settings, now=T0 + timedelta(minutes=n))
        assert out.status == "gave_up" and (await _task(world, arbat)).status == "failed"
        with pytest.raises(DealError):
            await cold_calls.cold_call_result(world.sessions, bus, caller, arbat_task, "no_answer", settings=settings)

        # Out of reach for another department's agent and for the director.
        for who in ("maria", "director"):
            with pytest.raises(NotFound):
                await cold_calls.cold_call_result(world.sessions, bus, world.actors[who], task.id, "reached")

        # Reached after the retry: the owner's inquiry is routed by territory (Хамовники → sales → anna).
        clock.now = T0 + timedelta(minutes=90)
        out = await cold_calls.cold_call_result(world.sessions, bus, caller, task.id, "reached", settings=settings,
                                                now=clock.now, note="Готов показать в субботу")
        assert out.status == "reached" and out.agent_id == world.users["anna"]
        async with world.sessions() as s:
            inquiry = await s.get(Inquiry, out.inquiry_id)
            viewing = await s.get(Task, out.viewing_task_id)
            prop = await s.get(Property, inquiry.property_id)
            decision = (await s.execute(select(RoutingDecision).where(
                RoutingDecision.inquiry_id == inquiry.id))).scalar_one()
        assert (inquiry.owner_id, inquiry.source, decision.rule) == (world.users["anna"], "ЦИАН, собственники",
                                                                     "hamovniki")
        assert (viewing.kind, viewing.assignee_id, viewing.status) == ("viewing", world.users["anna"], "open")
        assert viewing.note == "Назначить просмотр: Москва, Лёвшинский пер., д. 3, кв. 5"
        assert (prop.agent_id, prop.department_id) == (world.users["anna"], sales)
        assert (await _task(world, hamovniki)).status == "done"

        # The agent records the viewing and moves the deal: the funnel counts it.
        anna = world.actors["anna"]
        deal_id = await deals.open_deal(world.sessions, anna, inquiry.id)
        async with world.sessions() as s:
            held = (await s.execute(select(ResultKind.id).where(ResultKind.name == "Просмотр проведён"))).scalar_one()
            contract = next(st.id for st in await deal_directories.stages(s, deal_directories.DEFAULT_LIST)
                            if st.name == "Договор")
        await deals.record_step(world.sessions, anna, deal_id, StepInput(kind="viewing", at=clock.now,
                                                                          result_id=held))
        await deals.set_stage(world.sessions, anna, deal_id, contract)
        async with world.sessions() as s:
            funnel = await deal_queries.funnel(s, world.actors["boss"], department_id=sales)
        assert (funnel.received, funnel.deals, funnel.positive) == (1, 1, 1)
    finally:
        await routing.stop()


async def test_leads_from_json_items_are_deduplicated_like_the_file(world):
    items = [(1, {"address": "Москва, ул. Лесная, д. 1", "phone": "+79161000100", "price": "5000000"}),
             (2, {"address": "Москва, ул. Лесная, д. 1", "phone": "8 916 100 01 00"}),
             (3, {"address": "Москва, ул. Лесная, д. 2", "phone": "+79161000100", "deal_type": "аренда"})]
    report = await import_owner_leads(world.sessions, chunks_of(items), department_id=None, now=T0)
    assert (report.created, report.duplicates, report.errors) == (2, 1, [])
    async with world.sessions() as s:
        owners = (await s.execute(select(Property.owner_client_id))).scalars().all()
    assert len(set(owners)) == 1  # one owner with two properties


async def test_a_reached_owner_offered_to_all_agents_goes_to_the_one_who_claims_first(world, bus):
    sales = world.departments["sales"]
    async with world.sessions() as s, s.begin():
        await s.execute(update(User).where(User.id.in_([world.users["anna"], world.users["oleg"]]))
                        .values(status="available"))
    await save_rule_data(world.sessions, {"rules": [
        {"id": "claim", "priority": 10, "target": {"departments": [sales]}, "strategy": "team_claim",
         "owner_first": False, "offer_seconds": 600}]})
    routing = RoutingService(world.sessions, bus, clock=Clock(T0))
    await routing.start()
    await routing.caught_up()
    cold_calls.subscribe(bus, world.sessions)  # as bootstrap wires it
    try:
        report = await _import(world)
        task = await _task(world, report.lead_ids[0])
        out = await cold_calls.cold_call_result(world.sessions, bus, world.actors["caller"], task.id, "reached", now=T0)
        assert out.agent_id is None  # offered, nobody's yet
        async with world.sessions() as s:
            offer = (await s.execute(select(TeamOffer).where(TeamOffer.inquiry_id == out.inquiry_id))).scalar_one()
            assert (await s.get(Task, out.viewing_task_id)).assignee_id is None
        wins = await asyncio.gather(routing.claim_offer(offer.id, world.users["anna"]),
                                    routing.claim_offer(offer.id, world.users["oleg"]))
        assert sorted(wins) == [False, True]
        winner = world.users["anna"] if wins[0] else world.users["oleg"]
        async with world.sessions() as s:
            inquiry = await s.get(Inquiry, out.inquiry_id)
            viewing = await s.get(Task, out.viewing_task_id)
            prop = await s.get(Property, inquiry.property_id)
        assert inquiry.owner_id == viewing.assignee_id == prop.agent_id == winner
        assert prop.department_id == sales
    finally:
        await routing.stop()
