"""A rule's own SLA: the inquiries it routed escalate on its threshold, the others on the agency's."""

from __future__ import annotations

from datetime import datetime

from crm_core.intake import IntakeService
from crm_core.models import Inquiry, Pool
from routing.sla_scheduler import SlaScheduler
from tests.browser.conftest import db  # noqa: F401 - SQLite only (the scheduler is checked on both elsewhere)
from tests.routing.dbworld import FakeClock, inquiry, open_inquiry, seed, service, set_rules
from tests.routing.world import MSK


async def test_a_rule_with_one_working_hour_to_accept_escalates_its_inquiries_first(db, bus, work):  # noqa: ANN001, F811
    agency = await seed(db, {"anna": ("sales", "available"), "maria": ("rent", "available")})
    await set_rules(db, [{"id": "vip", "priority": 1, "when": {"departments": [agency.sales]},
                          "target": {"departments": [agency.sales]}, "sla": {"accept_within_hours": 1}},
                         {"id": "rest", "priority": 2, "target": {"departments": [agency.rent]}}])
    clock = FakeClock(datetime(2025, 3, 12, 10, 0, tzinfo=MSK))  # Wednesday 10:00
    routing = service(db, bus, clock, work)
    await routing.start()
    await routing.caught_up()
    intake = IntakeService(db.sessions, type(bus)())
    fast, slow = await open_inquiry(intake), await open_inquiry(intake)
    async with db.sessions() as s, s.begin():
        for inquiry_id, department in ((fast, agency.sales), (slow, agency.rent)):
            row = await s.get(Inquiry, inquiry_id)
            row.department_id, row.created_at = department, clock()
    assert (await routing.route(fast)).agent_id == agency.users["anna"]
    assert (await routing.route(slow)).agent_id == agency.users["maria"]
    scheduler = SlaScheduler(db.sessions, bus, routing, clock=clock)
    clock.now = datetime(2025, 3, 12, 10, 59, tzinfo=MSK)
    assert await scheduler.run_once() == []
    clock.now = datetime(2025, 3, 12, 11, 0, tzinfo=MSK)  # one working hour: the rule's threshold
    [step] = await scheduler.run_once()
    assert (step.inquiry_id, step.reason) == (fast, "not_accepted")
    assert (await inquiry(db, fast)).pool == Pool.DEPARTMENT
    assert (await inquiry(db, slow)).owner_id == agency.users["maria"]  # the agency's 4 hours still run
    clock.now = datetime(2025, 3, 12, 15, 0, tzinfo=MSK)  # 10:00 + 4 working hours (13–14 is lunch)
    [step] = await scheduler.run_once()
    assert (step.inquiry_id, step.reason) == (slow, "not_accepted")
