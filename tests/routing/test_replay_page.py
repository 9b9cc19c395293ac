"""The what-if replay in the page, on both databases: last week's inquiries replayed through a draft that sends
expensive flats in the centre to another agent — per agent and per department real against simulated, the
inquiries that would have gone elsewhere, the SLA estimate, a chart; a stopped replay keeps nothing."""

from __future__ import annotations

import asyncio
import json

from crm_core.models import Inquiry
from routing.calendar import WorkCalendar
from routing.rule_versions import save_draft
from tests.browser.conftest import db  # noqa: F401 - SQLite only
from tests.routing.replay_world import seed_last_week
from tests.web.conftest import running  # noqa: F401 - fixtures

SQUARE = {"type": "Polygon", "coordinates": [[[37.58, 55.73], [37.66, 55.73], [37.66, 55.77], [37.58, 55.77],
                                              [37.58, 55.73]]]}


import pytest  # noqa: E402


@pytest.fixture
def hub_sections() -> dict:
    return {"routing": {"enabled": False}}  # the seeded inquiries keep the owner the test gives them


async def finished(admin, job: int) -> dict:  # noqa: ANN001
    for _ in range(200):
        _, text = await admin.get(f"/admin/routing/replay/jobs/{job}.json")
        state = json.loads(text)
        if state["finished"]:
            return state
        await asyncio.sleep(0.05)
    raise AssertionError("the replay did not finish")


async def test_replay_of_last_week_against_a_draft(running):  # noqa: F811
    a = running.agency
    oleg, anna = a.users["oleg"], a.users["anna"]
    ids = await seed_last_week(running.hub, oleg)
    draft = await save_draft(running.hub.database.sessions, {"rules": [{
        "id": "centre", "priority": 1, "name": "Центр", "owner_first": False, "strategy": "round_robin",
        "when": {"polygon": SQUARE, "price_min": 20_000_000, "price_max": 50_000_000},
        "target": {"agents": [anna]}}], "default": {"target": {"agents": [oleg]}, "owner_first": False}},
        None, note="центр Анне")
    admin = await running.browser("root")
    resp, page = await admin.get(f"/admin/routing/replay?draft={draft}")
    assert resp.status == 200 and "Проверка правил на прошлых обращениях" in page and "центр Анне" in page
    resp, _ = await admin.post("/admin/routing/replay", {"draft": str(draft)})
    assert resp.status == 303
    job = int(resp.headers["Location"].rsplit("/", 1)[1])
    state = await finished(admin, job)
    assert state["error"] is None and state["done"] == state["total"] == 6
    _, page = await admin.get(f"/admin/routing/replay/jobs/{job}")
    assert 'id="replay-total">6<' in page and 'id="replay-moved">3<' in page
    row = page[page.index("<td>Anna</td>"):]
    assert row.startswith("<td>Anna</td><td>0</td><td>3</td><td>+3</td>")
    assert "<td>Oleg</td><td>6</td><td>3</td><td>-3</td>" in page
    # Anna has no history of her own, so each of her inquiries takes its real time to accept; Oleg's median
    # (1 and 6 hours alternately: 3.5) is within the agency's 4 working hours
    work = WorkCalendar()
    async with running.hub.database.sessions() as s:
        late = [i for i in ids[:3] if work.working_hours_between((await s.get(Inquiry, i)).created_at,
                                                                 (await s.get(Inquiry, i)).accepted_at) > 4]
    assert f'id="replay-breaches">{len(late)}<' in page and "на деле было эскалаций: 0" in page
    assert 'id="replay-chart"' in page and "было" in page and "с черновиком" in page
    assert page.count('href="/inquiries/') >= 3  # the inquiries that would have gone elsewhere, each linked
    assert "Продажи" in page[page.index('id="replay-departments"'):]
    assert 'id="replay-publish"' in page

    resp, page = await admin.post("/admin/routing/replay", {"from": "2025-01-01", "to": "2025-12-31"})
    assert resp.status == 422 and "не длиннее 92 дней" in page
    other = await running.browser("boss")
    resp, _ = await other.get(f"/admin/routing/replay/jobs/{job}")
    assert resp.status in (403, 404)
