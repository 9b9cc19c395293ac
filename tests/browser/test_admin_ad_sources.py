"""An administrator names an advertising source by its UTM label and sets what it costs a month, in headless
Chromium; a web form with that label arrives, and the sources report shows the month's cost per inquiry.
A screenshot of the page goes to docs/screenshots/ for the README."""

from __future__ import annotations

import calendar
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp

from tests.browser.conftest import browser, db, log_in  # noqa: F401 - fixtures: Chromium, SQLite
from tests.web.conftest import PASSWORD, running  # noqa: F401 - fixtures

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


async def test_an_admin_maps_a_utm_label_sets_its_monthly_cost_and_the_report_shows_the_cost_per_inquiry(
        browser, running):  # noqa: ANN001, F811
    today = datetime.now(ZoneInfo(running.hub.settings.time_zone)).date()
    first, last = today.replace(day=1), today.replace(day=calendar.monthrange(today.year, today.month)[1])
    page = await log_in(browser, running.base, "root", PASSWORD)
    await page.goto(running.base + "/admin/call-sources")

    label = page.locator("#utm-new")
    await label.locator("input[name=utm_source]").fill("cian")
    await label.locator("input[name=source]").fill("ЦИАН")
    await label.get_by_role("button", name="Сохранить").click()
    await page.wait_for_url("**notice=ad_saved**")
    assert await page.locator("#utm-table tr[data-utm=cian] input[name=source]").input_value() == "ЦИАН"

    cost = page.locator("#cost-new")
    await cost.locator("input[name=source]").fill("ЦИАН")
    await cost.locator("input[name=month]").fill(first.strftime("%Y-%m"))
    await cost.locator("input[name=amount]").fill("-30000")
    await cost.get_by_role("button", name="Сохранить").click()
    assert await page.locator("[data-error='cost.amount']").inner_text() == "Сумма не может быть отрицательной"
    await page.locator("#cost-new input[name=amount]").fill("30 000")  # the form kept the rest of what was typed
    await page.locator("#cost-new").get_by_role("button", name="Сохранить").click()
    await page.wait_for_url("**notice=ad_saved**")
    month_row = page.locator(f"#cost-table tr[data-cost='ЦИАН/{first:%Y-%m}']")
    assert "30\u00a0000" in await month_row.inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "admin-ad-sources.png"), full_page=True)

    async with aiohttp.ClientSession() as http:  # the agency's website posts a form with the label
        resp = await http.post(running.base + "/forms/flat-site", data={
            "name": "Ирина", "phone": "+7 916 111-22-33", "message": "Квартира у метро", "utm_source": "cian",
            "utm_campaign": "spring"})
        assert resp.status == 201

    await page.goto(f"{running.base}/reports/sources?date_from={first}&date_to={last}")
    headers = [h.strip() for h in await page.locator("table.report thead th").all_inner_texts()]
    row = page.locator("table.report tbody tr", has_text="ЦИАН")
    cells = [c.strip() for c in await row.locator("td").all_inner_texts()]
    shown = dict(zip(headers, cells, strict=True))
    assert shown["Рекламный источник"] == "ЦИАН" and shown["Получено"] == "1"
    assert shown["Расход, ₽"] == shown["Цена обращения, ₽"] == "30\u00a0000,00"
    assert shown["Цена сделки, ₽"] == "—"  # no deal yet: blank
