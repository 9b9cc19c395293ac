"""The demo agency a newcomer looks at."""

from sqlalchemy import func, select

from crm_core.access import actor_for, scoped_inquiries
from crm_core.demo import load_demo_data
from crm_core.models import (
    Call,
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
    Task,
    TimelineEntry,
    User,
)
from crm_core.models.agency import Deal, FunnelStage, OwnerLead, PropertyLink
from crm_core.models.routing import AgentRoutingProfile, DutyRota
from crm_core.models.workflow import CallScript, QcChecklist
from crm_core.users import authenticate, create_user
from routing.queries import load_rule_data, parse_rules_toml, rules_to_toml, rules_version
from routing.rules import compile_rules
from workflow.quality import format_items, parse_items
from workflow.scripts import format_steps, parse_steps, script_for

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
        assert ext == {"101": "Анна Смирнова", "102": "Олег Иванов", "103": "Мария Козлова", "104": "Сергей Волков",
                       "105": "Елена Морозова"}
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


async def test_demo_workspace_has_rules_rota_script_checklist_deals_lead_and_a_call_once(db):
    await load_demo_data(db.sessions, password=PASSWORD)
    async with db.sessions() as s:
        before = {m.__name__: await s.scalar(select(func.count()).select_from(m)) for m in (
            Call, CallScript, QcChecklist, Deal, FunnelStage, OwnerLead, PropertyLink, DutyRota, Task, Client)}
    second = await load_demo_data(db.sessions, password=PASSWORD)
    assert not second.created and second.added == 0

    async with db.sessions() as s:
        assert before == {m: await s.scalar(select(func.count()).select_from(globals()[m])) for m in before}
        data = await load_rule_data(s)
        rule_set = compile_rules(data)  # a valid set, as the rules page and the router read it
        assert rule_set is not None and await rules_version(s) == 1
        assert compile_rules(parse_rules_toml(rules_to_toml(data))) is not None
        depts = dict((await s.execute(select(Department.name, Department.id))).all())
        rules = {r["id"]: r for r in data["rules"]}
        assert rules["звонки-продажи"]["when"] == {"channels": ["call"], "dids": ["74950000001"]}
        assert rules["звонки-продажи"]["target"] == {"departments": [depts["Отдел продаж вторички"]]}
        assert rules["звонки-продажи"]["strategy"] == "least_loaded"
        assert rules["сайт-центр"]["when"]["territories"] == ["центр"]
        assert [t["id"] for t in data["territories"]] == ["центр"]

        manager = (await s.execute(select(User).where(User.login == "manager"))).scalar_one()
        assert (await s.get(AgentRoutingProfile, manager.id)).duty_schedule == "дежурство-аренда"
        assert (await s.get(DutyRota, "дежурство-аренда")).weekly["mon"] == [["09:00", "20:00"]]

        script = await script_for(s, queue="sales", channel=None)
        assert script is not None and parse_steps(format_steps(script.steps)) == script.steps
        checklist = (await s.execute(select(QcChecklist))).scalar_one()
        assert parse_items(format_items(checklist.items)) == checklist.items

        stages = dict((await s.execute(select(FunnelStage.id, FunnelStage.name))).all())
        deals = (await s.execute(select(Deal))).scalars().all()
        assert len({stages[d.stage_id] for d in deals}) >= 4 and {d.status for d in deals} == {"open", "won"}
        assert all(d.agent_id and d.client_id and d.department_id for d in deals)
        lead = (await s.execute(select(OwnerLead))).scalar_one()
        task = await s.get(Task, lead.task_id)
        assert (lead.status, task.kind, task.phone) == ("calling", "cold_call", lead.phone)
        assert (await s.get(Property, lead.property_id)).owner_client_id == task.client_id

        call = (await s.execute(select(Call))).scalar_one()
        link = (await s.execute(select(PropertyLink).where(PropertyLink.call_id == call.id))).scalar_one()
        inquiry = await s.get(Inquiry, call.inquiry_id)
        assert (call.caller, call.queue, call.outcome, link.property_id) == (
            "+79161234567", "sales", "answered", inquiry.property_id)
