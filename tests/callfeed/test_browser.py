"""The department call feed in headless Chromium while the fake PBX replays burst20.txt: cards at the bottom
of the page with the number, client, owner and a ticking wait; «спам» sends one to the bin. Screenshots go
to artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from callfeed.wiring import service_of
from connectors.asterisk.fake_pbx import FakePbx
from crm_core.models import Client, Contact, ContactKind
from crm_core.models.callfeed import CallBin
from notifications.wiring import service_of as notifications_of
from tests.browser.conftest import browser, db, log_in  # noqa: F401 - Chromium and the SQLite database
from tests.telephony.test_ami_client import FAST, until
from tests.web.conftest import PASSWORD, running  # noqa: F401 - the running hub fixture

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@pytest.fixture
async def pbx() -> AsyncIterator[FakePbx]:
    async with FakePbx("burst20.txt", secret="hubsecret", speed=2.0, autoplay=False) as fake:
        yield fake


@pytest.fixture
def hub_sections(pbx: FakePbx) -> dict:
    return {"asterisk": {"enabled": True, "port": pbx.port, "secret": "hubsecret", **FAST}}


async def shot(page, name: str) -> None:  # noqa: ANN001
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / name), full_page=False)


async def test_waiting_calls_show_as_live_cards_and_one_goes_to_the_bin(running, browser, pbx):  # noqa: F811
    users = running.agency.users
    async with running.hub.database.sessions() as s, s.begin():
        client = Client(name="Иван Петров", owner_id=users["anna"], department_id=running.agency.sales)
        s.add(client)
        await s.flush()
        s.add(Contact(client_id=client.id, kind=ContactKind.PHONE, value="+79161000001"))
        s.add(Contact(client_id=client.id, kind=ContactKind.EMAIL, value="ivan@example.ru"))
        client_id = client.id
    await until(lambda: running.hub.telephony.state == "connected" and pbx.listeners == 1, 10)
    await service_of(running.hub).read()
    anna = await log_in(browser, running.base, "anna", PASSWORD)
    maria = await log_in(browser, running.base, "maria", PASSWORD)
    await anna.wait_for_selector("#ws-state.ws-on")
    await maria.wait_for_selector("#ws-state.ws-on")
    pbx.play()

    known = anna.locator(".cf-card", has_text="+79161000001")
    await known.wait_for(timeout=15_000)
    await known.locator(".cf-name", has_text="Иван Петров").wait_for(timeout=5_000)  # once the lookup is in
    assert await known.locator(".cf-owner").text_content() == "Ответственный: Anna"
    assert await known.locator("a.cf-open").get_attribute("href") == f"/clients/{client_id}"
    box = await anna.locator("#callfeed").bounding_box()
    viewport = anna.viewport_size
    assert box is not None and box["y"] + box["height"] >= viewport["height"] - 2, "the feed sits at the bottom"
    await shot(anna, "callfeed-cards.png")

    card = anna.locator(".cf-card").first
    call_id = await card.get_attribute("data-call")
    card = anna.locator(f".cf-card[data-call='{call_id}']")
    number = await card.locator(".cf-number").text_content()
    first = await card.locator(".cf-wait").text_content()
    await anna.wait_for_function(  # the waiting time ticks
        "([id, t]) => { const w = document.querySelector(`.cf-card[data-call='${id}'] .cf-wait`);"
        " return w && w.textContent !== t; }", arg=[call_id, first], timeout=3_000)
    await card.locator("button.cf-bin-spam").click()
    await card.locator("button.cf-confirm-yes").click()  # the card asks first
    await anna.locator(".cf-card", has_text=number).wait_for(state="detached", timeout=5_000)
    async with running.hub.database.sessions() as s:
        binned = (await s.execute(select(CallBin.number, CallBin.reason, CallBin.binned_by))).one()
    assert tuple(binned) == (number, "spam", users["anna"])
    assert await maria.locator(".cf-card").count() == 0, "the rent agent does not see sales calls"

    await anna.goto(running.base + "/callfeed/bin")
    assert await anna.locator(".cf-bin-row .cf-bin-number").first.text_content() == number
    assert await anna.locator("button.cf-restore").count() == 0, "only a supervisor restores"
    await shot(anna, "callfeed-bin.png")


async def test_an_agent_sends_the_self_service_link_from_the_client_card(running, browser, pbx):  # noqa: F811
    sent: list[tuple[str, str, str]] = []

    class Outbox:
        async def deliver(self, to: str, subject: str, text: str) -> None:
            sent.append((to, subject, text))

    notifications_of(running.hub).notifier.senders["email"] = Outbox()
    async with running.hub.database.sessions() as s, s.begin():
        client = Client(name="Иван Петров", owner_id=running.agency.users["anna"])
        s.add(client)
        await s.flush()
        s.add(Contact(client_id=client.id, kind=ContactKind.EMAIL, value="ivan@example.ru"))
        client_id = client.id
    anna = await log_in(browser, running.base, "anna", PASSWORD)
    await anna.goto(f"{running.base}/clients/{client_id}")
    button = anna.locator("#selfservice-link button.cf-selfservice-send")
    await button.click()
    result = anna.locator("#selfservice-link .cf-selfservice-result.ok")
    await result.wait_for(timeout=5_000)
    assert await result.text_content() == "Ссылка отправлена (на e-mail), действует 30 мин"
    await until(lambda: bool(sent), 10)
    assert sent[0][0] == "ivan@example.ru" and "/my/in/" in sent[0][2]
