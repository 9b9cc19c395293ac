"""Team offers live in the workspace (headless Chromium): the group sees the offer the moment it is made, the
first «Беру работу на себя» wins, the others see that it was taken, also when they lose the race."""

from __future__ import annotations

import asyncio

from sqlalchemy import select, update

from crm_core.intake import IntakeRequest
from crm_core.models import AgentStatus, Channel, Inquiry, InquiryStatus, User
from crm_core.models.routing import TeamOffer
from routing.queries import save_rule_data
from tests.browser.conftest import browser, db, log_in  # noqa: F401 - fixtures: Chromium, SQLite
from tests.web.conftest import PASSWORD, hub_sections, running  # noqa: F401 - fixtures

EVIL = '<img src=x onerror=alert(1)>Квартира'


async def _offer(running, key: str) -> tuple[int, int]:  # noqa: F811
    res = await running.hub.intake.accept(IntakeRequest(channel=Channel.WEBFORM, external_id=key, name="Клиент",
                                                        phone=None, email=f"{key}@example.ru", text="Нужна квартира",
                                                        subject=EVIL))
    async with running.hub.database.sessions() as s:
        offer_id = (await s.execute(select(TeamOffer.id).where(TeamOffer.inquiry_id == res.inquiry_id))).scalar()
    assert offer_id is not None, "the inquiry was not offered to the team"
    return res.inquiry_id, offer_id


async def _owner(running, inquiry_id: int) -> int | None:  # noqa: F811
    async with running.hub.database.sessions() as s:
        return (await s.get(Inquiry, inquiry_id)).owner_id


async def test_an_offer_appears_live_one_agent_takes_it_and_the_other_sees_it_taken(running, browser):  # noqa: F811
    a = running.agency
    await save_rule_data(running.hub.database.sessions, {"rules": [{
        "id": "team", "priority": 1, "target": {"departments": [a.sales]}, "strategy": "team_claim",
        "owner_first": False, "offer_seconds": 600}]})
    async with running.hub.database.sessions() as s, s.begin():
        await s.execute(update(User).where(User.id.in_([a.users["anna"], a.users["oleg"]]))
                        .values(status=AgentStatus.AVAILABLE))
    anna = await log_in(browser, running.base, "anna", PASSWORD)
    oleg = await log_in(browser, running.base, "oleg", PASSWORD)
    for page in (anna, oleg):
        await page.wait_for_selector("#ws-state.ws-on")

    inquiry_id, offer_id = await _offer(running, "o1")
    card_a = anna.locator(f".routing-offer[data-offer='{offer_id}']")
    card_o = oleg.locator(f".routing-offer[data-offer='{offer_id}']")
    await card_a.wait_for(timeout=5000)
    await card_o.wait_for(timeout=5000)
    assert await card_a.locator(".subject").text_content() == EVIL  # the client's text, as text
    assert f"№{inquiry_id} · Форма на сайте" == await card_a.locator(".offer-title").text_content()
    await card_a.locator("button.claim", has_text="Беру работу на себя").click()
    await card_a.locator(".offer-result", has_text="Обращение ваше").wait_for(timeout=5000)
    assert await card_a.locator("a.open").get_attribute("href") == f"/inquiries/{inquiry_id}"
    await card_o.locator(".offer-result", has_text="Обращение уже взял другой агент").wait_for(timeout=5000)
    assert await card_o.locator("button.claim").is_disabled()
    assert await _owner(running, inquiry_id) == a.users["anna"]

    # both press at the same moment: one wins, the other's card says it is taken
    inquiry_id, offer_id = await _offer(running, "o2")
    cards = [p.locator(f".routing-offer[data-offer='{offer_id}']") for p in (anna, oleg)]
    for card in cards:
        await card.wait_for(timeout=5000)
    await asyncio.gather(*(card.locator("button.claim").click() for card in cards))
    for card in cards:
        await card.locator(".offer-result:not(:empty)").wait_for(timeout=5000)
    classes = [await card.get_attribute("class") for card in cards]
    assert sorted("mine" in c for c in classes) == [False, True], classes
    winner = (a.users["anna"], a.users["oleg"])[["mine" in c for c in classes].index(True)]
    assert await _owner(running, inquiry_id) == winner

    # another hub instance's claim whose push has not arrived yet: the server's answer says too late
    inquiry_id, offer_id = await _offer(running, "o3")
    card = oleg.locator(f".routing-offer[data-offer='{offer_id}']")
    await card.wait_for(timeout=5000)
    async with running.hub.database.sessions() as s, s.begin():
        await s.execute(update(TeamOffer).where(TeamOffer.id == offer_id)
                        .values(state="claimed", claimed_by=a.users["anna"]))
        await s.execute(update(Inquiry).where(Inquiry.id == inquiry_id)
                        .values(owner_id=a.users["anna"], status=InquiryStatus.IN_WORK))
    await card.locator("button.claim").click()
    await card.locator(".offer-result", has_text="Опоздали").wait_for(timeout=5000)
    assert "taken" in await card.get_attribute("class")
    assert await _owner(running, inquiry_id) == a.users["anna"]
    assert anna.dialogs == [] and oleg.dialogs == []
