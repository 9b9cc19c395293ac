"""Report charts in headless Chromium: the SVG draws the plotted values; screenshots kept in artifacts/screenshots."""

from __future__ import annotations

from pathlib import Path

from tests.browser.conftest import browser, db, log_in  # noqa: F401 - fixtures: Chromium, SQLite hub
from tests.reports.world import seed_world
from tests.web.conftest import PASSWORD, hub_sections, running  # noqa: F401

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
WEEK = "date_from=2026-03-02&date_to=2026-03-08"


async def test_heat_map_and_funnel_draw_their_values(running, browser):  # noqa: F811
    await seed_world(running.hub.database.sessions, running.agency)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = await log_in(browser, running.base, "root", PASSWORD)
    await page.goto(f"{running.base}/reports/heatmap?{WEEK}")
    cell = page.locator('svg.heat rect[data-day="0"][data-hour="9"]')
    assert await cell.get_attribute("data-value") == "2"
    box = await cell.bounding_box()
    assert box and box["width"] > 10 and box["height"] > 10
    fill = await cell.evaluate("e => getComputedStyle(e).fill")
    empty = await page.locator('svg.heat rect[data-day="0"][data-hour="3"]').evaluate(
        "e => getComputedStyle(e).fill")
    assert fill != empty  # a busy hour is coloured differently from an empty one
    await page.screenshot(path=str(SHOTS / "report-heatmap.png"), full_page=True)

    await page.goto(f"{running.base}/reports/funnel?{WEEK}")
    bars = page.locator('svg.funnel g.bar rect.s1')
    widths = [await bars.nth(i).evaluate("e => e.getBBox().width") for i in range(3)]
    values = [await bars.nth(i).get_attribute("data-value") for i in range(3)]
    assert values == ["8", "6", "3"]
    assert widths[0] > widths[1] > widths[2] > 0  # received → processed → positive narrows
    await page.screenshot(path=str(SHOTS / "report-funnel.png"), full_page=True)
