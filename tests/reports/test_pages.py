"""Report pages in a running hub over both databases: numbers equal a direct count, the SVG plots them,
each role reads only its reach, and exports are correct and never turn a client's text into a formula."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

from openpyxl import load_workbook
from sqlalchemy import func, select

from crm_core.models import Call, Inquiry, InquiryStatus
from tests.reports.world import CLIENT_FORMULA_NAME, seed_world
from tests.web.conftest import hub_sections, running  # noqa: F401 - fixtures

WEEK = "date_from=2026-03-02&date_to=2026-03-08"
START, END = datetime(2026, 3, 1, 21, tzinfo=UTC), datetime(2026, 3, 8, 21, tzinfo=UTC)  # Moscow week in UTC


async def _world(running):  # noqa: ANN001, ANN202, F811
    return await seed_world(running.hub.database.sessions, running.agency)


def _bar(text: str, label: str) -> list[str]:
    """The plotted values of one labelled bar group in the SVG."""
    m = re.search(r'<g class="bar" data-label="' + re.escape(label) + r'">(.*?)</g>', text, re.S)
    assert m, f"no bar for {label!r}"
    return re.findall(r'<rect class="s\d"[^>]*data-value="([^"]+)"', m.group(1))


async def test_funnel_page_equals_a_direct_count_and_plots_it(running):  # noqa: F811
    await _world(running)
    sales = running.agency.sales
    async with running.hub.database.sessions() as s:
        in_week = (Inquiry.created_at >= START, Inquiry.created_at < END, Inquiry.department_id == sales)
        received = (await s.execute(select(func.count()).select_from(Inquiry).where(*in_week))).scalar()
        done = (await s.execute(select(func.count()).select_from(Inquiry)
                                .where(*in_week, Inquiry.status == InquiryStatus.DONE))).scalar()
    b = await running.browser("root")
    resp, text = await b.get(f"/reports/funnel?{WEEK}")
    assert resp.status == 200
    assert "<svg" in text and "<script" not in text.split("<main>")[1].split("</main>")[0]
    assert _bar(text, "Продажи") == [str(received), str(done)]
    assert _bar(text, "Получено")[0] == "8"
    row = re.search(r"<tr><td class=\"k-text\">Продажи</td>(.*?)</tr>", text, re.S).group(1)
    assert re.findall(r">([^<]*)</td>", row)[:3] == [str(received), "4", str(done)]


async def test_each_role_reads_only_its_reach(running):  # noqa: F811
    await _world(running)
    a = running.agency
    anna = await running.browser("anna")
    resp, text = await anna.get(f"/reports/funnel?{WEEK}")
    assert resp.status == 200 and "Ваши собственные показатели" in text
    assert _bar(text, "Продажи") == ["3", "2"] and 'data-label="Аренда"' not in text
    resp, _ = await anna.get(f"/reports/funnel?{WEEK}&department={a.rent}")
    assert resp.status == 403
    resp, _ = await anna.get(f"/reports/kpi?{WEEK}&agent={a.users['oleg']}")
    assert resp.status == 403
    resp, _ = await anna.get(f"/reports/cold.csv?{WEEK}&department={a.rent}")
    assert resp.status == 403
    mgr = await running.browser("mgr")
    resp, text = await mgr.get(f"/reports/funnel?{WEEK}")
    assert _bar(text, "Аренда") == ["1", "0"] and 'data-label="Продажи"' not in text
    resp, _ = await mgr.get(f"/reports/missed.xlsx?{WEEK}&department={a.sales}")
    assert resp.status == 403
    director = await running.browser("director")
    resp, text = await director.get(f"/reports/funnel?{WEEK}&department={a.rent}")
    assert resp.status == 200 and _bar(text, "Аренда") == ["1", "0"]
    anonymous = await running.browser()
    resp, _ = await anonymous.get(f"/reports/funnel?{WEEK}")
    assert resp.status in (302, 303) and "/login" in resp.headers["Location"]


async def test_heat_map_cells_hold_the_calls_of_each_moscow_hour(running):  # noqa: F811
    await _world(running)
    async with running.hub.database.sessions() as s:
        monday_nine = (await s.execute(select(func.count()).select_from(Call).where(
            Call.direction == "inbound", Call.started_at >= datetime(2026, 3, 2, 6, tzinfo=UTC),
            Call.started_at < datetime(2026, 3, 2, 7, tzinfo=UTC)))).scalar()
    b = await running.browser("boss")
    resp, text = await b.get(f"/reports/heatmap?{WEEK}")
    assert resp.status == 200
    cell = re.search(r'data-day="0" data-hour="9" data-value="(\d+)"', text).group(1)
    assert int(cell) == monday_nine == 2
    root = await running.browser("root")
    _, text = await root.get(f"/reports/heatmap?{WEEK}")
    assert re.search(r'data-day="6" data-hour="0" data-value="1"', text)  # Sunday 00:30 Moscow
    assert "Всего входящих: <b>5</b>" in text


async def test_missed_calls_page_shows_the_callback_and_escapes_the_caller(running):  # noqa: F811
    await _world(running)
    b = await running.browser("root")
    resp, text = await b.get(f"/reports/missed?{WEEK}")
    assert resp.status == 200
    assert "=HYPERLINK(&#34;http://evil.example&#34;" in text and CLIENT_FORMULA_NAME not in text
    assert "Пропущено всего: <b>2</b>" in text and "Перезвонили: <b>1</b>" in text
    assert _bar(text, "≤15") == ["1"] and _bar(text, "не перезвонили") == ["1"]


async def test_csv_export_is_right_and_formula_safe(running):  # noqa: F811
    await _world(running)
    b = await running.browser("root")
    resp, text = await b.get(f"/reports/cold.csv?{WEEK}")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/csv")
    assert 'filename="report-cold-2026-03-02_2026-03-08.csv"' in resp.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert rows[0] == ["Номер", "Имя звонившего", "Звонков", "Отвечено звонков", "Первый звонок",
                       "Последний звонок"]
    by_number = {r[0]: r for r in rows[1:]}
    assert set(by_number) == {"'+79160000004", "'+79160000003", "'+79160000002"}
    assert by_number["'+79160000002"][1] == "'" + CLIENT_FORMULA_NAME
    assert by_number["'+79160000004"][2:5] == ["1", "1", "2026-03-08 00:30:00"]
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)
    _, funnel = await b.get(f"/reports/funnel.csv?{WEEK}")
    lines = list(csv.reader(io.StringIO(funnel.lstrip("\ufeff")), delimiter=";"))
    assert ["Продажи", "6", "4", "2", "66.7%", "33.3%"] in lines
    assert lines[-1][:4] == ["Итого", "8", "6", "3"]


async def test_xlsx_export_keeps_client_text_as_text(running):  # noqa: F811
    await _world(running)
    b = await running.browser("root")
    resp = await b.http.get(f"{b.base}/reports/missed.xlsx?{WEEK}")
    assert resp.status == 200
    wb = load_workbook(io.BytesIO(await resp.read()))
    ws = wb.active
    assert ws.title == "Пропущенные звонки"
    cells = [c for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    names = [c for c in cells if c.value == CLIENT_FORMULA_NAME]
    assert len(names) == 1 and names[0].data_type == "s"
    rows = {r[1]: r for r in ws.iter_rows(min_row=2, values_only=True)}
    assert rows["+79160000002"][0] == datetime(2026, 3, 2, 9, 20)  # Moscow wall-clock time
    assert rows["+79160000002"][4] == "Брошен в очереди"
    assert rows["+79160000002"][7] == 10.0  # called back after 10 minutes
    assert rows["+79160000003"][6] is None


async def test_bad_dates_are_named_and_unknown_reports_are_404(running):  # noqa: F811
    b = await running.browser("boss")
    resp, text = await b.get("/reports/kpi?date_from=2026-03-09&date_to=2026-03-01")
    assert resp.status == 422 and 'data-field="date_to"' in text and "Конец периода раньше начала" in text
    resp, _ = await b.get("/reports/kpi.csv?date_from=03/09/2026")
    assert resp.status == 422
    resp, _ = await b.get("/reports/nonsense")
    assert resp.status == 404
    resp, text = await b.get("/reports")
    assert resp.status == 200 and "/reports/cold?" in text and "<svg" in text
