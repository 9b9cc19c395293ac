"""«Контроль»: the department head sees the department's open inquiries with their next action, overdue first,
and sets the next action by hand up to two months ahead; others get 403/404."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from crm_core.models import Inquiry, InquiryEvent, utcnow
from tests.agency.test_pages import _inquiry, hub_sections  # noqa: F401 - same fixtures and helper
from tests.web.conftest import running  # noqa: F401 - fixtures

MSK = ZoneInfo("Europe/Moscow")


async def test_head_sees_overdue_first_and_sets_the_next_action_within_two_months(running):  # noqa: F811
    now = utcnow()
    late = await _inquiry(running, "anna", "+79168880001", name="Опоздавший")
    nothing = await _inquiry(running, "oleg", "+79168880002", name="Без плана")
    later = await _inquiry(running, "anna", "+79168880003", name="Потом")
    other = await _inquiry(running, "maria", "+79168880004", name="Аренда")
    async with running.hub.database.sessions() as s, s.begin():
        await s.execute(update(Inquiry).where(Inquiry.id == late)
                        .values(planned_action="Позвонить", planned_at=now - timedelta(days=1)))
        await s.execute(update(Inquiry).where(Inquiry.id == later)
                        .values(planned_action="Показ", planned_at=now + timedelta(days=3)))
    boss = await running.browser("boss")
    resp, page = await boss.get("/control")
    assert resp.status == 200
    order = [int(x) for x in re.findall(r'<tr data-inquiry="(\d+)"', page)]
    assert order == [late, nothing, later]
    assert f'data-inquiry="{late}" data-state="overdue"' in page and "Аренда" not in page

    def local(dt):  # noqa: ANN001, ANN202
        return dt.astimezone(MSK).strftime("%Y-%m-%dT%H:%M")

    resp, page = await boss.post(f"/control/{nothing}", {"planned_action": "Встреча",
                                                         "planned_at": local(now + timedelta(days=70))})
    assert resp.status == 422 and "не дальше чем на 2 месяца вперёд" in page and 'data-field="planned_at"' in page
    await boss.get("/control")
    resp, page = await boss.post(f"/control/{nothing}", {"planned_action": "Встреча",
                                                         "planned_at": local(now - timedelta(days=2))})
    assert resp.status == 422 and "дата уже прошла" in page
    await boss.get("/control")
    resp, _ = await boss.post(f"/control/{nothing}", {"planned_action": "Встреча в офисе",
                                                      "planned_at": local(now + timedelta(days=50))})
    assert resp.status == 303
    resp, _ = await boss.post(f"/control/{other}", {"planned_action": "Чужое",
                                                    "planned_at": local(now + timedelta(days=5))})
    assert resp.status == 404
    async with running.hub.database.sessions() as s:
        inquiry = await s.get(Inquiry, nothing)
        event = (await s.execute(select(InquiryEvent).where(InquiryEvent.inquiry_id == nothing,
                                                            InquiryEvent.kind == "planned"))).scalar_one()
        assert inquiry.planned_action == "Встреча в офисе" and event.actor_id == running.agency.users["boss"]
        assert (await s.get(Inquiry, other)).planned_action is None

    for login in ("anna", "director"):
        b = await running.browser(login)
        resp, _ = await b.get("/control")
        assert resp.status == 403
        resp, _ = await b.post(f"/control/{late}", {"planned_action": "x", "planned_at": local(now)})
        assert resp.status == 403
