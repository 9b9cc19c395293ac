"""The production calendar for the administrator: the year's months to check, a later year's official file
loaded and kept with its history, the warning for a year without a file (page, rules page, /healthz, the
log once a day), the command line; and an agent's planned date at most 7 days ahead."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from config.settings import Settings
from crm_core.intake import IntakeRequest
from crm_core.models import Channel, Inquiry, InquiryStatus
from crm_core.models.calendar_files import CalendarFile
from routing.calendar_cli import _show
from routing.calendar_files import XmlCalendar, shipped_years
from routing.calendar_service import CalendarKeeper
from tests.web.conftest import running  # noqa: F401 - fixture

DECEMBER_2026 = datetime(2026, 12, 7, 12, tzinfo=UTC)
YEAR_2027 = ('<?xml version="1.0" encoding="UTF-8"?>\n<calendar year="2027" lang="ru"><days>'
             '<day d="01.01" t="1"/><day d="01.04" t="1"/><day d="01.05" t="1"/><day d="01.06" t="1"/>'
             '<day d="01.07" t="1"/><day d="01.08" t="1"/><day d="02.22" t="2"/><day d="02.23" t="1"/>'
             '</days></calendar>')


@pytest.fixture
def hub_sections() -> dict:
    return {"routing": {"enabled": False}}


def own_keeper(running) -> CalendarKeeper:  # noqa: F811
    """The hub's keeper on a fake clock and a calendar of its own (a loaded year stays in this test)."""
    keeper = running.hub.connectors["calendar"]
    assert isinstance(keeper, CalendarKeeper)
    keeper.clock = lambda: DECEMBER_2026
    keeper.calendar = XmlCalendar.from_years(shipped_years())
    return keeper


def month_row(page: str, month: int) -> str:
    row = page[page.index(f'<tr data-month="{month}">'):]
    return row[:row.index("</tr>")]


async def test_the_admin_checks_a_year_and_is_warned_about_the_missing_next_year(running):  # noqa: F811
    own_keeper(running)
    admin = await running.browser("root")
    resp, page = await admin.get("/admin/routing/calendar?year=2025")
    assert resp.status == 200
    assert "Нет официального производственного календаря на 2027 год" in page
    assert "2025: официальный файл" in page
    assert '<td class="num">19</td><td class="num">1</td><td class="num">151</td>' in month_row(page, 11)
    assert '<td class="num">17</td><td class="num">0</td><td class="num">136</td>' in month_row(page, 1)
    resp, page = await admin.get("/admin/routing")
    assert 'id="calendar-missing"' in page and "2027" in page
    resp, status = await admin.get("/admin/routing/calendar/status.json")
    assert "2027" in status
    agent = await running.browser("anna")
    resp, _ = await agent.get("/admin/routing/calendar")
    assert resp.status == 403
    resp, status = await agent.get("/admin/routing/calendar/status.json")
    assert resp.status == 200 and status.strip() == "{}"


async def test_healthz_names_the_years_and_the_missing_one(running):  # noqa: F811
    own_keeper(running)
    http = await running.browser()
    resp, body = await http.get("/healthz")
    assert resp.status == 200
    assert '"calendar": {"years": [2025, 2026], "missing": [2027]' in body
    assert "no official production calendar for 2027" in body


async def test_loading_the_next_years_file_puts_it_in_force_and_keeps_the_history(running):  # noqa: F811
    keeper = own_keeper(running)
    admin = await running.browser("root")
    resp, page = await admin.post("/admin/routing/calendar", {"text": "<calendar year='2027'><days/></calendar>"})
    assert resp.status == 422 and "Файл не принят" in page and "no &lt;day&gt; elements" in page
    resp, _ = await admin.post("/admin/routing/calendar", {"text": YEAR_2027})
    assert resp.status == 303
    resp, page = await admin.get(resp.headers["Location"])
    assert "Календарь на 2027 год загружен и действует" in page
    assert "2027: официальный файл" in page and "Нет официального" not in page
    assert '<td class="num">15</td><td class="num">0</td><td class="num">120</td>' in month_row(page, 1)
    assert '<td class="num">19</td><td class="num">1</td><td class="num">151</td>' in month_row(page, 2)
    history = page[page.index('id="calendar-history"'):]
    assert '<tr data-year="2027">' in history and "Root" in history
    resp, _ = await admin.post("/admin/routing/calendar", {"text": YEAR_2027})
    resp, page = await admin.get(resp.headers["Location"])
    assert "Этот файл на 2027 год уже действует" in page
    async with running.hub.database.sessions() as s:
        rows = (await s.execute(select(CalendarFile))).scalars().all()
    assert [(r.year, r.loaded_by) for r in rows] == [(2027, running.agency.users["root"])]
    assert rows[0].content == YEAR_2027 and len(rows[0].sha256) == 64
    # another hub process reads the stored year at its next poll
    other = CalendarKeeper(running.hub.database.sessions, XmlCalendar.from_years(shipped_years()),
                           clock=lambda: DECEMBER_2026)
    assert other.missing() == [2027]
    assert await other.refresh() == [2027]
    assert other.missing() == [] and keeper.health() == {"years": [2025, 2026, 2027], "missing": []}


async def test_the_warning_goes_to_the_log_once_a_day(running, caplog):  # noqa: F811
    keeper = own_keeper(running)
    keeper.clock = lambda: datetime(2026, 10, 31, 12, tzinfo=UTC)
    with caplog.at_level(logging.WARNING, logger="hub.calendar"):
        assert not keeper.warn_once_a_day()  # October: 2027 is not needed yet
        keeper.clock = lambda: datetime(2026, 11, 1, 9, tzinfo=UTC)
        assert keeper.warn_once_a_day()
        assert not keeper.warn_once_a_day()
        keeper.clock = lambda: datetime(2026, 11, 2, 9, tzinfo=UTC)
        assert keeper.warn_once_a_day()
    assert [r.getMessage()[:56] for r in caplog.records] == [
        "no official production calendar for 2027: using the holi"] * 2


async def test_the_command_line_shows_a_year_by_month(running):  # noqa: F811
    keeper = own_keeper(running)
    out = io.StringIO()
    await _show(keeper, Settings(), 2026, out)
    text = out.getvalue()
    assert text.startswith("2026 (official file; Europe/Moscow)")
    assert "январь        15      0     120       120" in text
    assert "итого        247      4    1972      1972" in text
    assert "warning: no official production calendar for 2027" in text


async def test_an_agents_planned_date_is_at_most_seven_days_ahead(running):  # noqa: F811
    a = running.agency
    res = await running.hub.intake.accept(IntakeRequest(
        channel=Channel.EMAIL, external_id="<plan@x>", email="c@example.ru", text="Квартира", taken_by=a.users["anna"]))
    anna = await running.browser("anna")
    await anna.get(f"/inquiries/{res.inquiry_id}")
    zone = ZoneInfo(Settings().time_zone)
    too_far = (datetime.now(zone) + timedelta(days=8)).strftime("%Y-%m-%dT%H:%M")
    resp, page = await anna.post(f"/inquiries/{res.inquiry_id}", {"planned_action": "Позвонить",
                                                                  "planned_at": too_far})
    assert resp.status == 422 and "не позже чем через 7 дней" in page
    fine = (datetime.now(zone) + timedelta(days=6)).strftime("%Y-%m-%dT%H:%M")
    resp, page = await anna.post(f"/inquiries/{res.inquiry_id}", {"planned_action": "Позвонить", "planned_at": fine})
    assert resp.status == 303
    async with running.hub.database.sessions() as s:
        stored = (await s.execute(select(Inquiry).where(Inquiry.id == res.inquiry_id))).scalar_one()
    assert stored.status == InquiryStatus.IN_WORK
    assert stored.planned_at.astimezone(zone).strftime("%Y-%m-%dT%H:%M") == fine


def test_hub_calendar_load_and_show_on_the_command_line(tmp_path, monkeypatch, capsys):
    from main import cli
    from routing import calendar_files

    monkeypatch.setattr(calendar_files, "_SHARED", {})  # the year loaded stays out of the other tests' calendar
    monkeypatch.setenv("HUB_DATABASE__URL", f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}")
    (tmp_path / "2027.xml").write_text(YEAR_2027, encoding="utf-8")
    (tmp_path / "bad.xml").write_text("<calendar year='2027'/>", encoding="utf-8")
    assert cli(["calendar", "load", str(tmp_path / "bad.xml")]) == 1
    assert "no <day> elements" in capsys.readouterr().err
    assert cli(["calendar", "load", str(tmp_path / "2027.xml")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2027: loaded") and "2027 (official file; Europe/Moscow)" in out
    assert "февраль       19      1     151       151" in out
    assert cli(["calendar", "show", "2028"]) == 0
    assert "2028 (NO OFFICIAL FILE: the holidays library's guess; Europe/Moscow)" in capsys.readouterr().out
