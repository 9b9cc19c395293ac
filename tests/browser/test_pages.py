"""What an agent sees in a real browser: log in, the inbox, client names shown as text, live pop-ups."""

from pathlib import Path

from bus.events import Push
from crm_core.intake import IntakeRequest
from crm_core.models import Channel, Client, Inquiry
from tests.browser.conftest import log_in
from tests.web.conftest import PASSWORD

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
EVIL = '<script>alert("xss")</script><img src=x onerror=alert(2)>'


async def give(running, name, login, key):
    res = await running.hub.intake.accept(IntakeRequest(channel=Channel.WEBFORM, external_id=key, name=name,
                                                        phone=None, email=f"{key}@example.ru", text="Нужна квартира",
                                                        subject="Квартира у метро"))
    async with running.hub.database.sessions() as s, s.begin():
        (await s.get(Inquiry, res.inquiry_id)).owner_id = running.agency.users[login]
        (await s.get(Client, res.client_id)).owner_id = running.agency.users[login]
    return res


async def test_agent_logs_in_and_sees_a_script_name_as_plain_text(running, browser):
    await give(running, "Иван Петров", "anna", "k1")
    res = await give(running, EVIL, "anna", "k2")
    page = await log_in(browser, running.base, "anna", PASSWORD)
    names = await page.locator("a.client-name").all_text_contents()
    assert "Иван Петров" in names and EVIL in names
    await page.goto(f"{running.base}/clients/{res.client_id}")
    assert await page.locator("h1.client-name").text_content() == EVIL
    assert await page.locator("script:not([src])").count() == 0
    assert page.dialogs == []
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "client-card.png"), full_page=True)


async def test_a_pop_up_reaches_the_rung_agent_only_and_shows_names_as_text(running, browser):
    anna = await log_in(browser, running.base, "anna", PASSWORD)
    oleg = await log_in(browser, running.base, "oleg", PASSWORD)
    for page in (anna, oleg):
        await page.wait_for_selector("#ws-state.ws-on")
    await running.hub.bus.publish(Push((running.agency.users["anna"],), "popup", {
        "call_id": "1795390910.0", "title": "Входящий звонок", "name": EVIL, "number": "+79161234567",
        "lines": ["Отдел продаж · очередь sales"],
    }))
    card = anna.locator(".popup[data-call='1795390910.0']")
    await card.wait_for(timeout=5000)
    assert await card.locator(".caller").text_content() == EVIL
    assert await card.locator(".number").text_content() == "+79161234567"
    assert anna.dialogs == []
    await oleg.wait_for_timeout(300)
    assert await oleg.locator(".popup").count() == 0
    SHOTS.mkdir(parents=True, exist_ok=True)
    await anna.screenshot(path=str(SHOTS / "popup.png"))


async def test_the_callers_details_fill_in_the_card_and_stay_when_the_call_ends(running, browser):
    anna = await log_in(browser, running.base, "anna", PASSWORD)
    await anna.wait_for_selector("#ws-state.ws-on")
    user = (running.agency.users["anna"],)
    call = {"call_id": "1795390911.0"}
    await running.hub.bus.publish(Push(user, "popup", {**call, "title": "Входящий звонок", "name": "Иван Петров",
                                                       "number": "+79161234567", "client_id": 1}))
    card = anna.locator(".popup[data-call='1795390911.0']")
    await card.wait_for(timeout=5000)
    await running.hub.bus.publish(Push(user, "popup_details", {**call, "owner": EVIL, "recent_calls": [],
                                                               "inquiries": [{"id": 7, "subject": EVIL}]}))
    await card.locator(".owner").wait_for(timeout=5000)
    assert await card.locator(".owner").text_content() == EVIL
    assert await card.locator(".inquiries a").text_content() == f"№7 {EVIL}"
    await running.hub.bus.publish(Push(user, "popup", {**call, "title": "Звонок завершён", "ended": True}))
    await anna.locator(".popup.ended[data-call='1795390911.0']").wait_for(timeout=5000)
    assert await card.locator(".caller").text_content() == "Иван Петров"  # the ended card keeps its caller
    assert await card.locator(".owner").text_content() == EVIL
    await running.hub.bus.publish(Push(user, "popup_details", {"call_id": "gone.1", "owner": "x"}))
    await anna.wait_for_timeout(300)
    assert await anna.locator(".popup[data-call='gone.1']").count() == 0  # details of no card draw nothing
    assert anna.dialogs == []


async def test_workspace_switches_to_english(running, browser):
    page = await log_in(browser, running.base, "anna", PASSWORD)
    assert await page.locator("nav .menu-items a").first.text_content() == "Обращения"
    await page.click("text=English")
    await page.wait_for_url(running.base + "/inbox")
    assert await page.locator("nav .menu-items a").first.text_content() == "Inquiries"
