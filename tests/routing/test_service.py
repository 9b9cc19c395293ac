"""The routing service on both databases: new inquiries reach an agent with the reason recorded, once."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from bus.events import AgentStatusChanged, InquiryAssigned, InquiryOpened
from crm_core.intake import IntakeService
from crm_core.models import Inquiry, InquiryEvent, Pool, RoutingDecision, User
from crm_core.models.routing import RoutingRule
from routing.queries import load_rule_data, save_rule_data
from routing.rules import RuleSetError
from routing.service import RoutingService
from tests.routing.dbworld import WEDNESDAY_10, FakeClock, decisions, inquiry, open_inquiry, seed, service, set_rules


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(WEDNESDAY_10)


async def started(db, bus, clock) -> tuple[RoutingService, IntakeService]:  # noqa: ANN001
    svc = service(db, bus, clock)
    await svc.start()
    await svc.caught_up()
    return svc, IntakeService(db.sessions, bus)


async def test_new_web_form_goes_to_the_least_loaded_available_agent_with_the_reasons_kept(db, bus, clock):
    agency = await seed(db)
    await set_rules(db, [{"id": "sales", "priority": 10, "target": {"departments": [agency.sales]},
                          "strategy": "least_loaded", "owner_first": False}])
    assigned: list[InquiryAssigned] = []

    async def record(e: InquiryAssigned) -> None:
        assigned.append(e)

    bus.subscribe(InquiryAssigned, record)
    svc, intake = await started(db, bus, clock)
    first = await open_inquiry(intake)
    second = await open_inquiry(intake)
    owners = {(await inquiry(db, first)).owner_id, (await inquiry(db, second)).owner_id}
    assert owners == {agency.users["anna"], agency.users["oleg"]}  # one each: the second saw the first's load
    [d] = await decisions(db, second)
    why = d.explanation
    assert why["rule"]["id"] == "sales" and why["strategy"] == "least_loaded"
    assert {n["agent_id"]: n["reason"] for n in why["not_eligible"]} == {agency.users["ivan"]: "offline"}
    loads = {e["agent_id"]: e["load"] for e in why["eligible"]}
    assert sorted(loads.values()) == [0, 1]
    assert why["names"][str(d.agent_id)] in why["summary"]
    assert [e.inquiry_id for e in assigned] == [first, second]


async def test_a_big_team_s_decision_lists_the_chosen_and_the_least_loaded_and_counts_the_rest(db, bus, clock):
    """60 available and 40 offline agents: the stored reason names at most 25 of each kind (the chosen one
    first), counts all of them, and the page says how many more there were."""
    team = {f"a{i:02d}": ("sales", "available") for i in range(60)} | {f"z{i:02d}": ("sales", "offline")
                                                                      for i in range(40)}
    agency = await seed(db, team)
    await set_rules(db, [{"id": "sales", "priority": 10, "target": {"departments": [agency.sales]},
                          "strategy": "least_loaded", "owner_first": False}])
    svc, intake = await started(db, bus, clock)
    first = await open_inquiry(intake)
    second = await open_inquiry(intake)
    [d] = await decisions(db, second)
    why = d.explanation
    assert why["eligible_total"] == 60 and why["not_eligible_total"] == 40  # heads are not routed to
    assert len(why["eligible"]) == 25 and len(why["not_eligible"]) == 25
    assert why["eligible"][0]["agent_id"] == d.agent_id
    first_owner = (await inquiry(db, first)).owner_id
    assert first_owner not in {e["agent_id"] for e in why["eligible"]}  # loaded: not among the 24 idle shown
    assert set(why["names"]) == {str(e["agent_id"]) for e in why["eligible"]} | {
        str(n["agent_id"]) for n in why["not_eligible"]}
    assert "подходили 60, не подходили 40" in why["summary"]


async def test_a_replayed_inquiry_opened_event_routes_nothing_twice(db, bus, clock):
    agency = await seed(db)
    await set_rules(db, [{"id": "sales", "priority": 10, "target": {"departments": [agency.sales]}}])
    svc, intake = await started(db, bus, clock)
    inquiry_id = await open_inquiry(intake)
    owner = (await inquiry(db, inquiry_id)).owner_id
    event = InquiryOpened(inquiry_id, 1, "webform", "x")
    await asyncio.gather(*(bus.publish(event) for _ in range(5)))
    assert len(await decisions(db, inquiry_id)) == 1
    assert (await inquiry(db, inquiry_id)).owner_id == owner


async def test_round_robin_continues_where_it_stopped_after_a_restart(db, bus, clock):
    agency = await seed(db, {"a1": ("sales", "available"), "a2": ("sales", "available"),
                             "a3": ("sales", "available")})
    await set_rules(db, [{"id": "rr", "priority": 1, "target": {"departments": [agency.sales]},
                          "strategy": "round_robin", "owner_first": False}])
    svc, intake = await started(db, bus, clock)
    got = [(await svc.route(await _quiet_inquiry(db, intake))).agent_id for _ in range(2)]
    await svc.stop()
    restarted = service(db, bus, clock)  # a new process: only the database remembers
    await restarted.start()
    await restarted.caught_up()
    got.append((await restarted.route(await _quiet_inquiry(db, intake))).agent_id)
    got.append((await restarted.route(await _quiet_inquiry(db, intake))).agent_id)
    ids = [agency.users[x] for x in ("a1", "a2", "a3")]
    assert got == [ids[0], ids[1], ids[2], ids[0]]


async def _quiet_inquiry(db, intake: IntakeService) -> int:  # noqa: ANN001
    """An inquiry opened while no routing service listens (the test routes it by hand)."""
    bus_handlers = intake._bus._handlers  # noqa: SLF001 - park the subscribers for this one intake
    saved = dict(bus_handlers)
    bus_handlers.clear()
    try:
        return await open_inquiry(intake)
    finally:
        bus_handlers.update(saved)


async def test_nobody_eligible_sends_it_to_the_department_pool_with_each_reason(db, bus, clock):
    agency = await seed(db, {"ivan": ("sales", "offline"), "petr": ("sales", "break")})
    await set_rules(db, [{"id": "sales", "priority": 10, "target": {"departments": [agency.sales]},
                          "on_no_agent": "department_pool"}])
    svc, intake = await started(db, bus, clock)
    inquiry_id = await _quiet_inquiry(db, intake)
    async with db.sessions() as s, s.begin():
        row = await s.get(Inquiry, inquiry_id)
        row.department_id = agency.sales
    routed = await svc.route(inquiry_id)
    i = await inquiry(db, inquiry_id)
    assert routed.outcome == "pool" and i.pool == Pool.DEPARTMENT and i.owner_id is None
    [d] = await decisions(db, inquiry_id)
    reasons = {n["agent_id"]: n["reason"] for n in d.explanation["not_eligible"]}
    assert reasons == {agency.users["ivan"]: "offline", agency.users["petr"]: "on break"}


async def test_a_refused_inquiry_goes_to_the_next_agent_and_three_refusals_archive_it(db, bus, clock):
    agency = await seed(db, {"a1": ("sales", "available"), "a2": ("sales", "available"),
                             "a3": ("sales", "available"), "a4": ("sales", "available")})
    await set_rules(db, [{"id": "sales", "priority": 10, "target": {"departments": [agency.sales]},
                          "owner_first": False}])
    svc, intake = await started(db, bus, clock)
    inquiry_id = await open_inquiry(intake)
    seen = []
    for _ in range(2):
        owner = (await inquiry(db, inquiry_id)).owner_id
        seen.append(owner)
        routed = await svc.refuse(inquiry_id, owner)
        assert routed.agent_id not in seen
    last = (await inquiry(db, inquiry_id)).owner_id
    assert await svc.refuse(inquiry_id, last) == "archived"
    i = await inquiry(db, inquiry_id)
    assert (i.pool, i.status, i.refusals, i.owner_id) == ("archive", "archived", 3, None)
    d = (await decisions(db, inquiry_id))[-1]
    excluded = {n["agent_id"]: n["reason"] for n in d.explanation["not_eligible"]}
    assert set(excluded.values()) == {"refused it"} and len(excluded) == 2


async def test_an_agent_going_offline_hands_unaccepted_inquiries_to_the_next_agent(db, bus, clock):
    agency = await seed(db, {"anna": ("sales", "available"), "oleg": ("sales", "available")})
    await set_rules(db, [{"id": "sales", "priority": 10, "target": {"departments": [agency.sales]},
                          "owner_first": False}])
    svc, intake = await started(db, bus, clock)
    first, second = await open_inquiry(intake), await open_inquiry(intake)
    anna, oleg = agency.users["anna"], agency.users["oleg"]
    accepted = first if (await inquiry(db, first)).owner_id == oleg else second
    assert await svc.accept(accepted, oleg)
    async with db.sessions() as s, s.begin():
        user = await s.get(User, anna)
        user.status = "offline"
    await bus.publish(AgentStatusChanged(anna, "offline", clock()))
    assert (await inquiry(db, first)).owner_id == oleg and (await inquiry(db, second)).owner_id == oleg
    moved = first if accepted == second else second
    d = (await decisions(db, moved))[-1]
    assert d.explanation["why"] == "offline"
    assert {n["agent_id"]: n["reason"] for n in d.explanation["not_eligible"]}[anna] == "offline"
    async with db.sessions() as s:
        kinds = (await s.execute(select(InquiryEvent.kind).where(InquiryEvent.inquiry_id == moved))).scalars().all()
    assert "rerouted" in kinds


async def test_bad_rules_are_refused_naming_rule_and_field_and_the_running_rules_stay(db, bus, clock):
    agency = await seed(db)
    good = [{"id": "sales", "priority": 10, "target": {"departments": [agency.sales]}}]
    await set_rules(db, good)
    bad = {"rules": [*good, {"id": "center", "priority": 10, "target": {"teams": [1]},
                             "when": {"districs": ["Хамовники"]}}]}
    with pytest.raises(RuleSetError) as err:
        await save_rule_data(db.sessions, bad)
    assert any(p.rule == 'rules[1] "center"' and p.field == "when.districs" and p.message == "unknown field"
               for p in err.value.problems)
    overlap = {"rules": [*good, {"id": "two", "priority": 10, "target": {"teams": [1]}}]}
    with pytest.raises(RuleSetError, match=r'rules\[1\] "two" field priority: priority 10 overlaps rule "sales"'):
        await save_rule_data(db.sessions, overlap)
    polygon = {"rules": [{"id": "poly", "priority": 1, "target": {"teams": [1]},
                          "when": {"polygon": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]}}}]}
    with pytest.raises(RuleSetError, match=r'"poly" field when.polygon'):
        await save_rule_data(db.sessions, polygon)
    async with db.sessions() as s:
        assert (await load_rule_data(s))["rules"] == [{"id": "sales", "priority": 10, "enabled": True,
                                                      "target": {"departments": [agency.sales]}}]
        assert (await s.execute(select(func.count()).select_from(RoutingRule))).scalar_one() == 1
    svc, intake = await started(db, bus, clock)
    inquiry_id = await open_inquiry(intake)
    [d] = await decisions(db, inquiry_id)
    assert d.explanation["rule"]["id"] == "sales"


async def test_with_no_rules_stored_the_default_rule_catches_everything(db, bus, clock):
    await seed(db)
    svc, intake = await started(db, bus, clock)
    inquiry_id = await open_inquiry(intake)  # no department, no rules: the default sends it to the common pool
    [d] = await decisions(db, inquiry_id)
    assert d.explanation["rule"]["id"] == "default" and d.pool == "common"
    assert (await inquiry(db, inquiry_id)).pool == Pool.COMMON


async def test_decisions_count_one_per_routing(db, bus, clock):
    agency = await seed(db)
    await set_rules(db, [{"id": "sales", "priority": 10, "target": {"departments": [agency.sales]}}])
    svc, intake = await started(db, bus, clock)
    ids = await asyncio.gather(*(open_inquiry(intake) for _ in range(8)))
    async with db.sessions() as s:
        n = (await s.execute(select(func.count()).select_from(RoutingDecision)
                             .where(RoutingDecision.inquiry_id.in_(ids)))).scalar_one()
    assert n == 8


async def test_fifty_simultaneous_claims_of_one_offer_give_exactly_one_owner(db, bus, clock):
    agents = {f"a{n:02d}": ("sales", "available") for n in range(50)}
    agency = await seed(db, agents)
    await set_rules(db, [{"id": "team", "priority": 1, "target": {"departments": [agency.sales]},
                          "strategy": "team_claim", "offer_seconds": 600, "owner_first": False}])
    svc, intake = await started(db, bus, clock)
    inquiry_id = await open_inquiry(intake)
    [(offer, _)] = await svc.open_offers_for(agency.users["a00"])
    ids = [agency.users[x] for x in agents]
    results = await asyncio.gather(*(svc.claim_offer(offer.id, u) for u in ids))
    assert results.count(True) == 1
    winner = ids[results.index(True)]
    i = await inquiry(db, inquiry_id)
    assert (i.owner_id, i.status) == (winner, "in_work")
    assert await svc.open_offers_for(agency.users["a01"]) == []


async def test_an_agent_outside_the_offer_or_after_its_deadline_cannot_claim(db, bus, clock):
    agency = await seed(db)
    await set_rules(db, [{"id": "team", "priority": 1, "target": {"departments": [agency.sales]},
                          "strategy": "team_claim", "offer_seconds": 600, "owner_first": False}])
    svc, intake = await started(db, bus, clock)
    inquiry_id = await open_inquiry(intake)
    [(offer, _)] = await svc.open_offers_for(agency.users["anna"])
    assert not await svc.claim_offer(offer.id, agency.users["maria"])  # another department
    clock.advance(minutes=11)
    assert not await svc.claim_offer(offer.id, agency.users["anna"])
    assert (await inquiry(db, inquiry_id)).owner_id is None


async def test_inquiries_opened_while_routing_was_down_are_routed_when_it_starts(db, bus, clock):
    agency = await seed(db)
    await set_rules(db, [{"id": "sales", "priority": 10, "target": {"departments": [agency.sales]}}])
    intake = IntakeService(db.sessions, bus)
    missed = [await open_inquiry(intake, received_at=clock()) for _ in range(3)]  # nobody listening yet
    svc = service(db, bus, clock)
    await svc.start()
    assert await svc.caught_up() == 3
    for inquiry_id in missed:
        assert (await inquiry(db, inquiry_id)).owner_id in (agency.users["anna"], agency.users["oleg"])
        assert len(await decisions(db, inquiry_id)) == 1
    await svc.stop()


async def test_inquiries_opened_together_are_routed_together_each_seeing_the_load_of_the_ones_before(db, bus, clock):
    agency = await seed(db)
    await set_rules(db, [{"id": "sales", "priority": 10, "target": {"departments": [agency.sales]},
                          "strategy": "least_loaded", "owner_first": False}])
    assigned: list[InquiryAssigned] = []

    async def record(e: InquiryAssigned) -> None:
        assigned.append(e)

    bus.subscribe(InquiryAssigned, record)
    svc, intake = await started(db, bus, clock)
    ids = await asyncio.gather(*(open_inquiry(intake) for _ in range(12)))
    owners = [(await inquiry(db, i)).owner_id for i in ids]
    anna, oleg = agency.users["anna"], agency.users["oleg"]
    assert sorted(owners) == sorted([anna] * 6 + [oleg] * 6)  # least loaded, the batch's own load counted
    for inquiry_id in ids:
        [d] = await decisions(db, inquiry_id)
        assert d.agent_id == (await inquiry(db, inquiry_id)).owner_id and d.explanation["why"] == "opened"
        assert d.explanation["names"][str(d.agent_id)] in d.explanation["summary"]
    assert sorted(e.inquiry_id for e in assigned) == sorted(ids)  # each announced once
    assert svc._opened.commits < len(ids) and svc._opened.largest > 1  # noqa: SLF001 - shared transactions
    async with db.sessions() as s:
        events = (await s.execute(select(InquiryEvent.inquiry_id).where(InquiryEvent.kind == "routed"))).scalars()
        assert sorted(events) == sorted(ids)


async def test_forms_arriving_together_are_stored_and_routed_in_one_transaction(db, bus, clock):
    """Wired as the hub wires it (``intake.routing``): a group of new inquiries is routed inside intake's
    transaction, each announced once, and routing's own transactions are not needed for them."""
    agency = await seed(db)
    await set_rules(db, [{"id": "sales", "priority": 10, "target": {"departments": [agency.sales]},
                          "strategy": "least_loaded", "owner_first": False}])
    assigned: list[InquiryAssigned] = []
    opened: list[InquiryOpened] = []

    async def record(e: InquiryAssigned | InquiryOpened) -> None:
        (assigned if isinstance(e, InquiryAssigned) else opened).append(e)

    bus.subscribe(InquiryAssigned, record)
    bus.subscribe(InquiryOpened, record)
    svc, intake = await started(db, bus, clock)
    intake.routing = svc
    ids = await asyncio.gather(*(open_inquiry(intake) for _ in range(12)))
    anna, oleg = agency.users["anna"], agency.users["oleg"]
    assert sorted([(await inquiry(db, i)).owner_id for i in ids]) == sorted([anna] * 6 + [oleg] * 6)
    for inquiry_id in ids:
        [d] = await decisions(db, inquiry_id)
        assert d.agent_id == (await inquiry(db, inquiry_id)).owner_id and d.explanation["why"] == "opened"
    assert sorted(e.inquiry_id for e in assigned) == sorted(ids)  # each announced once
    assert all(e.routed for e in opened) and len(opened) == len(ids)
    assert svc._opened.commits == 0 and intake._group.commits < len(ids)  # noqa: SLF001


async def test_routing_failing_inside_intake_keeps_the_forms_and_routes_them_on_their_own(db, bus, clock):
    agency = await seed(db)
    await set_rules(db, [{"id": "sales", "priority": 10, "target": {"departments": [agency.sales]}}])
    svc, intake = await started(db, bus, clock)
    intake.routing = svc
    real, failures = svc._route_many_in, []  # noqa: SLF001

    async def fails_inside_intake(s, ids, now):  # noqa: ANN001, ANN202
        if not failures:
            failures.append(ids)
            await real(s, ids, now)  # written, then undone with the savepoint
            raise RuntimeError("a bug in routing")
        return await real(s, ids, now)

    svc._route_many_in = fails_inside_intake  # noqa: SLF001
    ids = await asyncio.gather(*(open_inquiry(intake) for _ in range(4)))
    assert failures and set(failures[0]) <= set(ids)
    async with db.sessions() as s:
        assert (await s.execute(select(func.count()).select_from(Inquiry))).scalar_one() == 4
    for inquiry_id in ids:
        assert len(await decisions(db, inquiry_id)) == 1  # routed once, by routing's own transaction
        assert (await inquiry(db, inquiry_id)).owner_id in (agency.users["anna"], agency.users["oleg"])


async def test_a_rule_for_a_client_segment_sends_that_segments_clients_to_its_agent(db, bus, clock):
    from crm_core.models import Client, Contact, ContactKind, Segment, client_segments

    agency = await seed(db)
    await set_rules(db, [
        {"id": "vip", "priority": 1, "when": {"segments": ["VIP"]}, "target": {"agents": [agency.users["maria"]]}},
        {"id": "sales", "priority": 10, "target": {"departments": [agency.sales]}, "owner_first": False}])
    svc, intake = await started(db, bus, clock)
    async with db.sessions() as s, s.begin():
        vip = Client(name="Важный клиент")
        segment = Segment(name="vip")  # segments are compared as people write them: case does not matter
        s.add_all([vip, segment])
        await s.flush()
        s.add(Contact(client_id=vip.id, kind=ContactKind.PHONE, value="+79995550101"))
        await s.execute(client_segments.insert().values(client_id=vip.id, segment_id=segment.id))
    regular = await open_inquiry(intake)
    special = await open_inquiry(intake, phone="+79995550101")
    assert (await inquiry(db, special)).owner_id == agency.users["maria"]
    assert (await inquiry(db, regular)).owner_id in {agency.users["anna"], agency.users["oleg"]}
    [d] = await decisions(db, special)
    assert d.explanation["rule"]["id"] == "vip"
