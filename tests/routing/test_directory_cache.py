"""The cached agents' snapshot (DirectoryCache): never gives an inquiry over capacity or to someone who is not
available, whatever happened behind its back; events, profile and rota changes and the TTL bring it up to date."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import update

from crm_core.agent_states import set_status
from crm_core.intake import IntakeService
from crm_core.models import AgentStatus, Inquiry, InquiryStatus, User
from routing.queries import save_agent_profile, save_duty_rota
from routing.service import RoutingService
from tests.routing.dbworld import WEDNESDAY_10, FakeClock, inquiry, open_inquiry, seed, set_rules


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(WEDNESDAY_10)


async def _world(db, bus, clock, ttl: float = 300.0, capacity: int = 1):  # noqa: ANN001, ANN202
    agency = await seed(db, {"anna": ("sales", "available"), "oleg": ("sales", "available")})
    await set_rules(db, [{"id": "sales", "priority": 10, "target": {"departments": [agency.sales]},
                          "strategy": "least_loaded", "owner_first": False, "on_no_agent": "common_pool"}])
    for login in ("anna", "oleg"):
        await save_agent_profile(db.sessions, agency.users[login], routable=True, capacity={"webform": capacity},
                                 languages=["ru"], duty_schedule=None)
    svc = RoutingService(db.sessions, bus, clock=clock, directory_ttl_s=ttl)
    await svc.start()
    await svc.caught_up()
    return agency, svc, IntakeService(db.sessions, bus)


async def _give_behind_its_back(db, intake: IntakeService, svc: RoutingService, agent_id: int) -> int:  # noqa: ANN001
    """Another hub process (or a plain UPDATE) gives an inquiry to the agent: no event reaches this service."""
    svc.state = "stopped"
    try:
        inquiry_id = await open_inquiry(intake)
    finally:
        svc.state = "running"
    async with db.sessions() as s, s.begin():
        await s.execute(update(Inquiry).where(Inquiry.id == inquiry_id)
                        .values(owner_id=agent_id, status=InquiryStatus.IN_WORK))
    return inquiry_id


async def test_the_cache_never_gives_more_than_capacity_even_when_it_was_not_told(db, bus, clock):
    agency, svc, intake = await _world(db, bus, clock)
    anna, oleg = agency.users["anna"], agency.users["oleg"]
    first = await open_inquiry(intake)
    taken = (await inquiry(db, first)).owner_id
    other = oleg if taken == anna else anna
    assert svc.cache is not None and svc.cache.rebuilds == 1
    await _give_behind_its_back(db, intake, svc, other)  # the cache still thinks `other` is free
    third = await open_inquiry(intake)
    i = await inquiry(db, third)
    assert i.owner_id is None and i.pool == "common"  # both really at capacity 1/1: nobody gets a second
    assert svc.cache.corrections >= 1 and svc.cache.rebuilds == 1  # put right by re-reading, not rebuilt
    why = await _last_reasons(db, third)
    assert why == {anna: "at capacity webform 1/1", oleg: "at capacity webform 1/1"}


async def test_the_cache_never_gives_to_an_agent_who_went_offline_unannounced(db, bus, clock):
    agency, svc, intake = await _world(db, bus, clock)
    anna, oleg = agency.users["anna"], agency.users["oleg"]
    await open_inquiry(intake)  # builds the cache
    async with db.sessions() as s, s.begin():
        await s.execute(update(User).where(User.id.in_([anna, oleg])).values(status=AgentStatus.OFFLINE))
    async with db.sessions() as s, s.begin():
        await s.execute(update(Inquiry).values(status=InquiryStatus.DONE))  # capacity free again
    second = await open_inquiry(intake)
    i = await inquiry(db, second)
    assert i.owner_id is None and i.pool == "common"
    assert set((await _last_reasons(db, second)).values()) == {"offline"}


async def test_events_profile_and_rota_changes_reach_the_cache_before_the_next_decision(db, bus, clock):
    agency, svc, intake = await _world(db, bus, clock, capacity=5)
    anna, oleg = agency.users["anna"], agency.users["oleg"]
    await set_status(db.sessions, bus, oleg, AgentStatus.OFFLINE)
    first = await open_inquiry(intake)
    assert (await inquiry(db, first)).owner_id == anna
    await set_status(db.sessions, bus, oleg, AgentStatus.AVAILABLE)  # an event: oleg re-read, no rebuild
    second = await open_inquiry(intake)
    assert (await inquiry(db, second)).owner_id == oleg  # least loaded: he has 0/5, anna 1/5
    assert (svc.cache.rebuilds, svc.cache.refreshes) == (1, 1)
    await save_agent_profile(db.sessions, anna, routable=True, capacity={"webform": 20}, languages=["ru"],
                             duty_schedule=None)  # as if another process saved it: the stored version tells
    third = await open_inquiry(intake)
    assert (await inquiry(db, third)).owner_id == anna  # 1/20 beats his 1/5
    assert svc.cache.rebuilds == 2 and svc.cache.directory.get(anna).capacity["webform"] == 20
    await save_duty_rota(db.sessions, "never", name="Никогда", weekly={}, exceptions={}, holidays_off=True)
    await save_agent_profile(db.sessions, anna, routable=True, capacity={"webform": 20}, languages=["ru"],
                             duty_schedule="never")
    fourth = await open_inquiry(intake)
    assert (await inquiry(db, fourth)).owner_id == oleg  # anna is off duty on her new rota
    assert (await _last_reasons(db, fourth))[anna] == "off duty"


async def test_capacity_freed_elsewhere_is_seen_after_the_ttl(db, bus, clock):
    agency, svc, intake = await _world(db, bus, clock, ttl=0.2)
    first, second = await open_inquiry(intake), await open_inquiry(intake)
    assert {(await inquiry(db, first)).owner_id, (await inquiry(db, second)).owner_id} == set(agency.users.values()) - {
        agency.users["boss"]}
    async with db.sessions() as s, s.begin():
        await s.execute(update(Inquiry).where(Inquiry.id == first).values(status=InquiryStatus.DONE))
    await asyncio.sleep(0.25)
    third = await open_inquiry(intake)
    assert (await inquiry(db, third)).owner_id == (await inquiry(db, first)).owner_id
    # statuses and loads re-read (one sweep, or two when the machine is slow), never the whole snapshot again
    assert svc.cache.rebuilds == 1 and svc.cache.sweeps >= 1


async def _last_reasons(db, inquiry_id: int) -> dict[int, str]:  # noqa: ANN001
    from tests.routing.dbworld import decisions

    d = (await decisions(db, inquiry_id))[-1]
    return {n["agent_id"]: n["reason"] for n in d.explanation["not_eligible"]}


async def test_inquiries_routed_together_never_go_past_capacity_when_the_cache_was_behind(db, bus, clock):
    agency, svc, intake = await _world(db, bus, clock, capacity=3)
    anna, oleg = agency.users["anna"], agency.users["oleg"]
    first = await open_inquiry(intake)  # builds the cache; its owner has 1/3 now
    first_owner = (await inquiry(db, first)).owner_id
    other = oleg if first_owner == anna else anna
    for _ in range(2):  # the other one gets 2 behind the cache's back, which still thinks they have 0/3
        await _give_behind_its_back(db, intake, svc, other)
    ids = await asyncio.gather(*(open_inquiry(intake) for _ in range(6)))
    got = [(await inquiry(db, i)) for i in ids]
    owners = [i.owner_id for i in got]
    # the real loads were 1/3 and 2/3: two more for the first owner, one more for the other, three to the pool
    assert owners.count(first_owner) == 2 and owners.count(other) == 1
    assert [i.pool for i in got if i.owner_id is None] == ["common"] * 3
    assert svc.cache.corrections >= 1 and svc._opened.largest > 1  # noqa: SLF001
