"""The sources report with money: each source's cost over the period (its monthly cost, a part of a month by
days), the cost per inquiry and per deal, blank where no cost is set — on both databases, as each role sees it."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from crm_core.access import actor_for
from crm_core.models import Client, Inquiry
from crm_core.models.ad_sources import SourceCost
from crm_core.models.agency import Deal
from reports import queries
from reports.filters import ReportFilter
from reports.settings import ReportSettings
from tests.reports.test_queries import WEEK, ZONE
from tests.reports.world import msk, seed_world
from tests.web.conftest import seed_agency

DIDS = {"+74950000001": "Авито"}


@pytest.fixture
async def world(db):  # noqa: ANN001, ANN201
    agency = await seed_agency(SimpleNamespace(database=SimpleNamespace(sessions=db.sessions)))
    w = await seed_world(db.sessions, agency)
    u = agency.users
    async with db.sessions() as s, s.begin():
        client = Client(name="Пришёл с ЦИАН")
        s.add(client)
        await s.flush()
        cian = [Inquiry(client_id=client.id, external_id=f"cian-{n}", created_at=msk(day, 12), channel="webform",
                        source="ЦИАН", utm={"utm_source": "cian"}, owner_id=owner, department_id=dept)
                for n, (day, owner, dept) in enumerate([(3, u["anna"], agency.sales), (5, u["maria"], agency.rent)])]
        s.add_all(cian)
        await s.flush()
        s.add_all([
            Deal(inquiry_id=w.inquiries["i1"], client_id=client.id, status="won"),  # the Avito call: a deal won
            Deal(inquiry_id=cian[0].id, client_id=client.id, reached_positive_at=msk(6, 12)),  # a positive stage
            Deal(inquiry_id=cian[1].id, client_id=client.id),  # open: not a deal made yet
            SourceCost(source="Авито", month="2026-03", amount_kop=31_000_00),
            SourceCost(source="циан ", month="2026-03", amount_kop=6_200_00),  # the name as an admin typed it
            SourceCost(source="Билборд", month="2026-03", amount_kop=3_100_00),
            SourceCost(source="Авито", month="2026-04", amount_kop=99_000_00),  # another month
        ])
    return SimpleNamespace(db=db, agency=agency)


async def _sources(world, login: str, f: ReportFilter = WEEK):  # noqa: ANN001, ANN202
    async with world.db.sessions() as s:
        actor = await actor_for(s, world.agency.users[login])
        report = await queries.run("sources", s, actor, f, ReportSettings(), dids=DIDS)
    return report, {(r[0], r[1], r[2]): r[3:] for r in report.rows}


async def test_a_week_costs_its_days_share_of_the_month_per_inquiry_and_per_deal(world):
    report, rows = await _sources(world, "root")
    assert [c.key for c in report.columns][7:] == ["deals", "cost", "cost_per_inquiry", "cost_per_deal"]
    # received, processed, positive, conversion, deals, cost, per inquiry, per deal
    assert rows[("did", "+74950000001", "Авито")][4:] == (1, 7000.0, 7000.0, 7000.0)  # 31 000 ₽ × 7/31
    assert rows[("utm", "cian", "ЦИАН")][0] == 2
    assert rows[("utm", "cian", "ЦИАН")][4:] == (1, 1400.0, 700.0, 1400.0)  # one deal made of two
    assert rows[("utm", "yandex", "")][4:] == (0, None, None, None)  # no cost set: blank
    assert rows[("email", "", "")][5:] == (None, None, None)
    assert rows[("", "", "Билборд")] == (0, 0, 0, None, 0, 700.0, None, None)  # paid for, nobody came
    assert report.totals[7:] == (2, 9100.0, round(9100 / 3, 2), 4550.0)


async def test_a_whole_month_costs_the_month(world):
    _, rows = await _sources(world, "root", ReportFilter(date(2026, 3, 1), date(2026, 3, 31), ZONE))
    assert rows[("did", "+74950000001", "Авито")][5:] == (31000.0, 31000.0, 31000.0)
    assert rows[("utm", "cian", "ЦИАН")][5:7] == (6200.0, 3100.0)


async def test_a_department_sees_its_share_at_the_agencys_cost_per_inquiry(world):
    _, rows = await _sources(world, "boss")  # the sales head: one of the two ЦИАН inquiries is theirs
    assert rows[("utm", "cian", "ЦИАН")] == (1, 0, 0, 0.0, 1, 700.0, 700.0, 700.0)
    assert all(key[2] != "Билборд" for key in rows)  # the agency's unused spend is the admin's view
    async with world.db.sessions() as s:
        assert len((await s.execute(select(SourceCost))).all()) == 4  # the report only reads
