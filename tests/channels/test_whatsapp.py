"""WhatsApp Business (Cloud API) end to end against the fake Graph API (tests/channels/fake_whatsapp.py),
on each database: verification, signed messages, media, replies in and out of the 24-hour window,
delivery reports, outages."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from aiohttp import ClientSession
from sqlalchemy import func, select

from crm_core.intake import IntakeRequest
from crm_core.models import Channel, Contact, Inquiry, Message
from tests.channels.conftest import WA_VERIFY, wait_until

NUMBER = "79161234567"
OTHER = "79037654321"


async def post(running, body: bytes, headers: dict) -> int:  # noqa: ANN001
    async with ClientSession() as http, http.post(running.base + "/whatsapp/webhook", data=body,
                                                  headers=headers) as resp:
        return resp.status


async def deliver(running, wa_api, payload) -> int:  # noqa: ANN001
    return await post(running, *wa_api.signed(payload))


async def messages(running, **where) -> list[Message]:  # noqa: ANN001, ANN003
    async with running.hub.database.sessions() as s:
        stmt = select(Message).filter_by(**where).order_by(Message.id)
        return list((await s.execute(stmt)).scalars())


async def owned_inquiry(running) -> int:  # noqa: ANN001
    async with running.hub.database.sessions() as s, s.begin():
        inquiry = (await s.execute(select(Inquiry).order_by(Inquiry.id.desc()))).scalars().first()
        inquiry.owner_id = running.agency.users["anna"]
        return inquiry.id


async def test_verification_forgeries_and_messages_with_a_photo_become_one_conversation_once(running, wa_api):
    async with ClientSession() as http:
        url = running.base + "/whatsapp/webhook"
        good = {"hub.mode": "subscribe", "hub.verify_token": WA_VERIFY, "hub.challenge": "1158201444"}
        async with http.get(url, params=good) as resp:
            assert (resp.status, await resp.text()) == (200, "1158201444")
        async with http.get(url, params={**good, "hub.verify_token": "guess"}) as resp:
            assert resp.status == 403
        async with http.get(url, params={**good, "hub.mode": "unsubscribe"}) as resp:
            assert resp.status == 403
    payload = wa_api.message(NUMBER, "wamid.F1", "подделка", timestamp=int(time.time()))
    body, headers = wa_api.signed(payload, secret="not-the-app-secret")
    assert await post(running, body, headers) == 403
    assert await post(running, body, {"Content-Type": "application/json"}) == 403  # no signature at all
    assert await post(running, *wa_api.signed(b"{broken")) == 400
    assert await post(running, *wa_api.signed(b"x" * 20_000)) == 400  # over max_body_bytes
    assert await messages(running) == []
    now = int(time.time())
    first = wa_api.message(NUMBER, "wamid.IN1", "Добрый день! Квартира на Соколе ещё продаётся?", timestamp=now)
    assert await deliver(running, wa_api, first) == 200
    assert await deliver(running, wa_api, first) == 200  # Meta sends it again: one message
    wa_api.media["media-777"] = (b"\xff\xd8\xff\xe0 a jpeg", "image/jpeg")
    photo = wa_api.message(NUMBER, "wamid.IN2", "", timestamp=now, kind="image",
                           extra={"image": {"id": "media-777", "mime_type": "image/jpeg", "caption": "Вот планировка"}})
    assert await deliver(running, wa_api, photo) == 200
    stored = await messages(running, direction="in")
    assert [m.external_id for m in stored] == ["wamid.IN1", "wamid.IN2"]
    assert stored[0].inquiry_id == stored[1].inquiry_id and wa_api.downloads == 1
    [kept] = stored[1].meta["attachments"]
    assert await asyncio.to_thread(Path(kept["path"]).read_bytes) == b"\xff\xd8\xff\xe0 a jpeg"
    async with running.hub.database.sessions() as s:
        kinds = dict((await s.execute(select(Contact.kind, Contact.value))).all())
    assert kinds == {"phone": "+" + NUMBER, "whatsapp": NUMBER}
    inquiry_id = await owned_inquiry(running)
    anna = await running.browser("anna")
    _, page = await anna.get(f"/inquiries/{inquiry_id}")
    assert "Анна Смирнова" in page and "Вот планировка" in page and 'aria-label="WhatsApp"' in page
    assert f"+{NUMBER}" in page and 'value="whatsapp"' in page


async def test_a_reply_in_the_window_survives_an_outage_and_its_reports_are_shown(running, wa_api):
    await deliver(running, wa_api, wa_api.message(NUMBER, "wamid.IN5", "Можно вечером?", timestamp=int(time.time())))
    inquiry_id = await owned_inquiry(running)
    wa_api.outage = 503  # the Cloud API is down until the test ends the outage
    anna = await running.browser("anna")
    await anna.get(f"/inquiries/{inquiry_id}")
    resp, _ = await anna.post(f"/inquiries/{inquiry_id}/reply", {"text": "Да, в 19:00", "channel": "whatsapp"})
    assert resp.status == 303

    async def retrying():
        [m] = await messages(running, direction="out")
        return m.delivery == "retry" and m.attempts >= 1
    await wait_until(retrying)  # not woken: the reply waits out its back-off in "retry"
    assert (await (await anna.http.get(running.base + "/healthz")).json())["connectors"]["whatsapp"] == "degraded"
    wa_api.outage, wa_api.failures = None, [429, 130429]  # back, with a 429 and then the rate-limit code

    async def sent():
        return (await messages(running, direction="out"))[0].delivery == "sent"
    await wait_until(sent, hub=running.hub)
    [out] = wa_api.sent
    assert (out["to"], out["type"], out["text"]) == (NUMBER, "text", "Да, в 19:00")
    assert (await (await anna.http.get(running.base + "/healthz")).json())["connectors"]["whatsapp"] == "running"
    now = int(time.time())
    for status in ("sent", "delivered", "read", "delivered"):  # a late "delivered" does not undo "read"
        assert await deliver(running, wa_api, wa_api.status(out["id"], status, NUMBER, timestamp=now)) == 200
    [reply] = await messages(running, direction="out")
    assert reply.delivery == "read" and reply.external_id == out["id"]
    _, page = await anna.get(f"/inquiries/{inquiry_id}")
    assert "прочитано" in page
    await anna.post(f"/inquiries/{inquiry_id}/reply", {"text": "Жду вас", "channel": "whatsapp"})
    await wait_until(lambda: _has_sent(wa_api, 2), hub=running.hub)
    failed = wa_api.status(wa_api.sent[1]["id"], "failed", NUMBER, timestamp=now,
                           errors=[{"code": 131026, "title": "Message undeliverable"}])
    assert await deliver(running, wa_api, failed) == 200
    _, page = await anna.get(f"/inquiries/{inquiry_id}")
    assert "не доставлено" in page and "Message undeliverable" in page


async def _has_sent(wa_api, n: int) -> bool:  # noqa: ANN001
    return len(wa_api.sent) >= n


async def test_outside_the_window_without_a_template_the_agent_is_told_why(running, wa_api):
    two_days_ago = int(time.time()) - 2 * 86400
    await deliver(running, wa_api, wa_api.message(NUMBER, "wamid.OLD", "Актуально?", timestamp=two_days_ago))
    inquiry_id = await owned_inquiry(running)
    anna = await running.browser("anna")
    await anna.get(f"/inquiries/{inquiry_id}")
    resp, page = await anna.post(f"/inquiries/{inquiry_id}/reply", {"text": "Да, актуально", "channel": "whatsapp"})
    assert resp.status == 422
    assert "более 24 ч назад" in page and "шаблон не настроен" in page
    assert await messages(running, direction="out") == [] and wa_api.sent == []
    # a number the agency already knows as a phone: that client, that open conversation
    known = await running.hub.intake.accept(IntakeRequest(
        channel=Channel.WEBFORM, external_id="site:form-1", phone="+7 903 765-43-21", name="Пётр Иванов",
        text="Перезвоните по квартире"))
    later = wa_api.message(OTHER, "wamid.J1", "Это я писал на сайте", timestamp=int(time.time()))
    await deliver(running, wa_api, later)
    wa = (await messages(running, channel="whatsapp"))[-1]
    assert (wa.client_id, wa.inquiry_id) == (known.client_id, known.inquiry_id)
    async with running.hub.database.sessions() as s:
        assert (await s.execute(select(func.count()).select_from(Inquiry))).scalar_one() == 2


@pytest.mark.parametrize("wa_template", ["reply_after_24h"])
async def test_outside_the_window_the_template_carries_the_reply(running, wa_api):
    two_days_ago = int(time.time()) - 2 * 86400
    await deliver(running, wa_api, wa_api.message(NUMBER, "wamid.OLD2", "Актуально?", timestamp=two_days_ago))
    inquiry_id = await owned_inquiry(running)
    anna = await running.browser("anna")
    await anna.get(f"/inquiries/{inquiry_id}")
    resp, _ = await anna.post(f"/inquiries/{inquiry_id}/reply", {"text": "Да, актуально", "channel": "whatsapp"})
    assert resp.status == 303
    await wait_until(lambda: _has_sent(wa_api, 1), hub=running.hub)
    [out] = wa_api.sent
    assert out["type"] == "template" and out["template"]["name"] == "reply_after_24h"
    assert out["template"]["components"][0]["parameters"][0]["text"] == "Да, актуально"
