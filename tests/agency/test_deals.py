"""Deals grow out of inquiries and move through the funnel the administrator edits; viewings and contracts
are steps closed with a result from the directory, and all of it shows in the history and on the timeline."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from agency import deal_directories, deal_queries, deals
from agency.deal_forms import DealError, ResultInput, StepInput
from agency.properties import create_property, link_inquiry
from agency.property_forms import PropertyInput
from crm_core.access import Forbidden, NotFound
from crm_core.models import InquiryEvent, Task, TimelineEntry, utcnow
from crm_core.models.agency import Deal, DealStep, FunnelStage, ResultKind


async def _history(world, inquiry_id):  # noqa: ANN001, ANN202
    async with world.sessions() as s:
        return [(e.kind, e.note) for e in (await s.execute(
            select(InquiryEvent).where(InquiryEvent.inquiry_id == inquiry_id).order_by(InquiryEvent.id))).scalars()]


async def _timeline(world, inquiry_id):  # noqa: ANN001, ANN202
    async with world.sessions() as s:
        return [(e.kind, e.summary) for e in (await s.execute(
            select(TimelineEntry).where(TimelineEntry.inquiry_id == inquiry_id).order_by(TimelineEntry.id)
        )).scalars()]


async def _result(world, name):  # noqa: ANN001, ANN202
    async with world.sessions() as s:
        return (await s.execute(select(ResultKind.id).where(ResultKind.name == name))).scalar_one()


async def test_a_deal_grows_out_of_an_inquiry_at_the_first_stage_once(world):
    inquiry_id = await world.inquiry("anna", phone="+79161234567")
    deal_id = await deals.open_deal(world.sessions, world.actors["anna"], inquiry_id)
    again = await deals.open_deal(world.sessions, world.actors["anna"], inquiry_id)
    assert again == deal_id
    async with world.sessions() as s:
        view = await deal_queries.deal_view(s, world.actors["anna"], deal_id)
    assert view.stage.name == "Новая"
    assert [st.name for st in view.stages][:2] == ["Новая", "Подбор вариантов"]
    assert {r.name for r in view.results} >= {"Клиент заинтересован", "Просмотр проведён", "Договор подписан"}
    assert ("deal_opened", "Новая") in await _history(world, inquiry_id)
    assert ("deal_opened", "Новая") in await _timeline(world, inquiry_id)


async def test_two_simultaneous_opens_give_one_deal(world):
    inquiry_id = await world.inquiry("anna", phone="+79161234568")
    ids = await asyncio.gather(*(deals.open_deal(world.sessions, world.actors["anna"], inquiry_id)
                                 for _ in range(4)))
    assert len(set(ids)) == 1
    async with world.sessions() as s:
        assert len((await s.execute(select(Deal).where(Deal.inquiry_id == inquiry_id))).all()) == 1


async def test_planned_viewing_becomes_the_agents_task_and_closing_it_records_the_result(world):
    anna = world.actors["anna"]
    inquiry_id = await world.inquiry("anna", phone="+79161234569")
    prop_id = await create_property(world.sessions, anna, PropertyInput(
        address="Москва, ул. Лесная, д. 5, кв. 12", district="Тверской", deal_type="sale", price="12 500 000"))
    await link_inquiry(world.sessions, anna, inquiry_id, prop_id)
    deal_id = await deals.open_deal(world.sessions, anna, inquiry_id)
    when = utcnow() + timedelta(days=1)
    step_id = await deals.record_step(world.sessions, anna, deal_id, StepInput(kind="viewing", at=when, planned=True))
    async with world.sessions() as s:
        task = (await s.execute(select(Task).where(Task.inquiry_id == inquiry_id, Task.kind == "viewing"))).scalar_one()
    assert (task.assignee_id, task.status, task.due_at) == (anna.user_id, "open", when)
    assert "ул. Лесная" in task.note

    done = await _result(world, "Просмотр проведён")
    await deals.close_step(world.sessions, anna, step_id, done, note="Понравилась кухня")
    async with world.sessions() as s:
        step = await s.get(DealStep, step_id)
        task = await s.get(Task, task.id)
        view = await deal_queries.deal_view(s, anna, deal_id)
    assert (step.status, step.result_id, step.property_id, task.status) == ("done", done, prop_id, "done")
    assert view.steps[0].result == "Просмотр проведён" and view.steps[0].address.startswith("Москва, ул. Лесная")
    history = await _history(world, inquiry_id)
    assert ("viewing", "Москва, ул. Лесная, д. 5, кв. 12 · Просмотр проведён — Понравилась кухня") in history
    assert [k for k, _ in await _timeline(world, inquiry_id)].count("viewing") == 1
    with pytest.raises(DealError) as err:
        await deals.close_step(world.sessions, anna, step_id, done)
    assert err.value.field == "result_id"


async def test_a_result_must_come_from_the_directory_and_fit_the_step(world):
    anna = world.actors["anna"]
    inquiry_id = await world.inquiry("anna", phone="+79161234570")
    deal_id = await deals.open_deal(world.sessions, anna, inquiry_id)
    signed = await _result(world, "Договор подписан")
    with pytest.raises(DealError) as err:
        await deals.record_step(world.sessions, anna, deal_id, StepInput(kind="action", at=utcnow(),
                                                                          result_id=signed))
    assert err.value.field == "result_id"
    with pytest.raises(DealError) as err:
        await deals.record_step(world.sessions, anna, deal_id, StepInput(kind="contract", at=utcnow()))
    assert err.value.field == "result_id"
    with pytest.raises(DealError) as err:  # a viewing of what? the deal has no property yet
        await deals.record_step(world.sessions, anna, deal_id, StepInput(kind="viewing", at=utcnow(),
                                                                          result_id=signed))
    assert err.value.field == "property_id"
    await deals.record_step(world.sessions, anna, deal_id, StepInput(kind="contract", at=utcnow(), result_id=signed,
                                                                      note="Договор №15"))
    assert ("contract", "Договор подписан — Договор №15") in await _history(world, inquiry_id)
    async with world.sessions() as s:
        assert (await s.execute(select(DealStep.kind).where(DealStep.deal_id == deal_id))).scalars().all() == [
            "contract"]


async def test_funnel_counts_received_deals_and_positive_stages(world):
    anna, root = world.actors["anna"], world.actors["root"]
    ids = [await world.inquiry("anna", phone=f"+7916555000{n}") for n in range(4)]
    deal_a = await deals.open_deal(world.sessions, anna, ids[0])
    deal_b = await deals.open_deal(world.sessions, anna, ids[1])
    async with world.sessions() as s:
        by_name = {st.name: st.id for st in await deal_directories.stages(s, deal_directories.DEFAULT_LIST)}
    await deals.set_stage(world.sessions, anna, deal_a, by_name["Просмотры"])
    await deals.set_stage(world.sessions, anna, deal_b, by_name["Договор"], note="аванс внесён")
    await deals.set_stage(world.sessions, anna, deal_b, by_name["Просмотры"])  # back: stays counted as reached
    async with world.sessions() as s:
        f = await deal_queries.funnel(s, root, department_id=world.departments["sales"])
        f_rent = await deal_queries.funnel(s, root, department_id=world.departments["rent"])
    assert (f.received, f.deals, f.positive) == (4, 2, 1)
    assert dict((n, c) for n, _, c in f.by_stage) == {"Просмотры": 2}
    assert (f_rent.received, f_rent.deals, f_rent.positive) == (0, 0, 0)
    history = await _history(world, ids[1])
    assert ("deal_stage", "Договор — аванс внесён") in history


async def test_admin_gives_a_department_its_own_funnel_and_other_departments_keep_the_default(world):
    root = world.actors["root"]
    sales = world.departments["sales"]
    await deal_directories.ensure_defaults(world.sessions)
    await deal_directories.copy_default_stages(world.sessions, root, sales)
    extra = await deal_directories.add_stage(world.sessions, root, sales, "  Задаток  ", positive=True)
    async with world.sessions() as s:
        own = await deal_directories.stages(s, sales)
    novaya = own[0]
    await deal_directories.update_stage(world.sessions, root, extra, move="up")
    await deal_directories.update_stage(world.sessions, root, extra, move="up")  # now before «Договор»
    await deal_directories.update_stage(world.sessions, root, novaya.id, name="Первичный контакт")
    closed = next(st for st in own if st.name == "Сделка закрыта")
    await deal_directories.update_stage(world.sessions, root, closed.id, active=False)
    with pytest.raises(DealError):
        await deal_directories.add_stage(world.sessions, root, sales, "Задаток", positive=False)
    async with world.sessions() as s:
        names = [st.name for st in await deal_directories.stages(s, sales)]
        default_names = [st.name for st in await deal_directories.stages(s, deal_directories.DEFAULT_LIST)]
    assert names == ["Первичный контакт", "Подбор вариантов", "Просмотры", "Задаток", "Договор"]
    assert default_names[0] == "Новая" and "Задаток" not in default_names

    sales_deal = await deals.open_deal(world.sessions, world.actors["anna"],
                                       await world.inquiry("anna", phone="+79161110001"))
    rent_deal = await deals.open_deal(world.sessions, world.actors["maria"],
                                      await world.inquiry("maria", phone="+79161110002"))
    async with world.sessions() as s:
        assert (await deal_queries.deal_view(s, world.actors["anna"], sales_deal)).stage.name == "Первичный контакт"
        assert (await deal_queries.deal_view(s, world.actors["maria"], rent_deal)).stage.name == "Новая"
        default_stage = (await s.execute(select(FunnelStage.id).where(
            FunnelStage.list_key == deal_directories.DEFAULT_LIST, FunnelStage.name == "Договор"))).scalar_one()
    with pytest.raises(DealError) as err:  # the default list's stage is not in the sales funnel
        await deals.set_stage(world.sessions, world.actors["anna"], sales_deal, default_stage)
    assert err.value.field == "stage_id"
    for who in ("anna", "boss", "director"):
        with pytest.raises(Forbidden):
            await deal_directories.add_stage(world.sessions, world.actors[who], sales, "Чужая", positive=False)
    with pytest.raises(Forbidden):
        await deal_directories.save_result(world.sessions, world.actors["boss"], ResultInput(name="Своё"))


async def test_admin_edits_the_results_directory(world):
    root = world.actors["root"]
    await deal_directories.ensure_defaults(world.sessions)
    new_id = await deal_directories.save_result(world.sessions, root, ResultInput(name="Аванс получен",
                                                                                  applies_to="contract",
                                                                                  positive=True))
    interested = await _result(world, "Клиент заинтересован")
    await deal_directories.save_result(world.sessions, root, ResultInput(name="Клиент заинтересован", active=False),
                                       interested)
    with pytest.raises(DealError):
        await deal_directories.save_result(world.sessions, root, ResultInput(name="Аванс получен"))
    async with world.sessions() as s:
        names = [r.name for r in await deal_directories.results(s)]
    assert "Аванс получен" in names and "Клиент заинтересован" not in names
    anna = world.actors["anna"]
    deal_id = await deals.open_deal(world.sessions, anna, await world.inquiry("anna", phone="+79161110003"))
    with pytest.raises(DealError):  # switched off: no longer offered, no longer accepted
        await deals.record_step(world.sessions, anna, deal_id, StepInput(kind="action", at=utcnow(),
                                                                          result_id=interested))
    await deals.record_step(world.sessions, anna, deal_id, StepInput(kind="contract", at=utcnow(), result_id=new_id))


async def test_each_role_sees_and_changes_only_the_deals_in_its_reach(world):
    anna_inquiry = await world.inquiry("anna", phone="+79162220001")
    deal_id = await deals.open_deal(world.sessions, world.actors["anna"], anna_inquiry)
    async with world.sessions() as s:
        stage = (await deal_directories.stages(s, deal_directories.DEFAULT_LIST))[1].id
    for who in ("oleg", "maria", "mgr", "spbagent", "spbhead"):
        async with world.sessions() as s:
            with pytest.raises(NotFound):
                await deal_queries.deal_view(s, world.actors[who], deal_id)
        with pytest.raises(NotFound):
            await deals.set_stage(world.sessions, world.actors[who], deal_id, stage)
        with pytest.raises(NotFound):
            await deals.open_deal(world.sessions, world.actors[who], anna_inquiry)
    async with world.sessions() as s:
        assert (await deal_queries.deal_view(s, world.actors["director"], deal_id)).can_write is False
        assert [d.id for d in await deal_queries.list_deals(s, world.actors["director"])] == [deal_id]
        assert await deal_queries.list_deals(s, world.actors["maria"]) == []
    with pytest.raises(Forbidden):
        await deals.set_stage(world.sessions, world.actors["director"], deal_id, stage)
    await deals.set_stage(world.sessions, world.actors["boss"], deal_id, stage)  # the department head may
    await deals.set_stage(world.sessions, world.actors["root"], deal_id, stage)  # unchanged: no new step
    async with world.sessions() as s:
        steps = (await s.execute(select(DealStep).where(DealStep.deal_id == deal_id))).scalars().all()
    assert [(st.kind, st.agent_id) for st in steps] == [("stage", world.users["boss"])]
