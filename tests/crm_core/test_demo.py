"""The demo agency a newcomer looks at."""

from sqlalchemy import func, select

from crm_core.access import actor_for, scoped_inquiries
from crm_core.demo import load_demo_data
from crm_core.models import (
    Client,
    Contact,
    Department,
    Division,
    Inquiry,
    InquiryStatus,
    MemorableDate,
    Pool,
    Property,
    Role,
    TimelineEntry,
    User,
)
from crm_core.users import authenticate, create_user

PASSWORD = "demo-password-1"


async def test_demo_agency_loads_once_with_the_trace_agents_and_callers(db):
    first = await load_demo_data(db.sessions, password=PASSWORD)
    second = await load_demo_data(db.sessions, password=PASSWORD)

    assert first.created and first.added > 0
    assert not second.created and second.added == 0
    assert (first.users, first.clients, first.inquiries, first.properties, first.memorable_dates) == (
        second.users, second.clients, second.inquiries, second.properties, second.memorable_dates)
    assert (first.departments, first.users, first.properties, first.inquiries, first.memorable_dates) == (
        3, 6, 20, 30, 6)
    assert 40 <= first.clients <= 50
    async with db.sessions() as s:
        ext = dict((await s.execute(select(User.extension, User.full_name).where(User.extension.is_not(None)))).all())
        assert ext == {"101": "Анна Смирнова", "102": "Олег Иванов", "103": "Мария Козлова"}
        roles = dict((await s.execute(select(User.login, User.role))).all())
        assert roles == {"anna": Role.AGENT, "oleg": Role.AGENT, "maria": Role.AGENT, "head": Role.DEPT_HEAD,
                         "manager": Role.DEPT_MANAGER, "director": Role.DIRECTOR}  # and no administrator
        for phone, name in [("+79161234567", "Иван Петров"), ("+74951112233", "ООО Ромашка"),
                            ("+79857776655", "Пётр Сидоров"), ("+79035550101", "Наталья Белова")]:
            client = (await s.execute(select(Client).join(Contact).where(Contact.value == phone))).scalar_one()
            assert client.name == name
        assert (await s.execute(select(Client.kind).where(Client.name == "ООО Ромашка"))).scalar() == "company"
        assert await authenticate(s, "anna", PASSWORD) is not None

        pools = dict((await s.execute(select(Inquiry.pool, func.count()).group_by(Inquiry.pool))).all())
        assert pools[Pool.DEPARTMENT] >= 5 and pools[Pool.COMMON] >= 5 and pools[Pool.NONE] >= 10
        channels = set((await s.execute(select(Inquiry.channel))).scalars())
        assert channels == {"call", "email", "telegram", "webform"}
        in_work = (await s.execute(select(Inquiry).where(Inquiry.status == InquiryStatus.IN_WORK))).scalars().all()
        assert len(in_work) >= 10 and all(i.owner_id and i.department_id for i in in_work)
        in_pool = (await s.execute(select(Inquiry).where(Inquiry.pool == Pool.DEPARTMENT))).scalars().all()
        assert all(i.owner_id is None and i.department_id for i in in_pool)

        ivan_timeline = (await s.execute(
            select(TimelineEntry.kind).join(Contact, Contact.client_id == TimelineEntry.client_id)
            .where(Contact.value == "+79161234567").order_by(TimelineEntry.at, TimelineEntry.id))).scalars().all()
        assert ivan_timeline == ["client_created", "inquiry_opened", "message_in", "claimed"]
        props = (await s.execute(select(Property))).scalars().all()
        assert {p.property_type for p in props} == {"flat", "house", "office"}
        assert {p.deal_type for p in props} == {"sale", "rent"}
        assert all(55.4 < p.lat < 56 and 37.1 < p.lon < 38 for p in props)
        assert await s.scalar(select(func.count()).select_from(MemorableDate).where(MemorableDate.kind == "birthday"))

        anna = await actor_for(s, (await s.execute(select(User.id).where(User.login == "anna"))).scalar_one())
        director = await actor_for(s, (await s.execute(select(User.id).where(User.login == "director"))).scalar_one())
        seen_by_anna = (await s.execute(scoped_inquiries(anna))).scalars().all()
        assert {i.pool for i in seen_by_anna} == {Pool.NONE, Pool.DEPARTMENT, Pool.COMMON}
        assert len((await s.execute(scoped_inquiries(director))).scalars().all()) == first.inquiries


async def test_an_agency_with_some_staff_keeps_them_and_gets_the_rest(db):
    async with db.sessions() as s, s.begin():
        dept = Department(name="Колл-центр")  # made by hand, not yet in a division
        s.add(dept)
        await s.flush()
        await create_user(s, login="oleg", password="olegs-own-password", full_name="Олег Иванов",
                          department_id=dept.id)

    summary = await load_demo_data(db.sessions, password=PASSWORD)

    assert summary.users == 6
    async with db.sessions() as s:
        assert await authenticate(s, "oleg", "olegs-own-password") is not None  # his password is untouched
        assert await authenticate(s, "oleg", PASSWORD) is None
        moscow = (await s.execute(select(Division.id).where(Division.name == "Москва"))).scalar_one()
        assert (await s.get(Department, dept.id)).division_id == moscow
        assert await s.scalar(select(func.count()).select_from(Department)) == 3
