"""In a real browser: a new notice pops up as a toast on whatever page the agent has open, and the unread
count next to «Уведомления» in the top bar follows."""

from __future__ import annotations

from bus.events import Push
from crm_core.models import Client
from tests.browser.conftest import browser, db, log_in  # noqa: F401 - headless Chromium over SQLite
from tests.web.conftest import PASSWORD, hub_sections, running  # noqa: F401 - the running hub


async def test_a_notice_pops_up_and_the_unread_count_follows(running, browser):  # noqa: F811
    page = await log_in(browser, running.base, "anna", PASSWORD)
    await page.wait_for_selector("#ws-state.ws-on", timeout=10000)
    anna = running.agency.users["anna"]
    await running.hub.bus.publish(Push((anna,), "speech_flag", {"call_id": 12, "categories": ["грубость"]}))
    toast = page.locator("#notice-toasts .notice-toast")
    await toast.first.wait_for(timeout=10000)
    assert "звонок №12" in await toast.first.inner_text()
    badge = page.locator('nav a[href="/notices"] .notice-count', has_text="1")
    await badge.wait_for(timeout=10000)
    assert await badge.inner_text() == "1"
    await toast.first.click()
    await page.wait_for_url(running.base + "/calls/12/transcript")


async def test_the_client_card_leads_to_the_clients_memorable_dates(running, browser):  # noqa: F811
    async with running.hub.database.sessions() as s, s.begin():
        client = Client(name="Пётр Сидоров", owner_id=running.agency.users["anna"],
                        department_id=running.agency.sales)
        s.add(client)
        await s.flush()
        client_id = client.id
    page = await log_in(browser, running.base, "anna", PASSWORD)
    await page.goto(f"{running.base}/clients/{client_id}")
    await page.click("#client-dates-link")
    await page.wait_for_url(f"{running.base}/clients/{client_id}/dates")
    assert await page.locator("h1").inner_text() == "Памятные даты"
