"""An administrator's first day with call scripts, in headless Chromium: the script is built row by row in the
page (no text format, no JavaScript needed by the form) — two steps, an answer branching to the second — saved
for the PBX queue «linear»; then the fake PBX replays the real ``ring_no_answer.txt`` (Oleg's phone rings 4 s
in that queue; replayed at 0.4 speed, 10 s) and Oleg sees the script's first question beside the ringing call's pop-up
card and follows the branch to the second step. Screenshots for the README go to docs/screenshots/."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.asterisk.fake_pbx import FakePbx
from crm_core.agent_states import set_status
from crm_core.models.workflow import CallScript
from tests.browser.conftest import browser, db, log_in  # noqa: F401 - fixtures: Chromium, SQLite
from tests.web.conftest import PASSWORD, running  # noqa: F401 - fixtures

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
NAME = "Линия: покупатели"


@pytest.fixture
async def pbx() -> AsyncIterator[FakePbx]:
    async with FakePbx("ring_no_answer.txt", secret="hubsecret", autoplay=False, speed=0.4) as fake:
        yield fake


@pytest.fixture
def hub_sections(pbx: FakePbx) -> dict:
    return {"asterisk": {"enabled": True, "port": pbx.port, "secret": "hubsecret", "ping_interval_s": 1.0,
                         "queue_names": {"linear": "Линия покупателей"}}}  # as named under «Названия очередей»


async def _ready(running, pbx: FakePbx) -> None:  # noqa: ANN001, F811
    async with asyncio.timeout(10):
        while running.hub.telephony.state != "connected" or pbx.listeners == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def build_script(page, base: str) -> None:  # noqa: ANN001
    """Through the form's own buttons: each «Добавить шаг» / «Ещё ответ» shows the form again (unsaved), and the
    «Затем» list offers the steps the form holds by then."""
    await page.goto(base + "/scripts")
    await page.fill("#script-edit input[name=name]", NAME)
    await page.fill("#script-edit input[name=queues]", "linear")
    first = page.locator("li.script-step[data-step='0']")
    await first.locator("input[name=step_id]").fill("начало")
    await first.locator("input[name=question]").fill("Вы звоните по объявлению?")
    await first.locator("input[name=step_fields]").fill("Бюджет")
    await page.get_by_role("button", name="Добавить шаг").click()
    second = page.locator("li.script-step[data-step='1']")
    await second.wait_for()
    await second.locator("input[name=step_id]").fill("район")
    await second.locator("input[name=question]").fill("Какой район интересует?")
    await second.locator("input[name='answer_text-1']").fill("Центр")
    await first.get_by_role("button", name="Ещё ответ").click()  # now «Затем» lists «район»
    await first.locator("input[name='answer_text-0']").first.fill("Да")
    await first.locator("select[name='answer_next-0']").first.select_option("район")
    await first.get_by_role("button", name="Ещё ответ").click()
    await first.locator("input[name='answer_text-0']").nth(1).fill("Нет")  # «Затем»: конец скрипта
    preview = page.locator("#script-preview .script-panel")
    assert await preview.count() == 2
    assert await preview.first.locator(".question").inner_text() == "Вы звоните по объявлению?"
    assert "Да → шаг «район»" in await preview.first.inner_text()
    await page.locator("#script-edit button[value=save]").last.click()
    await page.wait_for_url(base + "/scripts")
    row = page.locator("table.call-scripts tr[data-script]", has_text=NAME)
    assert "действует" in await row.inner_text()
    assert (await row.locator("td").all_inner_texts())[3] == "2"  # two steps
    await row.get_by_role("link", name="Изменить").click()  # the saved script, as the editor shows it again
    await page.wait_for_url("**/scripts?edit=*")
    assert await page.locator("#script-edit input[name=name]").input_value() == NAME
    assert "Да → шаг «район»; Нет → конец скрипта" in await preview.first.inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "admin-script-editor.png"), full_page=True)


async def test_admin_builds_a_script_and_the_agent_sees_it_beside_the_ringing_call(running, browser, pbx):  # noqa: F811
    root = await log_in(browser, running.base, "root", PASSWORD)
    await root.set_viewport_size({"width": 1366, "height": 900})
    await build_script(root, running.base)
    async with running.hub.database.sessions() as s:
        script = (await s.execute(select(CallScript).where(CallScript.name == NAME))).scalar_one()
    assert script.queues == ["linear"]
    assert "Линия покупателей" in await root.locator("table.call-scripts").inner_text()
    assert [(s["id"], [(a["text"], a["next"]) for a in s["answers"]]) for s in script.steps] == [
        ("начало", [("Да", "район"), ("Нет", None)]), ("район", [("Центр", None)])]

    await set_status(running.hub.database.sessions, running.hub.bus, running.agency.users["oleg"], "available")
    oleg = await log_in(browser, running.base, "oleg", PASSWORD)  # extension 102: the first rung in «linear»
    await oleg.set_viewport_size({"width": 1366, "height": 768})
    await oleg.wait_for_selector("#ws-state.ws-on")
    await _ready(running, pbx)
    pbx.play()
    panel = oleg.locator("#script-panels .script-panel")
    await panel.wait_for(timeout=10_000)
    card = oleg.locator(".popup").first
    assert "Входящий звонок" in await card.inner_text(), "the phone still rings"
    assert await panel.locator("h4").inner_text() == f"Скрипт: {NAME}"
    assert await panel.locator(".question").inner_text() == "Вы звоните по объявлению?"
    await oleg.wait_for_function("""() => {  // placed beside the card once the card has its final width
      const p = document.querySelector('#script-panels .script-panel').getBoundingClientRect();
      const c = document.querySelector('.popup').getBoundingClientRect();
      return p.right <= c.left && p.top < c.bottom && c.top < p.bottom; }""", timeout=3_000)
    await panel.locator("input[data-field='Бюджет']").fill("15 млн")
    await oleg.screenshot(path=str(SHOTS / "script-beside-call.png"))
    await panel.get_by_role("button", name="Да").click()  # the branch to the second step
    assert await panel.locator(".question").inner_text() == "Какой район интересует?"
    assert await panel.locator("ol.path li").all_inner_texts() == ["Вы звоните по объявлению? — Да"]
    await panel.get_by_role("button", name="Центр").click()
    assert await panel.locator(".question").inner_text() == "Скрипт пройден"
