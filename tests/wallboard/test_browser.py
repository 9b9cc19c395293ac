"""The wallboard in headless Chromium while the fake PBX replays burst20.txt; screenshots are kept as artefacts
in artifacts/screenshots/ at the repository root."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from connectors.asterisk.fake_pbx import FakePbx
from tests.browser.conftest import browser, db, log_in  # noqa: F401 - Chromium and the SQLite database
from tests.telephony.test_ami_client import FAST, until
from tests.web.conftest import PASSWORD, running  # noqa: F401 - the running hub fixture

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
TOTALS = """() => {
  const sum = sel => [...document.querySelectorAll(sel)].reduce((n, e) => n + Number(e.textContent || 0), 0);
  return {waiting: sum('.wb-waiting .wb-val'), abandoned: sum('.wb-abandoned .wb-val'),
          answered: sum('.wb-answered .wb-val'), callers: document.querySelectorAll('.wb-caller').length};
}"""


@pytest.fixture
async def pbx() -> AsyncIterator[FakePbx]:
    async with FakePbx("burst20.txt", secret="hubsecret", speed=10.0, autoplay=False) as fake:
        yield fake


@pytest.fixture
def hub_sections(pbx: FakePbx) -> dict:
    return {"asterisk": {"enabled": True, "port": pbx.port, "secret": "hubsecret", **FAST}}


async def shot(page, name: str) -> None:  # noqa: ANN001
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / name), full_page=True)


async def test_callers_appear_and_leave_on_the_wallboard_and_the_abandoned_count_is_the_traces(running, browser, pbx):  # noqa: F811
    await until(lambda: running.hub.telephony.state == "connected" and pbx.listeners == 1, 10)
    page = await log_in(browser, running.base, "boss", PASSWORD)
    await page.goto(running.base + "/wallboard")
    await page.wait_for_selector("#ws-state.ws-on")
    await page.wait_for_selector("#wb-live.wb-live")
    await page.wait_for_selector(".wb-agent .wb-name >> text=Anna")  # the hub's agents are on the board
    pbx.play()
    await page.wait_for_function(f"() => ({TOTALS})().callers >= 3", timeout=10_000)
    during = await page.evaluate(TOTALS)
    assert during["waiting"] >= 3 and during["waiting"] == during["callers"]
    assert await page.locator(".wb-caller .wb-number").first.text_content() != ""
    await shot(page, "wallboard-burst.png")
    await page.wait_for_function(f"() => {{ const t = ({TOTALS})(); return t.abandoned === 9 && t.waiting === 0; }}",
                                 timeout=15_000)
    after = await page.evaluate(TOTALS)
    assert after == {"waiting": 0, "abandoned": 9, "answered": 11, "callers": 0}
    assert await page.locator(".wb-queue[data-queue=sales] .wb-sl .wb-val").text_content() == "10%"
    await shot(page, "wallboard-after-burst.png")


async def test_pausing_an_agent_from_the_wallboard_sends_one_queue_pause_and_the_row_shows_it(running, browser, pbx):  # noqa: F811
    await until(lambda: running.hub.telephony.state == "connected" and pbx.listeners == 1, 10)
    page = await log_in(browser, running.base, "boss", PASSWORD)
    await page.goto(running.base + "/wallboard")
    await page.wait_for_selector("#wb-live.wb-live")
    row = page.locator(".wb-agent", has_text="Anna")
    await row.locator("button.wb-pause").click()
    await page.wait_for_selector("#wb-result.ok")
    await row.locator("button.wb-unpause").wait_for(timeout=5_000)
    assert await row.locator(".wb-status").text_content() == "Перерыв"
    assert await row.locator(".wb-reason").text_content() == " (другое)"
    await asyncio.sleep(0.2)  # nothing more may follow
    pauses = [a for a in pbx.received if a.get("Action") == "QueuePause"]
    assert [(a["Interface"], a["Paused"]) for a in pauses] == [("Local/101@agents/n", "true")]
    await shot(page, "wallboard-paused.png")


async def test_an_agent_gets_403_for_the_wallboard_and_the_listen_action(running, browser, pbx):  # noqa: F811
    page = await log_in(browser, running.base, "anna", PASSWORD)
    assert await page.locator("nav a[href='/wallboard']").count() == 0
    response = await page.goto(running.base + "/wallboard")
    assert response.status == 403
    token = await page.evaluate("() => (document.querySelector('input[name=_csrf]') || {}).value || ''")
    status = await page.evaluate("""([url, token]) => fetch(url, {method: 'POST', credentials: 'same-origin',
        headers: {'X-CSRF-Token': token, 'Accept': 'application/json'}}).then(r => r.status)""",
                                 [f"/wallboard/agents/{running.agency.users['oleg']}/listen", token])
    assert status == 403
    assert not [a for a in pbx.received if a.get("Action") == "Originate"]
