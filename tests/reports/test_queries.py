"""Report figures on both databases, over a known week (tests/reports/world.py), as each role sees them."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from crm_core.access import Forbidden, actor_for
from crm_core.models import Inquiry, InquiryStatus
from reports import definitions, queries
from reports.filters import ReportFilter, parse_filter
from reports.settings import KpiNorm, ReportSettings
from tests.reports.world import CLIENT_FORMULA_NAME, seed_world
from tests.web.conftest import seed_agency

ZONE = ZoneInfo("Europe/Moscow")
WEEK = ReportFilter(date(2026, 3, 2), date(2026, 3, 8), ZONE)


@pytest.fixture
async def world(db):  # noqa: ANN001, ANN201
    agency = await seed_agency(SimpleNamespace(database=SimpleNamespace(sessions=db.sessions)))
    w = await seed_world(db.sessions, agency)
    return SimpleNamespace(db=db, agency=agency, world=w)


async def _run(world, login: str, name: str, f: ReportFilter = WEEK, **kw):  # noqa: ANN001, ANN202
    async with world.db.sessions() as s:
        actor = await actor_for(s, world.agency.users[login])
        return await queries.run(name, s, actor, f, kw.pop("settings", ReportSettings()), **kw)


def _by_label(report) -> dict:  # noqa: ANN001
    return {r[0]: r[1:4] for r in report.rows}


async def test_funnel_by_department_as_each_role_sees_it(world):
    admin = await _run(world, "root", "funnel")
    assert _by_label(admin) == {"Продажи": (6, 4, 2), "Аренда": (1, 1, 0), "Север": (1, 1, 1)}
    assert admin.totals[1:4] == (8, 6, 3)
    assert admin.chart["stages"] == [("received", 8), ("processed", 6), ("positive", 3)]
    assert _by_label(await _run(world, "boss", "funnel")) == {"Продажи": (6, 4, 2)}
    assert _by_label(await _run(world, "mgr", "funnel")) == {"Аренда": (1, 1, 0)}
    assert _by_label(await _run(world, "director", "funnel")) == {"Продажи": (6, 4, 2), "Аренда": (1, 1, 0)}
    anna = await _run(world, "anna", "funnel")
    assert _by_label(anna) == {"Продажи": (3, 3, 2)}
    assert anna.rows[0][5] == pytest.approx(2 / 3)


async def test_funnel_by_agent_and_by_source(world):
    by_agent = _by_label(await _run(world, "root", "funnel", group="agent"))
    assert by_agent == {"Anna": (3, 3, 2), "Oleg": (2, 1, 0), "Maria": (1, 1, 0), "Spbagent": (1, 1, 1),
                        None: (1, 0, 0)}
    by_source = _by_label(await _run(world, "boss", "funnel", group="source"))
    assert by_source == {"email": (3, 2, 1), "+74950000001": (1, 1, 1), "yandex": (1, 1, 0), "site.ru": (1, 0, 0)}


async def test_a_day_is_a_moscow_day(world):
    """Sunday 23:50 Moscow is in the week; Monday 00:10 Moscow (still Sunday in UTC) is not."""
    sunday = ReportFilter(date(2026, 3, 8), date(2026, 3, 8), ZONE)
    assert _by_label(await _run(world, "anna", "funnel", sunday)) == {"Продажи": (1, 1, 1)}
    monday = ReportFilter(date(2026, 3, 9), date(2026, 3, 9), ZONE)
    assert _by_label(await _run(world, "anna", "funnel", monday)) == {"Продажи": (1, 0, 0)}


async def test_filters_narrow_the_funnel(world):
    f = ReportFilter(WEEK.first_day, WEEK.last_day, ZONE, department_id=world.agency.sales,
                     agent_id=world.agency.users["oleg"])
    assert _by_label(await _run(world, "director", "funnel", f)) == {"Продажи": (2, 1, 0)}
    f = ReportFilter(WEEK.first_day, WEEK.last_day, ZONE, source="email")
    assert _by_label(await _run(world, "root", "funnel", f)) == {"Продажи": (3, 2, 1)}


async def test_a_filter_out_of_reach_is_refused(world):
    a = world.agency
    with pytest.raises(Forbidden):
        await _run(world, "anna", "funnel", ReportFilter(WEEK.first_day, WEEK.last_day, ZONE, department_id=a.rent))
    with pytest.raises(Forbidden):
        await _run(world, "anna", "kpi", ReportFilter(WEEK.first_day, WEEK.last_day, ZONE,
                                                      agent_id=a.users["oleg"]))
    with pytest.raises(Forbidden):
        await _run(world, "boss", "missed", ReportFilter(WEEK.first_day, WEEK.last_day, ZONE,
                                                         agent_id=a.users["maria"]))
    with pytest.raises(Forbidden):
        await _run(world, "director", "cold", ReportFilter(WEEK.first_day, WEEK.last_day, ZONE,
                                                           department_id=a.other_division_dept))
    ok = await _run(world, "director", "funnel", ReportFilter(WEEK.first_day, WEEK.last_day, ZONE,
                                                              department_id=a.rent))
    assert _by_label(ok) == {"Аренда": (1, 1, 0)}


async def test_positive_result_is_one_pluggable_test(world):
    definitions.set_positive_result(lambda: Inquiry.status == InquiryStatus.ARCHIVED)
    try:
        assert _by_label(await _run(world, "mgr", "funnel")) == {"Аренда": (1, 1, 1)}
    finally:
        definitions.set_positive_result(None)
    assert _by_label(await _run(world, "mgr", "funnel")) == {"Аренда": (1, 1, 0)}


async def test_kpi_against_the_norm(world):
    settings = ReportSettings(kpi=KpiNorm(answered_calls_per_day=1, talk_minutes_per_day=2, processed_share=0.5,
                                          conversion=0.5))
    report = await _run(world, "root", "kpi", settings=settings)
    rows = {r[0]: r for r in report.rows}
    assert set(rows) == {"Anna", "Oleg", "Maria", "Spbagent"}
    assert rows["Anna"][1:7] == ("Продажи", 2, 6.0, 3, 3, 2)
    assert rows["Oleg"][1:7] == ("Продажи", 1, 3.0, 2, 1, 0)
    assert report.summary["working_days"] == 5
    assert report.summary["norms"]["answered"] == 5
    # Anna: 2/5 calls, 6/10 talk minutes, 100%/50% processed, (2/3)/50% conversion → the mean of the four
    assert rows["Anna"][9] == pytest.approx((0.4 + 0.6 + 2 + (2 / 3) / 0.5) / 4)
    anna = await _run(world, "anna", "kpi", settings=settings)
    assert [r[0] for r in anna.rows] == ["Anna"]


async def test_heatmap_by_moscow_weekday_and_hour(world):
    report = await _run(world, "root", "heatmap")
    grid, missed = report.chart["grid"], report.chart["missed"]
    assert grid[0][9] == 2 and missed[0][9] == 1  # Monday 9:10 answered, 9:20 abandoned
    assert grid[1][23] == 1 and missed[1][23] == 1  # Tuesday 23:50 Moscow (20:50 UTC)
    assert grid[6][0] == 1  # Sunday 00:30 Moscow is Saturday 21:30 UTC
    assert grid[2][14] == 1
    assert report.summary["total"] == sum(map(sum, grid)) == 5
    assert report.summary["peak"] == (2, 0, 9)
    anna = await _run(world, "anna", "heatmap")
    assert anna.summary["total"] == 2 and anna.chart["grid"][0][9] == 1


async def test_missed_calls_and_how_fast_they_were_called_back(world):
    report = await _run(world, "root", "missed")
    assert report.summary["total"] == 2 and report.summary["abandoned"] == 1
    assert report.summary["called_back"] == 1
    assert report.summary["avg_delay_s"] == pytest.approx(600, abs=1)
    assert dict(report.summary["buckets"]) == {"≤5": 0, "≤15": 1, "≤60": 0, "≤240": 0, "≤1440": 0,
                                               "later": 0, "never": 1}
    rows = {r[1]: r for r in report.rows}
    assert rows["+79160000002"][7] == pytest.approx(600, abs=1)
    assert rows["+79160000003"][6] is None
    boss = await _run(world, "boss", "missed")
    assert [r[1] for r in boss.rows] == ["+79160000002"]
    assert (await _run(world, "anna", "missed")).summary["total"] == 0


async def test_cold_list_is_numbers_that_are_nobodys_client(world):
    report = await _run(world, "root", "cold")
    assert [r[0] for r in report.rows] == ["+79160000004", "+79160000003", "+79160000002"]
    assert report.rows[2][1] == CLIENT_FORMULA_NAME
    assert [r[0] for r in (await _run(world, "boss", "cold")).rows] == ["+79160000002"]
    assert [r[0] for r in (await _run(world, "mgr", "cold")).rows] == ["+79160000004"]


async def test_calls_per_property(world):
    report = await _run(world, "root", "properties")
    rows = {r[1]: r[3:6] for r in report.rows}
    assert rows == {"Тверская, 1": (2, 2, 0), "Лиговский, 5": (1, 1, 0)}
    anna = await _run(world, "anna", "properties")
    assert {r[1]: r[3] for r in anna.rows} == {"Тверская, 1": 2}


async def test_sources_with_conversion(world):
    report = await _run(world, "root", "sources", dids={"+74950000001": "Авито"})
    rows = {(r[0], r[1]): r[2:7] for r in report.rows}
    assert rows[("did", "+74950000001")] == ("Авито", 1, 1, 1, 1.0)
    assert rows[("utm", "yandex")] == ("", 1, 1, 0, 0.0)
    assert rows[("site", "site.ru")] == ("", 1, 0, 0, 0.0)
    assert rows[("email", "")][1:4] == (3, 2, 1)
    assert report.totals[3:6] == (8, 6, 3)


def test_bad_filter_values_are_named():
    f, errors = parse_filter({"date_from": "2026-13-01", "date_to": "2026-03-08", "agent": "x1"}, ZONE,
                             today=date(2026, 3, 10))
    assert errors == {"date_from": "reports.err.date", "agent": "reports.err.id"}
    assert (f.first_day, f.last_day) == (date(2026, 2, 9), date(2026, 3, 10))
    _, errors = parse_filter({"date_from": "2026-03-08", "date_to": "2026-03-01"}, ZONE)
    assert errors == {"date_to": "reports.err.order"}
    f, errors = parse_filter({"date_from": "2026-03-02", "date_to": "2026-03-08", "department": "7"}, ZONE)
    assert not errors and f.department_id == 7 and f.working_days == 5


async def test_heatmap_in_a_half_hour_zone(world):
    """Kolkata is UTC+5:30: Monday 06:10 and 06:20 UTC are 11:40 and 11:50 there; Saturday 21:30 UTC is
    Sunday 03:00."""
    kolkata = ZoneInfo("Asia/Kolkata")
    f = ReportFilter(date(2026, 3, 1), date(2026, 3, 9), kolkata)
    grid = (await _run(world, "root", "heatmap", f)).chart["grid"]
    assert grid[0][11] == 2 and grid[6][3] == 1 and sum(map(sum, grid)) == 5


def test_the_kpi_norm_counts_working_days_by_the_official_production_calendar():
    """Every month of 2025–2026 has the official number of working days (tests/fixtures/calendar summary):
    New Year holidays, moved days off and working Saturdays included, not just Monday to Friday."""
    from pathlib import Path

    from routing.calendar import production_calendar
    from tests.conftest import FIXTURES

    folder = FIXTURES / "calendar"
    calendar = production_calendar(Path(folder))
    zone = ZoneInfo("Europe/Moscow")
    rows = [line.split("\t") for line in (folder / "SUMMARY_ru_2025_2026_derived.tsv").read_text().splitlines()[1:]]
    assert len(rows) == 24
    for year, month, working, *_ in rows:
        first = date(int(year), int(month), 1)
        last = date(int(year) + (first.month == 12), first.month % 12 + 1, 1).fromordinal(
            date(int(year) + (first.month == 12), first.month % 12 + 1, 1).toordinal() - 1)
        assert ReportFilter(first, last, zone, calendar=calendar).working_days == int(working), (year, month)
    assert ReportFilter(date(2026, 1, 1), date(2026, 1, 31), zone).working_days == 15  # not 22 weekdays
