"""The agent's desk in a real browser: a call from ringing (the fake PBX replays the real ``answered.txt``) to the
call card's cockpit — the labelled owner, the open inquiry and its next action, transfer to a colleague, a
property linked, the next action set — all without leaving the page; then the call's recording (and its
transcript, each word playing the recording from its moment) on the inquiry page and the client's timeline."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from agency.property_forms import address_key
from connectors.asterisk.fake_pbx import FakePbx
from crm_core.models import Call, Client, Contact, ContactKind, Inquiry, Property, Recording, Transcript
from crm_core.models.agency import PropertyLink
from crm_core.models.speech import SpeechWord
from tests.browser.conftest import log_in
from tests.speech.conftest import ANSWERED
from tests.web.conftest import PASSWORD

SHOTS = Path("/tmp/shots")
LINKEDID = "1795390910.0"  # the call of answered.txt; MixMonitor writes <Uniqueid>.wav


@pytest.fixture
async def pbx() -> AsyncIterator[FakePbx]:
    # Slowed down: the call lasts about 30 s, time for the agent to work in the card while it goes on.
    async with FakePbx("answered.txt", secret="hubsecret", autoplay=False, speed=0.08) as fake:
        yield fake


@pytest.fixture
def recordings(tmp_path: Path) -> Path:
    folder = tmp_path / "monitor"
    folder.mkdir()
    shutil.copy(ANSWERED, folder / f"{LINKEDID}.wav")
    return folder


@pytest.fixture
def hub_sections(pbx: FakePbx, recordings: Path) -> dict:
    return {"asterisk": {"enabled": True, "port": pbx.port, "secret": "hubsecret", "ping_interval_s": 1.0,
                         "recordings_dir": str(recordings)}}


async def _seed(running) -> dict[str, int]:  # noqa: ANN001
    anna, sales = running.agency.users["anna"], running.agency.sales
    async with running.hub.database.sessions() as s, s.begin():
        client = Client(name="Иван Петров", owner_id=anna, department_id=sales)
        s.add(client)
        await s.flush()
        s.add(Contact(client_id=client.id, kind=ContactKind.PHONE, value="+79161234567"))
        inquiry = Inquiry(client_id=client.id, channel="call", external_id="earlier-call", subject="Двушка у метро",
                          status="in_work", owner_id=anna, department_id=sales, planned_action="Перезвонить")
        s.add(inquiry)
        address = "Тверская, 7, кв. 12"
        prop = Property(address=address, address_key=address_key(address), agent_id=anna, department_id=sales)
        s.add(prop)
        await s.flush()
        return {"client": client.id, "inquiry": inquiry.id, "property": prop.id}


async def _ready(running, pbx: FakePbx) -> None:  # noqa: ANN001
    async with asyncio.timeout(10):
        while running.hub.telephony.state != "connected" or pbx.listeners == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def _stored_call(running) -> Call:  # noqa: ANN001
    async with asyncio.timeout(60):
        while True:
            async with running.hub.database.sessions() as s:
                call = (await s.execute(select(Call).where(Call.linkedid == LINKEDID))).scalar_one_or_none()
            if call is not None:
                return call
            await asyncio.sleep(0.2)


async def test_an_agent_works_the_call_from_the_card_and_then_hears_it_on_the_inquiry(running, browser, pbx):
    ids = await _seed(running)
    anna = await log_in(browser, running.base, "anna", PASSWORD)
    await anna.set_viewport_size({"width": 1280, "height": 900})
    await anna.wait_for_selector("#ws-state.ws-on")
    await _ready(running, pbx)
    pbx.play()

    # The card pops up while the phone rings, and becomes the cockpit.
    card = anna.locator(".popup")
    await card.locator("h3.caller").wait_for(timeout=10_000)
    assert await card.locator("h3.caller").text_content() == "Иван Петров"
    owner = card.locator(".popup-info .owner")
    await owner.wait_for(timeout=10_000)
    assert await owner.text_content() == "Ответственный: Anna"
    await card.locator(".cockpit .card-transfer").wait_for(timeout=10_000)
    plan = card.locator(".cockpit .card-inquiry")
    await plan.locator(".open-inquiry").wait_for(timeout=10_000)
    assert await plan.locator(".open-inquiry").text_content() == f"Открытое обращение: №{ids['inquiry']} Двушка у метро"
    assert await plan.locator(".next-action-line").text_content() == "Следующее действие: Перезвонить"
    assert await card.locator(".cockpit .card-call").is_visible()  # «Позвонить» beside the caller's number
    await card.locator(".popup-info .muted", has_text="Разговор").wait_for(timeout=10_000)

    # Transfer, blind, to a colleague picked from the list.
    await card.locator(".cockpit .card-transfer").click()
    picker = card.locator(".cockpit form.card-transfer select")
    assert "103 · Maria" in await picker.text_content()
    await picker.select_option("extension:103")
    await card.locator(".cockpit form.card-transfer button.card-send").click()
    result = card.locator(".cockpit .card-result")
    await card.locator(".cockpit .card-result.ok").wait_for(timeout=5_000)
    assert await result.text_content() == "Звонок переведён"
    [redirect] = [a for a in pbx.received if a.get("Action") == "Redirect"]
    assert (redirect["Exten"], redirect["Context"]) == ("103", "agents")
    SHOTS.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once
    await card.screenshot(path=str(SHOTS / "call-card-transfer.png"))

    # The property the client asks about: found and linked from the card.
    await card.locator(".cockpit .card-property").click()
    await card.locator(".cockpit .card-property-search input").fill("тверская")
    await card.locator(".cockpit .card-property-search button").click()
    await card.locator(".cockpit .card-found li button.card-link").first.click()
    await anna.wait_for_function(
        "() => (document.querySelector('.cockpit .card-result') || {}).textContent.includes('Тверская')")
    assert (await result.text_content()).startswith(f"Объект №{ids['property']} будет привязан к звонку")

    # The next action of the open inquiry.
    when = (datetime.now() + timedelta(days=1)).replace(hour=11, minute=0)
    await card.locator(".cockpit button.card-plan").click()
    await card.locator(".cockpit form.card-next-action input[name=planned_action]").fill("Показ квартиры")
    await card.locator(".cockpit form.card-next-action input[name=planned_at]").fill(when.strftime("%Y-%m-%dT%H:%M"))
    await card.locator(".cockpit form.card-next-action button").click()
    await anna.wait_for_function(
        "() => (document.querySelector('.cockpit .card-result') || {}).textContent.includes('Показ квартиры')")
    assert await result.text_content() == f"Следующее действие: Показ квартиры, {when.strftime('%d.%m.%Y %H:%M')}"
    assert (await plan.locator(".next-action-line").text_content()).startswith("Следующее действие: Показ квартиры, ")
    assert anna.url.endswith("/inbox"), "all of it without leaving the page"
    await card.screenshot(path=str(SHOTS / "call-card.png"))
    await anna.screenshot(path=str(SHOTS / "call-card-page.png"))
    async with running.hub.database.sessions() as s:
        inquiry = await s.get(Inquiry, ids["inquiry"])
        assert inquiry.planned_action == "Показ квартиры"

    # The call ends and is stored with its recording; the property waited for it.
    await asyncio.wait_for(pbx.replay_done.wait(), 60)
    call = await _stored_call(running)
    await asyncio.wait_for(running.hub.telephony.idle.wait(), 10)
    async with running.hub.database.sessions() as s:
        links = (await s.execute(select(PropertyLink.property_id).where(PropertyLink.call_id == call.id))).all()
        assert [x[0] for x in links] == [ids["property"]]
        rec = (await s.execute(select(Recording).where(Recording.call_id == call.id))).scalar_one()
    async with running.hub.database.sessions() as s, s.begin():  # as the speech worker would leave it
        tr = Transcript(recording_id=rec.id, status="done", text="добрый день квартира свободна")
        s.add(tr)
        await s.flush()
        for i, (speaker, word, at) in enumerate([("agent", "Добрый", 0.1), ("agent", "день", 0.4),
                                                 ("client", "квартира", 1.2), ("client", "свободна", 1.5)]):
            s.add(SpeechWord(transcript_id=tr.id, position=i, speaker=speaker, word=word, start_s=at,
                             end_s=at + .25, conf=.9))

    # On the inquiry page: the player (served with Range) and the transcript whose words seek it.
    await anna.goto(f"{running.base}/inquiries/{call.inquiry_id}")
    audio = anna.locator("#calls-in-place audio")
    await audio.wait_for(timeout=10_000)
    assert await audio.get_attribute("src") == f"/calls/{call.id}/recordings/{rec.id}"
    await anna.wait_for_function("() => document.querySelector('#calls-in-place audio').duration > 0",
                                 timeout=10_000)
    duration = await anna.evaluate("document.querySelector('#calls-in-place audio').duration")
    assert abs(duration - 1.0) < 1.5
    word = anna.locator("#calls-in-place .dialogue .w", has_text="квартира")
    await word.click()
    await anna.wait_for_function("() => document.querySelector('#calls-in-place audio').currentTime >= 1.19",
                                 timeout=5_000)
    assert await anna.locator("#calls-in-place .turn.speaker-client b").first.text_content() == "Клиент"
    await anna.screenshot(path=str(SHOTS / "inquiry-recording.png"), full_page=True)

    # On the client's card: a player under the call in the timeline.
    await anna.goto(f"{running.base}/clients/{ids['client']}")
    await anna.locator(f".timeline li[data-call='{call.id}'] audio").wait_for(timeout=10_000)
    # And on the calls list, a link to the call's page with its player.
    await anna.goto(f"{running.base}/calls")
    link = anna.locator(f"a.recording-link[href='/calls/{call.id}/transcript']")
    await link.click()
    await anna.locator(f"audio[src='/calls/{call.id}/recordings/{rec.id}']").wait_for(timeout=10_000)
    assert await anna.locator("#call-inquiry").get_attribute("href") == f"/inquiries/{call.inquiry_id}"
    assert anna.dialogs == []


async def test_a_call_goes_to_a_queue_the_pbx_reported_and_to_no_other(running, pbx):
    await _ready(running, pbx)
    pbx.play()
    service = running.hub.telephony
    async with asyncio.timeout(10):
        while service.call_of_agent("101") is None or service.call_of_agent("101").answered_by != "101":  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    anna = await running.browser("anna")
    _, body = await anna.get("/calls/card.json")
    assert json.loads(body)["queues"] == ["sales", "support"]  # as the PBX answered QueueStatus
    resp, body = await anna.post("/calls/transfer", {"queue": "nosuch"})
    assert resp.status == 400
    resp, body = await anna.post("/calls/transfer", {"queue": "sales"}, headers={"Accept": "application/json"})
    assert resp.status == 200 and json.loads(body)["message"] == "Звонок переведён"
    [redirect] = [a for a in pbx.received if a.get("Action") == "Redirect"]
    assert (redirect["Exten"], redirect["Context"]) == ("sales", "agents")
