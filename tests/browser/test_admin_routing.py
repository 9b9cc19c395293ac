"""An administrator's first day with routing, in headless Chromium (no internet: the map shows its grid instead
of street tiles): a rule with an area drawn on the map and a price range, replayed against last week in the
page, published, and a web form from a listing inside the area goes to the rule's agent. The administrator's
menu fits one line at 1366 px. Screenshots for the README go to docs/screenshots/."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from sqlalchemy import select

from crm_core.agent_states import set_status
from crm_core.models import Inquiry
from routing.queries import load_rule_data
from routing.rule_versions import publish
from tests.browser.conftest import browser, db, log_in  # noqa: F401 - fixtures: Chromium, SQLite
from tests.routing.replay_world import CENTRE, FAR, seed_last_week
from tests.web.conftest import PASSWORD, hub_sections, running  # noqa: F401 - fixtures

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


async def draw_square(page, half: int = 70) -> None:  # noqa: ANN001
    """Four clicks around the middle of the map (Moscow's centre), then «Замкнуть область»."""
    await page.wait_for_function("window.hubRuleMap !== undefined")
    box = await page.locator("#rule-map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for dx, dy in ((-half, -half), (half, -half), (half, half), (-half, half)):
        await page.mouse.click(cx + dx, cy + dy)
    await page.click("#map-close")


async def test_admin_builds_replays_and_publishes_a_territory_rule(running, browser):  # noqa: F811
    a = running.agency
    anna, oleg = a.users["anna"], a.users["oleg"]
    await seed_last_week(running.hub, oleg)  # last week: 3 flats in the centre, 3 far out, all Oleg's
    await publish(running.hub.database.sessions, {"rules": [], "default": {  # what ran: everything to Oleg
        "target": {"agents": [oleg]}, "owner_first": False}}, None)
    page = await log_in(browser, running.base, "root", PASSWORD)
    await page.set_viewport_size({"width": 1366, "height": 900})

    await page.goto(running.base + "/admin/routing/editor?new=1")
    await page.fill("input[name=name]", "Центр, продажа 20–50 млн")
    await page.fill("input[name=id]", "centre-sale")
    await page.check("input[name=channels][value=webform]")
    await page.check("input[name=deal_types][value=sale]")
    await page.fill("input[name=price_min]", "20 000 000")
    await page.fill("input[name=price_max]", "50000000")
    await draw_square(page)
    assert '"Polygon"' in await page.input_value("#polygon-input")
    await page.check("input[name=target_kind][value=agents]")
    await page.select_option("#target-agents", label="Anna")
    await page.select_option("select[name=strategy]", "round_robin")
    await page.click("#save-draft")
    await page.wait_for_url("**/admin/routing/editor?draft=*")
    assert "Вы правите черновик" in await page.locator("#draft-banner").inner_text()
    assert await load_rule_data_ids(running) == []  # the running rules are untouched by a draft

    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.click("tr[data-rule='centre-sale'] a")
    await page.locator("#rule-form").wait_for()
    await page.wait_for_function("window.hubRuleMap !== undefined")
    await page.screenshot(path=str(SHOTS / "admin-rules-editor.png"), full_page=True)
    await page.locator("fieldset.territory").screenshot(path=str(SHOTS / "admin-territory-map.png"))

    await page.click("text=Проверить на прошлых обращениях")
    await page.wait_for_url("**/admin/routing/replay?draft=*")
    await page.click("#replay-run")
    await page.locator("#replay-figures").wait_for(timeout=20_000)  # the progress line reloads when done
    assert await page.locator("#replay-total").inner_text() == "6"
    assert await page.locator("#replay-moved").inner_text() == "3"
    anna_row = page.locator("#replay-agents tr", has_text="Anna")
    await anna_row.locator("td").first.wait_for()  # read the row once drawn (all_inner_texts does not wait)
    assert (await anna_row.locator("td").all_inner_texts())[:4] == ["Anna", "0", "3", "+3"]
    assert await page.locator("#replay-chart rect.bar-simulated").count() >= 1
    await page.screenshot(path=str(SHOTS / "admin-replay.png"), full_page=True)

    await page.click("#replay-publish")
    await page.wait_for_url("**/admin/routing/editor?notice=published")
    assert await load_rule_data_ids(running) == ["centre-sale"]

    await set_status(running.hub.database.sessions, running.hub.bus, anna, "available")
    await set_status(running.hub.database.sessions, running.hub.bus, oleg, "available")
    async with aiohttp.ClientSession() as site:
        for key, (lat, lon) in (("inside", CENTRE), ("outside", FAR)):
            resp = await site.post(running.base + "/forms/agency-site", json={
                "name": "Покупатель", "phone": f"+7926000{len(key):04d}", "message": "Хочу посмотреть квартиру",
                "idempotency_key": f"listing-{key}", "price": "35 000 000", "lat": lat, "lon": lon,
                "deal_type": "sale"})
            assert resp.status == 201, await resp.text()
    async with running.hub.database.sessions() as s:
        owners = dict((await s.execute(select(Inquiry.external_id, Inquiry.owner_id)
                                       .where(Inquiry.external_id.like("agency-site:%")))).all())
    assert owners["agency-site:listing-inside"] == anna  # inside the drawn area, in the price range: the rule's agent
    assert owners["agency-site:listing-outside"] == oleg  # outside the area: the default rule


async def load_rule_data_ids(running) -> list[str]:  # noqa: ANN001, F811
    async with running.hub.database.sessions() as s:
        return [r["id"] for r in (await load_rule_data(s))["rules"]]


async def test_the_admins_menu_fits_one_line_at_1366(running, browser):  # noqa: F811
    page = await log_in(browser, running.base, "root", PASSWORD)
    await page.set_viewport_size({"width": 1366, "height": 768})
    await page.goto(running.base + "/admin/routing/editor")
    titles = page.locator("nav.menus .menu-title")
    assert await titles.all_inner_texts() == ["Работа", "Клиенты и объекты", "Звонки", "Команда", "Отчёты",
                                              "Настройки"]
    tops = {round((await titles.nth(i).bounding_box())["y"]) for i in range(await titles.count())}
    assert len(tops) == 1  # one line
    header = await page.locator("header.top").bounding_box()
    middle = header["y"] + header["height"] / 2
    parts = page.locator("header.top > *:visible, header.top .me > *:visible")
    for i in range(await parts.count()):  # brand, menus, search, state, name, language, log out: one row
        box = await parts.nth(i).bounding_box()
        assert abs(box["y"] + box["height"] / 2 - middle) < 12, await parts.nth(i).inner_text()
    assert await page.evaluate("document.querySelector('header.top').scrollWidth <= 1366")
    assert await page.locator("nav.menus li.menu.on .menu-title").inner_text() == "Настройки"
    assert await page.locator("nav.menus a[aria-current=page]").inner_text() == "Правила распределения"
    await page.keyboard.press("Tab")  # keyboard: the menus open on focus, no script needed
    for _ in range(12):
        if await page.evaluate("document.activeElement.classList.contains('menu-title')"):
            break
        await page.keyboard.press("Tab")
    assert await page.locator("nav.menus li.menu:focus-within .menu-items").is_visible()
    await page.evaluate("document.activeElement.blur()")
    await page.hover("nav.menus li.menu[data-group=settings] .menu-title")
    await page.locator("nav.menus li.menu[data-group=settings] .menu-items").wait_for(state="visible")
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "nav-admin.png"), clip={"x": 0, "y": 0, "width": 1366, "height": 520})
    await page.fill("form.search input[name=q]", "№1")
    await page.press("form.search input[name=q]", "Enter")
    await page.wait_for_url("**/clients?q=*")  # no inquiry №1 yet: the clients' search takes it
    agent = await log_in(browser, running.base, "anna", PASSWORD)
    await agent.set_viewport_size({"width": 1366, "height": 768})
    groups = await agent.locator("nav.menus .menu-title").all_inner_texts()
    assert "Настройки" not in groups and "Работа" in groups
