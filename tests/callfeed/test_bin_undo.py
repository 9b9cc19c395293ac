"""The call bin is not one click away from losing a client's call: the card asks first, and «Вернуть» takes
the call back out for a while after (only for whoever binned it; later a supervisor restores it)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from callfeed.wiring import service_of
from crm_core.models.audit import AuditEntry
from crm_core.models.callfeed import CallBin
from tests.browser.conftest import browser, db, log_in  # noqa: F401 - Chromium and the SQLite database
from tests.callfeed.test_browser import hub_sections, pbx  # noqa: F401 - the fake PBX replaying burst20.txt
from tests.telephony.test_ami_client import until
from tests.web.conftest import PASSWORD, running  # noqa: F401 - the running hub fixture


async def test_binning_asks_first_and_can_be_undone_by_whoever_binned(running, browser, pbx):  # noqa: F811
    users = running.agency.users
    await until(lambda: running.hub.telephony.state == "connected" and pbx.listeners == 1, 10)
    await service_of(running.hub).read()
    anna = await log_in(browser, running.base, "anna", PASSWORD)
    await anna.wait_for_selector("#ws-state.ws-on")
    pbx.play()
    card = anna.locator(".cf-card").first
    await card.wait_for(timeout=15_000)
    call_id = await card.get_attribute("data-call")
    card = anna.locator(f".cf-card[data-call='{call_id}']")
    await card.locator("button.cf-bin-spam").click()
    assert "В корзину как «спам»?" in await card.locator(".cf-confirm").text_content()
    await card.locator("button.cf-confirm-no").click()  # changed their mind: nothing binned
    await card.locator("button.cf-bin-spam").wait_for(timeout=3_000)
    async with running.hub.database.sessions() as s:
        assert (await s.execute(select(CallBin))).first() is None
    assert anna.dialogs == []

    await card.locator("button.cf-bin-spam").click()
    await card.locator("button.cf-confirm-yes").click()
    await card.wait_for(state="detached", timeout=5_000)
    undo = anna.locator(".cf-undo")
    await undo.wait_for(timeout=3_000)
    assert "Звонок отправлен в корзину" in await undo.text_content()
    await undo.locator("button.cf-undo-button", has_text="Вернуть").click()
    await undo.wait_for(state="detached", timeout=5_000)
    async with running.hub.database.sessions() as s:
        row = (await s.execute(select(CallBin))).scalar_one()
        assert (row.binned_by, row.restored_by) == (users["anna"], users["anna"]) and row.restored_at is not None
        assert (await s.execute(select(AuditEntry.action).where(AuditEntry.target == f"call:{call_id}")
                                .order_by(AuditEntry.id))).scalars().all() == ["callfeed.bin", "callfeed.undo"]

    # binned again: a colleague cannot undo it, nor can anna once the minutes are over
    async with running.hub.database.sessions() as s, s.begin():
        row = (await s.execute(select(CallBin))).scalar_one()
        row.restored_at = row.restored_by = None
        bin_id = row.id
    oleg = await running.browser("oleg")
    await oleg.get("/inbox")
    resp, _ = await oleg.post(f"/callfeed/bin/{bin_id}/undo", headers={"Accept": "application/json",
                                                                       "X-CSRF-Token": oleg.csrf})
    assert resp.status == 409
    agent = await running.browser("anna")
    _, page = await agent.get("/callfeed/bin")
    assert "cf-undo-button" in page and "cf-restore" not in page
    async with running.hub.database.sessions() as s, s.begin():
        row = await s.get(CallBin, bin_id)
        row.binned_at = row.binned_at - timedelta(hours=1)
    _, page = await agent.get("/callfeed/bin")
    assert "cf-undo-button" not in page
    resp, _ = await agent.post(f"/callfeed/bin/{bin_id}/undo")
    assert resp.status == 303 and resp.headers["Location"].endswith("done=late")
