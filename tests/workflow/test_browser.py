"""In headless Chromium: the call script shows beside the caller's pop-up while the fake PBX replays answered.txt;
the agent walks it, fills a field, saves, and the answers land on the call's inquiry. A screenshot is kept in
artifacts/screenshots/ at the repository root."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.asterisk.fake_pbx import FakePbx
from crm_core.models import Client, Contact, ContactKind
from crm_core.models.workflow import CallScript, ScriptRun
from tests.browser.conftest import browser, db, log_in  # noqa: F401 - Chromium, and pages on SQLite only
from tests.web.conftest import PASSWORD, running  # noqa: F401
from workflow.scripts import parse_steps

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
SCRIPT = """# start: Вы звоните по объявлению?
поля: Бюджет
- Да -> district
- Нет -> end

# district: Какой район интересует?
- Центр
- Другой
"""


@pytest.fixture
async def pbx() -> AsyncIterator[FakePbx]:
    async with FakePbx("answered.txt", secret="hubsecret", autoplay=False, speed=0.5) as fake:  # a 5 s call
        yield fake


@pytest.fixture
def hub_sections(pbx: FakePbx) -> dict:
    return {"asterisk": {"enabled": True, "port": pbx.port, "secret": "hubsecret", "ping_interval_s": 1.0}}


async def _ready(running, pbx: FakePbx) -> None:  # noqa: ANN001, F811
    async with asyncio.timeout(10):
        while running.hub.telephony.state != "connected" or pbx.listeners == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def _beside(panel, card) -> tuple[dict, dict]:  # noqa: ANN001 - Playwright locators
    """The two boxes once the page has placed the panel: the card widens when the caller's details arrive and
    the panel moves at the next frame (a ResizeObserver), so a measurement in between can catch the card
    wide and the panel not yet moved. Up to 2 s for it, as a person would see it."""
    for _ in range(40):
        box, card_box = await panel.bounding_box(), await card.bounding_box()
        if box["x"] + box["width"] <= card_box["x"]:
            break
        await asyncio.sleep(0.05)
    return box, card_box


async def test_the_script_shows_beside_the_pop_up_and_its_answers_reach_the_inquiry(running, browser, pbx):  # noqa: F811
    async with running.hub.database.sessions() as s, s.begin():
        client = Client(name="Иван Петров", owner_id=running.agency.users["anna"])
        s.add_all([client, CallScript(name="Входящий: продажи", queues=["sales"], steps=parse_steps(SCRIPT)),
                   CallScript(name="Любой звонок", channels=["call"], steps=parse_steps("# a: Чем помочь?\n- Ничем"))])
        await s.flush()
        s.add(Contact(client_id=client.id, kind=ContactKind.PHONE, value="+79161234567"))
    anna = await log_in(browser, running.base, "anna", PASSWORD)
    await anna.wait_for_selector("#ws-state.ws-on")
    await _ready(running, pbx)
    pbx.play()

    panel = anna.locator(".script-panel")
    await panel.wait_for(timeout=10_000)
    card = anna.locator(".popup").first
    assert await anna.locator(".popup h3.caller").first.text_content() == "Иван Петров"
    assert await panel.locator("h4").text_content() == "Скрипт: Входящий: продажи", "the sales queue's script"
    box, card_box = await _beside(panel, card)
    assert box["x"] + box["width"] <= card_box["x"], "the script stands beside (left of) the pop-up card"
    assert box["y"] < card_box["y"] + card_box["height"] and card_box["y"] < box["y"] + box["height"]
    assert await panel.locator(".question").text_content() == "Вы звоните по объявлению?"
    await panel.locator("input[data-field='Бюджет']").fill("15 млн")
    SHOTS.mkdir(parents=True, exist_ok=True)
    await anna.screenshot(path=str(SHOTS / "workflow_script_beside_popup.png"))
    await panel.get_by_role("button", name="Да").click()
    assert await panel.locator(".question").text_content() == "Какой район интересует?"
    await panel.get_by_role("button", name="Центр").click()
    await panel.get_by_role("button", name="Сохранить ответы").click()
    status = panel.locator(".status.ok")
    await status.wait_for(timeout=5_000)
    assert (await status.text_content()).startswith("Ответы сохранены")

    async with asyncio.timeout(20):  # the call ends, the call log opens its inquiry, the answers join it
        while True:
            async with running.hub.database.sessions() as s:
                run = (await s.execute(select(ScriptRun))).scalar_one_or_none()
            if run is not None and run.inquiry_id is not None:
                break
            await asyncio.sleep(0.2)
    assert [(a["answer"], a["fields"]) for a in run.answers] == [("Да", {"Бюджет": "15 млн"}), ("Центр", {})]
    await anna.goto(f"{running.base}/inquiries/{run.inquiry_id}")
    history = await anna.locator("main").text_content()
    assert "Ответы по скрипту" in history and "Бюджет: 15 млн" in history

    # On an inquiry's page, who may change it opens the script for its channel (a call: «Любой звонок»).
    root = await log_in(browser, running.base, "root", PASSWORD)
    await root.goto(f"{running.base}/inquiries/{run.inquiry_id}")
    await root.get_by_role("button", name="Скрипт разговора").click()
    inline = root.locator("#script-panels-inline .script-panel")
    await inline.wait_for(timeout=5_000)
    assert await inline.locator(".question").text_content() == "Чем помочь?"
    await inline.get_by_role("button", name="Ничем").click()
    await inline.get_by_role("button", name="Сохранить ответы").click()
    await inline.locator(".status.ok").wait_for(timeout=5_000)
    async with running.hub.database.sessions() as s:
        names = (await s.execute(select(ScriptRun.script_name).where(ScriptRun.inquiry_id == run.inquiry_id)
                                 .order_by(ScriptRun.id))).scalars().all()
    assert names == ["Входящий: продажи", "Любой звонок"]
