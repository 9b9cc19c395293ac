"""Outgoing SMS end to end against the fake SMS.ru (tests/channels/fake_sms.py), on each database: queued for
an inquiry, an outage waited out, its cost and delivery report kept, the client's opt-out and the day's cap."""

from __future__ import annotations

import pytest
from aiohttp import ClientSession
from sqlalchemy import func, select

from channels.sms.service import SmsRefused, queue_sms, set_opt_out
from crm_core.intake import IntakeRequest
from crm_core.models import Channel, Message
from tests.channels.conftest import wait_until
from tests.channels.fake_sms import FakeSmsRu

API_ID, SECRET, PHONE = "B4C1-test-api-id", "rep-8d1e", "+79161234567"


@pytest.fixture
async def sms_api():
    api = FakeSmsRu(API_ID)
    await api.start()
    yield api
    await api.close()


@pytest.fixture
def hub_sections(sms_api):  # noqa: ANN001
    return {"sms": {"enabled": True, "api_id": API_ID, "report_secret": SECRET, "api_url": sms_api.api_url,
                    "daily_cap": 2, "sender": "Agency"},
            "email": {"retry_delays_s": [1.5] * 6}}


async def report(running, form, secret: str = SECRET) -> tuple[int, str]:  # noqa: ANN001
    async with ClientSession() as http, http.post(f"{running.base}/sms/status/{secret}", data=form) as resp:
        return resp.status, await resp.text()


async def test_a_reminder_survives_an_outage_keeps_its_cost_and_report_and_respects_opt_out_and_cap(running, sms_api):
    hub = running.hub
    first = await hub.intake.accept(IntakeRequest(channel=Channel.WEBFORM, external_id="form-1", name="Ольга",
                                                  phone=PHONE, text="Хочу посмотреть квартиру"))
    sms_api.outage = 503
    message_id = await queue_sms(hub.database.sessions, first.inquiry_id, "Напоминаем: показ завтра в 12:00",
                                 kind="reminder", daily_cap=2)
    hub.outbox_wakeup.set()

    async def message() -> Message:
        async with hub.database.sessions() as s:
            return await s.get(Message, message_id)
    await wait_until(lambda: _is(message, "retry"))
    anna = await running.browser("anna")
    health = await (await anna.http.get(running.base + "/healthz")).json()
    assert health["connectors"]["sms"] == "degraded"
    sms_api.outage = None
    await wait_until(lambda: _is(message, "sent"), hub=hub)
    [sent] = sms_api.sent
    m = await message()
    assert sent["to"] == PHONE.lstrip("+") and sent["msg"] == "Напоминаем: показ завтра в 12:00"
    assert sent["from"] == "Agency" and m.external_id == sent["sms_id"] and m.meta["cost"] == 1.85
    # delivery reports: a forged address and a malformed body change nothing; the real one is kept once
    assert (await report(running, sms_api.report(sent["sms_id"], 103), secret="guess"))[0] == 403
    assert (await report(running, [("other", "x")]))[0] == 400
    assert (await message()).delivery == "sent"
    assert await report(running, sms_api.report(sent["sms_id"], 103)) == (200, "100")
    assert await report(running, sms_api.report(sent["sms_id"], 103)) == (200, "100")  # posted again
    assert (await message()).delivery == "delivered"
    async with hub.database.sessions() as s:
        assert (await s.execute(select(func.count()).select_from(Message).where(Message.channel == "sms"))
                ).scalar_one() == 1
    # the client opts out: nothing is queued; back in: queued; the day's cap (2) then refuses the third
    await set_opt_out(hub.database.sessions, first.client_id, True)
    with pytest.raises(SmsRefused, match="отказался от SMS"):
        await queue_sms(hub.database.sessions, first.inquiry_id, "Перезвоним в 15:00", kind="callback", daily_cap=2)
    await set_opt_out(hub.database.sessions, first.client_id, False)
    await queue_sms(hub.database.sessions, first.inquiry_id, "Перезвоним в 15:00", kind="callback", daily_cap=2)
    with pytest.raises(SmsRefused, match="лимит SMS"):
        await queue_sms(hub.database.sessions, first.inquiry_id, "Ссылка: https://a.ru/s/1", kind="link", daily_cap=2)
    _, page = await (await running.browser("admin" if "admin" in running.agency.users else "anna")).get(
        f"/inquiries/{first.inquiry_id}")
    assert "показ завтра в 12:00" in page and "доставлено" in page


async def _is(get, state: str) -> bool:  # noqa: ANN001
    return (await get()).delivery == state
