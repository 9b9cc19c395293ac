"""A department in another city keeps its own working time: its zone and hours set by the administrator on a
page, its inquiries' deadlines counted in them (to the minute, on a fake clock), its duty rotas in its zone,
and its people reading and writing times in their zone, with the zone named."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from crm_core.intake import IntakeRequest, IntakeService
from crm_core.models import Channel, Department, Inquiry
from crm_core.models.routing import DutyRota
from routing.calendar import WorkCalendar
from routing.department_time import DepartmentTime, Override, WorkHoursError, parse_work_hours
from routing.queries import duty_schedules
from routing.sla_scheduler import SlaScheduler
from tests.routing.dbworld import FakeClock, seed, service, set_rules
from tests.routing.world import MSK
from tests.web.conftest import running  # noqa: F401 - fixture

YEKT = ZoneInfo("Asia/Yekaterinburg")
WORK = WorkCalendar()  # the agency's: Moscow, 09–13 and 14–18, the official calendar shipped with the hub


@pytest.fixture
def hub_sections() -> dict:
    return {}


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0, zone: ZoneInfo = MSK) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=zone)


def test_hours_are_read_as_a_person_writes_them_and_bad_ones_are_named():
    assert parse_work_hours("9:00-13:00; 14:00 – 18:00") == [("09:00", "13:00"), ("14:00", "18:00")]
    for bad in ("", "с девяти", "14:00-13:00", "09:00-13:00, 12:00-18:00"):
        with pytest.raises(WorkHoursError) as caught:
            parse_work_hours(bad)
        assert caught.value.field == "work_hours"


def test_a_department_override_shares_the_countrys_calendar_and_keeps_its_own_zone():
    times = DepartmentTime(WORK)
    times.set_overrides([Override(7, "Asia/Yekaterinburg", "10:00-19:00"), Override(8, None, None)])
    own = times.of(7)
    assert own.calendar is WORK.calendar and times.of(8) is WORK and times.of(None) is WORK
    assert times.zone_name(7) == "Asia/Yekaterinburg"
    # Friday 8 May 2026 is the eve of Victory Day: shortened by an hour in Yekaterinburg too (10:00–18:00 there)
    assert own.working_hours_on(at(2026, 5, 8).date()) == 8
    kept = times.of(7)
    times.set_overrides([Override(7, "Asia/Yekaterinburg", "10:00-19:00")])
    assert times.of(7) is kept  # unchanged: the same calendar, its worked-out days kept


async def test_a_yekaterinburg_departments_acceptance_deadline_counts_in_its_zone_and_hours(db, bus):
    clock = FakeClock(at(2026, 3, 2, 9, 30))  # Monday, 11:30 in Yekaterinburg
    agency = await seed(db, {"anna": ("sales", "available")})
    await set_rules(db, [{"id": "sales", "priority": 1, "target": {"departments": [agency.sales]}}])
    async with db.sessions() as s, s.begin():
        sales = await s.get(Department, agency.sales)
        sales.time_zone, sales.work_hours = "Asia/Yekaterinburg", "10:00-19:00"
    routing = service(db, bus, clock, WORK)
    await routing.start()
    await routing.caught_up()
    result = await IntakeService(db.sessions, type(bus)()).accept(IntakeRequest(
        channel="email", external_id="<ekb@x>", thread_key="<ekb@x>", email="client@example.ru",
        text="Нужна квартира в Екатеринбурге", received_at=clock()))
    async with db.sessions() as s, s.begin():
        (await s.get(Inquiry, result.inquiry_id)).department_id = agency.sales
    assert (await routing.route(result.inquiry_id)).agent_id == agency.users["anna"]
    scheduler = SlaScheduler(db.sessions, bus, routing, clock=clock)
    assert await scheduler.run_once() == []
    # 4 working hours from 11:30 local with the office's 10–19 day: 15:30 there, 13:30 in Moscow
    assert await scheduler.next_deadline() == at(2026, 3, 2, 15, 30, YEKT) == at(2026, 3, 2, 13, 30)
    async with db.sessions() as s, s.begin():
        sales = await s.get(Department, agency.sales)
        sales.time_zone, sales.work_hours = None, None
    await scheduler.run_once()  # the change of hours is seen on the next pass and every deadline recomputed
    # back on the agency's Moscow day: 09:30–13:00 and 14:00–14:30
    assert await scheduler.next_deadline() == at(2026, 3, 2, 14, 30)
    clock.now = at(2026, 3, 2, 14, 30)
    [step] = await scheduler.run_once()
    assert (step.inquiry_id, step.reason, step.pool) == (result.inquiry_id, "not_accepted", "department")


async def test_a_departments_rota_is_on_duty_in_its_own_zone(db):
    agency = await seed(db, {"anna": ("sales", "available")})
    async with db.sessions() as s, s.begin():
        (await s.get(Department, agency.sales)).time_zone = "Asia/Yekaterinburg"
        s.add_all([DutyRota(id="ekb", weekly={"mon": [["09:00", "18:00"]]}, exceptions={},
                            department_id=agency.sales),
                   DutyRota(id="msk", weekly={"mon": [["09:00", "18:00"]]}, exceptions={})])
    async with db.sessions() as s:
        rotas = await duty_schedules(s, WORK)
    moment = at(2026, 3, 2, 16, 30)  # 18:30 in Yekaterinburg
    assert not rotas["ekb"].on_duty(moment, WORK.calendar)
    assert rotas["msk"].on_duty(moment, WORK.calendar)
    assert rotas["ekb"].on_duty(at(2026, 3, 2, 7, 30), WORK.calendar)  # 09:30 there, before Moscow opens


async def test_the_admin_sets_a_departments_time_and_its_people_see_their_zone(running):  # noqa: F811
    a = running.agency
    admin = await running.browser("root")
    resp, page = await admin.post(f"/admin/departments/{a.sales}/hours",
                                  {"time_zone": "Asia/Ekaterinburg", "work_hours": "с 9 до 6"})
    assert resp.status == 422
    assert "Неизвестный часовой пояс" in page and "интервалы через запятую" in page
    resp, page = await admin.post(f"/admin/departments/{a.sales}/hours",
                                  {"time_zone": "Asia/Yekaterinburg", "work_hours": "10:00-19:00"})
    assert resp.status == 303
    resp, page = await admin.get(resp.headers["Location"])
    assert "Сохранено" in page and 'value="Asia/Yekaterinburg"' in page
    resp, page = await admin.get("/admin/departments")
    row = page[page.index(f'data-department="{a.sales}"'):]
    assert "Екатеринбург, 10:00-19:00" in row[:row.index("</tr>")]
    resp, _ = await (await running.browser("anna")).post(f"/admin/departments/{a.sales}/hours",
                                                          {"time_zone": "", "work_hours": ""})
    assert resp.status == 403

    res = await running.hub.intake.accept(IntakeRequest(
        channel=Channel.EMAIL, external_id="<zone@x>", email="c@example.ru", text="Квартира",
        taken_by=a.users["anna"]))
    async with running.hub.database.sessions() as s:
        created = (await s.execute(select(Inquiry.created_at).where(Inquiry.id == res.inquiry_id))).scalar_one()
    anna = await running.browser("anna")
    resp, page = await anna.get(f"/inquiries/{res.inquiry_id}")
    assert created.astimezone(YEKT).strftime("%d.%m.%Y %H:%M") in page  # Anna's office's clock
    assert "Екатеринбург" in page  # the zone is named where it is not the agency's
    maria = await running.browser("maria")  # the rent department keeps the agency's Moscow time
    resp, page = await maria.get("/inbox")
    assert "Екатеринбург" not in page
    # a planned date Anna writes is read in her zone: 10:00 in Yekaterinburg is 08:00 in Moscow
    when = (datetime.now(YEKT) + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    resp, _ = await anna.post(f"/inquiries/{res.inquiry_id}", {"planned_action": "Позвонить",
                                                              "planned_at": when.strftime("%Y-%m-%dT%H:%M")})
    assert resp.status == 303
    async with running.hub.database.sessions() as s:
        stored = (await s.execute(select(Inquiry.planned_at).where(Inquiry.id == res.inquiry_id))).scalar_one()
    assert stored == when and stored.astimezone(MSK).hour == 8
