"""Record access role by role, as the agency's rules say, on both databases."""

import asyncio

import pytest
from sqlalchemy import select

from crm_core import queries
from crm_core.access import Forbidden, NotFound, actor_for, call_scope, get_client, get_inquiry
from crm_core.inquiries import AlreadyTaken, claim_inquiry
from crm_core.models import Call, Client, Department, Division, Inquiry, Pool, Role, User
from crm_core.models.staff import ServedDepartment
from crm_core.users import hash_password

SHARED_HASH = hash_password("password-123")  # one argon2 hash for every test user: hashing is slow by design


async def make_agency(db):
    """Two divisions; in Moscow the sales and rent departments; one inquiry of every kind of ownership."""
    async with db.sessions() as s, s.begin():
        msk, spb = Division(name="Москва"), Division(name="Петербург")
        s.add_all([msk, spb])
        await s.flush()
        sales, rent, north = (Department(name="Продажи", division_id=msk.id),
                              Department(name="Аренда", division_id=msk.id),
                              Department(name="Север", division_id=spb.id))
        s.add_all([sales, rent, north])
        await s.flush()
        u = {}
        for login, role, dept in [("anna", Role.AGENT, sales), ("oleg", Role.AGENT, sales),
                                  ("maria", Role.AGENT, rent), ("head", Role.DEPT_HEAD, sales),
                                  ("mgr", Role.DEPT_MANAGER, rent), ("dir", Role.DIRECTOR, sales),
                                  ("spb", Role.AGENT, north), ("root", Role.ADMIN, None)]:
            user = User(login=login, password_hash=SHARED_HASH, full_name=login, role=role,
                        department_id=dept.id if dept else None)
            s.add(user)
            await s.flush()
            u[login] = user.id
        inq = {}

        async def inquiry(key, owner=None, pool=Pool.NONE, dept=None):
            c = Client(name=f"Клиент {key}", owner_id=owner, department_id=dept.id if dept else None)
            s.add(c)
            await s.flush()
            i = Inquiry(client_id=c.id, channel="webform", external_id=key, owner_id=owner, pool=pool,
                        department_id=dept.id if dept else None)
            s.add(i)
            await s.flush()
            inq[key] = i.id

        await inquiry("anna-own", u["anna"], dept=sales)
        await inquiry("oleg-own", u["oleg"], dept=sales)
        await inquiry("maria-own", u["maria"], dept=rent)
        await inquiry("sales-pool", None, Pool.DEPARTMENT, sales)
        await inquiry("rent-pool", None, Pool.DEPARTMENT, rent)
        await inquiry("common", None, Pool.COMMON, rent)
        await inquiry("spb-own", u["spb"], dept=north)
    return u, inq


async def visible(db, login_id):
    async with db.sessions() as s:
        actor = await actor_for(s, login_id)
        rows = await queries.inbox(s, actor, "all")
        names = (await s.execute(select(Inquiry.external_id).where(Inquiry.id.in_([r.id for r in rows])))).scalars()
        return set(names)


EXPECTED = {
    "anna": {"anna-own", "sales-pool", "common"},
    "maria": {"maria-own", "rent-pool", "common"},
    "head": {"anna-own", "oleg-own", "sales-pool", "common"},
    "mgr": {"maria-own", "rent-pool", "common"},
    "dir": {"anna-own", "oleg-own", "maria-own", "sales-pool", "rent-pool", "common"},
    "spb": {"spb-own", "common"},
    "root": {"anna-own", "oleg-own", "maria-own", "sales-pool", "rent-pool", "common", "spb-own"},
}


@pytest.mark.parametrize("login", sorted(EXPECTED))
async def test_each_role_sees_exactly_its_inquiries(db, login):
    users, _ = await make_agency(db)
    assert await visible(db, users[login]) == EXPECTED[login]


async def test_an_agent_asking_for_a_colleagues_inquiry_by_id_gets_not_found(db):
    users, inq = await make_agency(db)
    async with db.sessions() as s:
        anna = await actor_for(s, users["anna"])
        with pytest.raises(NotFound):
            await get_inquiry(s, anna, inq["oleg-own"])
        oleg_inquiry = await s.get(Inquiry, inq["oleg-own"])
        with pytest.raises(NotFound):
            await get_client(s, anna, oleg_inquiry.client_id)
        # the pool is readable, but nobody may edit it without claiming it first
        assert (await get_inquiry(s, anna, inq["sales-pool"])).id == inq["sales-pool"]
        with pytest.raises(Forbidden):
            await get_inquiry(s, anna, inq["sales-pool"], write=True)


async def test_director_reads_the_division_but_cannot_change_it(db):
    users, inq = await make_agency(db)
    async with db.sessions() as s:
        director = await actor_for(s, users["dir"])
        assert (await get_inquiry(s, director, inq["maria-own"])).id == inq["maria-own"]
        with pytest.raises(Forbidden):
            await get_inquiry(s, director, inq["maria-own"], write=True)
        with pytest.raises(NotFound):
            await get_inquiry(s, director, inq["spb-own"])


async def test_department_head_may_change_the_departments_inquiries_only(db):
    users, inq = await make_agency(db)
    async with db.sessions() as s:
        head = await actor_for(s, users["head"])
        assert (await get_inquiry(s, head, inq["oleg-own"], write=True)).id == inq["oleg-own"]
        with pytest.raises(NotFound):
            await get_inquiry(s, head, inq["maria-own"], write=True)


async def test_a_manager_serving_another_department_sees_and_controls_it_too(db):
    """Manager-administrators can serve a list of departments: the rent manager also serves sales."""
    users, inq = await make_agency(db)
    assert await visible(db, users["mgr"]) == EXPECTED["mgr"]
    async with db.sessions() as s, s.begin():
        sales = (await s.execute(select(Department.id).where(Department.name == "Продажи"))).scalar_one()
        s.add(ServedDepartment(user_id=users["mgr"], department_id=sales))
    assert await visible(db, users["mgr"]) == EXPECTED["mgr"] | EXPECTED["head"]
    async with db.sessions() as s:
        mgr = await actor_for(s, users["mgr"])
        assert (await get_inquiry(s, mgr, inq["oleg-own"], write=True)).id == inq["oleg-own"]
        with pytest.raises(NotFound):
            await get_inquiry(s, mgr, inq["spb-own"])
        # the head of sales does not gain the rent department by it
        head = await actor_for(s, users["head"])
        with pytest.raises(NotFound):
            await get_inquiry(s, head, inq["maria-own"])


async def test_served_departments_widen_the_calls_a_manager_reads(db):
    users, _ = await make_agency(db)
    async with db.sessions() as s, s.begin():
        s.add_all([Call(uniqueid="c-anna", linkedid="c-anna", direction="inbound", agent_id=users["anna"]),
                   Call(uniqueid="c-maria", linkedid="c-maria", direction="inbound", agent_id=users["maria"])])
    async with db.sessions() as s:
        mgr = await actor_for(s, users["mgr"])
        assert set((await s.execute(select(Call.linkedid).where(call_scope(mgr)))).scalars()) == {"c-maria"}
    async with db.sessions() as s, s.begin():
        sales = (await s.execute(select(Department.id).where(Department.name == "Продажи"))).scalar_one()
        s.add(ServedDepartment(user_id=users["mgr"], department_id=sales))
    async with db.sessions() as s:
        mgr = await actor_for(s, users["mgr"])
        assert set((await s.execute(select(Call.linkedid).where(call_scope(mgr)))).scalars()) == {"c-anna", "c-maria"}


async def test_a_service_engineer_reads_no_client_records(db):
    users, inq = await make_agency(db)
    async with db.sessions() as s, s.begin():
        engineer = User(login="eng", password_hash=SHARED_HASH, full_name="eng", role=Role.SERVICE_ENGINEER)
        s.add(engineer)
    assert await visible(db, engineer.id) == set()
    async with db.sessions() as s:
        actor = await actor_for(s, engineer.id)
        with pytest.raises(NotFound):
            await get_inquiry(s, actor, inq["common"])


async def test_agent_sees_clients_owned_or_behind_visible_inquiries(db):
    users, _ = await make_agency(db)
    async with db.sessions() as s:
        anna = await actor_for(s, users["anna"])
        names = {c.name for c in await queries.search_clients(s, anna, "")}
    assert names == {"Клиент anna-own", "Клиент sales-pool", "Клиент common"}


async def test_fifty_simultaneous_claims_have_exactly_one_winner(db, bus):
    users, inq = await make_agency(db)
    async with db.sessions() as s, s.begin():
        agents = [User(login=f"agent{n}", full_name=f"a{n}", password_hash=SHARED_HASH, role=Role.AGENT)
                  for n in range(48)]
        s.add_all(agents)
        await s.flush()
        extra = [a.id for a in agents]
    claimers = [users["anna"], users["maria"], *extra]
    async with db.sessions() as s:
        actors = [await actor_for(s, uid) for uid in claimers]

    async def attempt(actor):
        try:
            await claim_inquiry(db.sessions, bus, actor, inq["common"])
            return actor.user_id
        except (AlreadyTaken, NotFound):  # a loser may no longer even see it: it left the pool
            return None

    winners = [w for w in await asyncio.gather(*(attempt(a) for a in actors)) if w]
    assert len(winners) == 1
    async with db.sessions() as s:
        taken = await s.get(Inquiry, inq["common"])
    assert taken.owner_id == winners[0] and taken.pool == Pool.NONE and taken.status == "in_work"


async def test_agent_of_another_department_cannot_claim_its_pool(db, bus):
    users, inq = await make_agency(db)
    async with db.sessions() as s:
        maria = await actor_for(s, users["maria"])
    with pytest.raises(NotFound):
        await claim_inquiry(db.sessions, bus, maria, inq["sales-pool"])
