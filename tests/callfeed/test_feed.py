"""The department call feed in a running hub while the fake PBX replays burst20.txt: who sees which waiting
calls, what a card shows, the call bin and the reports without the binned calls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bus.events import Push
from callfeed.wiring import service_of
from connectors.asterisk.fake_pbx import FakePbx
from crm_core.access import actor_for
from crm_core.models import Call, Client, Contact, ContactKind
from crm_core.models.audit import AuditEntry
from crm_core.models.callfeed import CallBin
from crm_core.models.staff import ServedDepartment
from reports import call_queries as reports
from reports.filters import ReportFilter
from tests.browser.conftest import db  # noqa: F401 - SQLite: the pages; the queries run on both elsewhere
from tests.telephony.test_ami_client import FAST, until
from tests.web.conftest import running  # noqa: F401 - the running hub fixture


@pytest.fixture
async def pbx() -> AsyncIterator[FakePbx]:
    async with FakePbx("burst20.txt", secret="hubsecret", speed=8.0, autoplay=False) as fake:
        yield fake


@pytest.fixture
def hub_sections(pbx: FakePbx) -> dict:
    return {"asterisk": {"enabled": True, "port": pbx.port, "secret": "hubsecret", **FAST}}


class Frames:
    """Every callfeed push, per user: what their browser got last and all it got."""

    def __init__(self) -> None:
        self.by_user: dict[int, list[dict]] = {}

    async def __call__(self, push: Push) -> None:
        if push.kind == "callfeed":
            for uid in push.user_ids:
                self.by_user.setdefault(uid, []).append(push.payload)

    def seen(self, uid: int) -> dict[str, dict]:
        return {c["id"]: c for frame in self.by_user.get(uid, []) for c in frame["cards"]}


async def ready(rh, pbx: FakePbx) -> Frames:  # noqa: ANN001
    frames = Frames()
    rh.hub.bus.subscribe(Push, frames)
    await until(lambda: rh.hub.telephony.state == "connected" and pbx.listeners == 1, 10)
    await service_of(rh.hub).read()
    return frames


async def test_each_department_sees_its_own_waiting_calls_and_a_manager_also_the_served_one(running, pbx):  # noqa: F811
    users, agency = running.agency.users, running.agency
    async with running.hub.database.sessions() as s, s.begin():
        s.add(ServedDepartment(user_id=users["mgr"], department_id=agency.sales))  # mgr: rent + sales
        ivan = Client(name="Иван Петров", owner_id=users["anna"], department_id=agency.sales)
        s.add(ivan)
        await s.flush()
        s.add(Contact(client_id=ivan.id, kind=ContactKind.PHONE, value="+79161000001"))
    frames = await ready(running, pbx)
    pbx.play()
    await asyncio.wait_for(pbx.replay_done.wait(), 15)
    await until(lambda: not running.hub.telephony.calls.calls, 15)
    await until(lambda: all(not f[-1]["cards"] for f in frames.by_user.values()), 5)

    sales = frames.seen(users["anna"])
    # the ten sales calls wait 2.5 to 11 s in the trace (0.3 to 1.4 s at this speed): each showed up
    assert len(sales) >= 8 and {c["queue"] for c in sales.values()} == {"sales"}
    assert frames.seen(users["oleg"]) == sales, "the whole department sees the same feed"
    assert set(frames.seen(users["mgr"])) == set(sales), "a rent manager also sees sales, the department they serve"
    # the rent agent never sees a sales call (support calls are answered as they arrive in this trace)
    assert {c["queue"] for c in frames.seen(users["maria"]).values()} <= {"support"}
    assert users["spbagent"] not in frames.by_user and users["director"] not in frames.by_user
    card = next(c for c in sales.values() if c["number"] == "+79161000001")
    assert (card["name"], card["owner"]) == ("Иван Петров", "Anna")
    assert card["since"] > 0 and card["status"] in ("waiting", "ringing")
    strangers = [c for c in sales.values() if c["number"] != "+79161000001"]
    assert strangers and all(c["client_id"] is None and c["owner"] is None for c in strangers)


async def test_a_card_sent_to_the_bin_leaves_the_feed_and_the_cold_list_until_a_supervisor_restores_it(running, pbx):  # noqa: F811
    users = running.agency.users
    frames = await ready(running, pbx)
    feed = service_of(running.hub)
    anna = await running.browser("anna")
    resp, _ = await anna.get("/callfeed/feed")
    assert resp.status == 200
    pbx.play()
    sales = running.agency.sales
    await until(lambda: any(sales in c.departments for c in feed.cards.values()), 15)
    call_id = next(k for k, c in feed.cards.items() if sales in c.departments)
    maria = await running.browser("maria")
    await maria.get("/inbox")
    resp, body = await maria.post(f"/callfeed/{call_id}/bin", {"reason": "spam"},
                                  headers={"Accept": "application/json", "X-CSRF-Token": maria.csrf})
    assert resp.status == 404, "another department's call cannot be binned"
    await anna.get("/inbox")
    resp, body = await anna.post(f"/callfeed/{call_id}/bin", {"reason": "spam"},
                                 headers={"Accept": "application/json", "X-CSRF-Token": anna.csrf})
    assert resp.status == 200, body
    assert call_id not in feed.cards
    for who in ("anna", "oleg"):  # the whole department's next frame has no such card
        await until(lambda w=who: call_id not in {c["id"] for c in frames.by_user[users[w]][-1]["cards"]}, 2)
    await until(lambda: not running.hub.telephony.calls.calls, 15)
    await until(lambda: running.hub.telephony.idle.is_set(), 10)
    async with running.hub.database.sessions() as s:
        binned = (await s.execute(select(CallBin))).scalar_one()
        assert (binned.linkedid, binned.reason, binned.binned_by) == (call_id, "spam", users["anna"])
        assert (await s.execute(select(AuditEntry.action).where(AuditEntry.target == f"call:{call_id}"))
                ).scalars().all() == ["callfeed.bin"]
        stored = (await s.execute(select(Call.caller).where(Call.linkedid == call_id))).scalar_one()
        boss = await actor_for(s, users["root"])
        today = datetime.now(UTC).date()
        f = ReportFilter(today - timedelta(days=1), today + timedelta(days=1), ZoneInfo("Europe/Moscow"))
        cold = await reports.cold(s, boss, f)
        assert stored not in {r[0] for r in cold.rows}
        heat = await reports.heatmap(s, boss, f)
        total_binned = heat.summary["total"]

    _, page = await anna.get("/callfeed/bin")
    assert stored in page and "спам" in page and "cf-restore" not in page, "an agent cannot restore"
    resp, _ = await anna.post(f"/callfeed/bin/{binned.id}/restore")
    assert resp.status == 403
    boss_b = await running.browser("boss")
    resp, _ = await boss_b.post(f"/callfeed/bin/{binned.id}/restore")
    assert resp.status == 303
    _, page = await boss_b.get("/callfeed/bin?done=restored")
    assert "Звонок возвращён из корзины" in page
    async with running.hub.database.sessions() as s:
        cold = await reports.cold(s, boss, f)
        assert stored in {r[0] for r in cold.rows}
        heat = await reports.heatmap(s, boss, f)
        assert heat.summary["total"] == total_binned + 1
