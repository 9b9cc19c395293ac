"""The product's most visible moment, in a real browser: the caller's card pops up while the phone rings."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from connectors.asterisk.fake_pbx import FakePbx
from crm_core.models import Client, Contact, ContactKind
from tests.browser.conftest import log_in
from tests.web.conftest import PASSWORD

EVIL = '<script>alert("xss")</script><img src=x onerror=alert(2)>'
COLLECT = """() => { window.popupLog = [];
  document.addEventListener('hub:popup', e => window.popupLog.push(e.detail)); }"""


@pytest.fixture
async def pbx(request: pytest.FixtureRequest) -> AsyncIterator[FakePbx]:
    options = {"speed": 1.0, **(getattr(request, "param", None) or {})}
    async with FakePbx("answered.txt", secret="hubsecret", autoplay=False, **options) as fake:
        yield fake


@pytest.fixture
def hub_sections(pbx: FakePbx) -> dict:
    return {"asterisk": {"enabled": True, "port": pbx.port, "secret": "hubsecret", "ping_interval_s": 1.0}}


async def _client(running, name: str, phone: str) -> int:  # noqa: ANN001
    async with running.hub.database.sessions() as s, s.begin():
        client = Client(name=name, owner_id=running.agency.users["anna"])
        s.add(client)
        await s.flush()
        s.add(Contact(client_id=client.id, kind=ContactKind.PHONE, value=phone))
        return client.id


async def _ready(running, pbx: FakePbx) -> None:  # noqa: ANN001
    async with asyncio.timeout(10):
        while running.hub.telephony.state != "connected" or pbx.listeners == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_the_callers_card_pops_up_on_the_rung_agent_before_answer_and_never_on_another(running, browser, pbx):
    ivan = await _client(running, "Иван Петров", "+79161234567")
    anna = await log_in(browser, running.base, "anna", PASSWORD)
    oleg = await log_in(browser, running.base, "oleg", PASSWORD)
    for page in (anna, oleg):
        await page.evaluate(COLLECT)
        await page.wait_for_selector("#ws-state.ws-on")
    await _ready(running, pbx)
    pbx.play()
    card = anna.locator(".popup h3.caller")
    await card.wait_for(timeout=10_000)
    assert await card.text_content() == "Иван Петров"
    link = anna.locator(".popup a.open")
    assert await link.get_attribute("href") == f"/clients/{ivan}"
    await asyncio.wait_for(pbx.replay_done.wait(), 15)
    await anna.wait_for_function("() => window.popupLog.some(p => p.ended)")
    titles = await anna.evaluate("window.popupLog.map(p => p.title)")
    assert titles[0] == "Входящий звонок", "the card shows while the phone rings, before the answer"
    assert titles.index("Входящий звонок") < titles.index("Разговор")
    assert await oleg.evaluate("window.popupLog.length") == 0
    assert await oleg.locator(".popup").count() == 0


@pytest.mark.parametrize("pbx", [{"replace": {"Иван Петров": EVIL}}], indirect=True)
async def test_a_hostile_caller_name_from_the_pbx_shows_as_text(running, browser, pbx):
    anna = await log_in(browser, running.base, "anna", PASSWORD)
    await anna.wait_for_selector("#ws-state.ws-on")
    await _ready(running, pbx)
    pbx.play()
    card = anna.locator(".popup h3.caller")
    await card.wait_for(timeout=10_000)
    assert await card.text_content() == EVIL
    assert await anna.locator(".popup img").count() == 0
    assert anna.dialogs == []


async def test_click_to_call_from_the_calls_page_reaches_the_pbx_once_and_tells_the_agent(running, pbx):
    await _ready(running, pbx)
    http = await running.browser("anna")
    client_id = await _client(running, "Пётр Сидоров", "+79857776655")
    await http.get(f"/clients/{client_id}")
    resp, body = await http.post("/calls/originate", {"client_id": str(client_id), "phone": "8 985 777-66-55"},
                                 headers={"Accept": "application/json"})
    assert resp.status == 200, body
    assert json.loads(body) == {"ok": True, "result": "queued",
                                "message": "Звоним: сначала зазвонит ваш телефон"}
    [action] = [a for a in pbx.received if a.get("Action") == "Originate"]
    assert action["Channel"] == "PJSIP/101" and action["Exten"] == "89857776655"
    # A number that is not this client's is refused, and nothing is dialled.
    resp, _ = await http.post("/calls/originate", {"client_id": str(client_id), "phone": "+79990001122"})
    assert resp.status == 404
    assert pbx.actions["Originate"] == 1


async def test_the_call_button_on_the_client_card_dials_and_shows_the_answer(running, browser, pbx):
    await _ready(running, pbx)
    client_id = await _client(running, "Пётр Сидоров", "+79857776655")
    anna = await log_in(browser, running.base, "anna", PASSWORD)
    await anna.goto(f"{running.base}/clients/{client_id}")
    await anna.click("form.call-form button")
    result = anna.locator("form.call-form .call-result.ok")
    await result.wait_for(timeout=5_000)
    assert await result.text_content() == "Звоним: сначала зазвонит ваш телефон"
    assert pbx.actions["Originate"] == 1


@pytest.mark.parametrize("pbx", [{"speed": 0.05}], indirect=True)  # the call lasts 50 s: time to click
async def test_a_new_number_becomes_the_agents_client_in_one_click_from_the_pop_up(running, browser, pbx):
    anna = await log_in(browser, running.base, "anna", PASSWORD)
    await anna.wait_for_selector("#ws-state.ws-on")
    await _ready(running, pbx)
    pbx.play()
    button = anna.locator(".popup form.create-client button")
    await button.wait_for(timeout=15_000)
    assert await anna.locator(".popup h3.caller").text_content() == "Иван Петров"
    await button.click()
    await anna.wait_for_url("**/clients/*")
    assert await anna.locator("h1.client-name").text_content() == "Иван Петров"
    assert "+79161234567" in await anna.locator("ul.contacts").text_content()


@pytest.mark.parametrize("pbx", [{"speed": 0.05}], indirect=True)
async def test_the_agent_on_a_call_transfers_it_blind_and_only_their_own_call(running, pbx):
    await _ready(running, pbx)
    pbx.play()
    service = running.hub.telephony
    async with asyncio.timeout(10):
        while service.call_of_agent("101") is None or service.call_of_agent("101").answered_by != "101":  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    oleg = await running.browser("oleg")
    await oleg.get("/calls")
    resp, body = await oleg.post("/calls/transfer", {"extension": "103"})
    assert resp.status == 409 and json.loads(body)["result"] == "no_such_call"
    anna = await running.browser("anna")
    await anna.get("/calls")
    resp, body = await anna.post("/calls/transfer", {"extension": "103"})
    assert resp.status == 200, body
    [redirect] = [a for a in pbx.received if a.get("Action") == "Redirect"]
    assert (redirect["Channel"], redirect["Exten"], redirect["Context"]) == (
        "Local/talk@caller-00000000;1", "103", "agents")
    resp, _ = await anna.post("/calls/transfer", {"extension": "103\r\nAction: Hangup"})
    assert resp.status == 400
