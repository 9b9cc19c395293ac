"""VK community messages end to end against the fake VK (tests/channels/fake_vk.py): the Callback API in,
messages.send out, on each database."""

from __future__ import annotations

import json

from aiohttp import ClientSession
from sqlalchemy import func, select

from crm_core.models import Contact, Inquiry, Message
from tests.channels.conftest import VK_CONFIRM, VK_GROUP, wait_until

USER = 48_151_623
PHOTO = {"type": "photo", "photo": {"id": 1, "owner_id": USER, "sizes": [
    {"type": "s", "url": "https://sun9-1.userapi.com/s.jpg", "width": 75, "height": 50},
    {"type": "x", "url": "https://sun9-1.userapi.com/x.jpg", "width": 604, "height": 403}]}}


async def post(running, event) -> tuple[int, str]:  # noqa: ANN001
    """As VK posts: JSON, no cookies, no CSRF token."""
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    async with ClientSession() as http, http.post(running.base + "/vk/callback", data=body,
                                                  headers={"Content-Type": "application/json"}) as resp:
        return resp.status, await resp.text()


async def count(running, model) -> int:  # noqa: ANN001
    async with running.hub.database.sessions() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


async def owned_inquiry(running, owner: str = "anna") -> int:  # noqa: ANN001
    async with running.hub.database.sessions() as s, s.begin():
        inquiry = (await s.execute(select(Inquiry).order_by(Inquiry.id.desc()))).scalars().first()
        inquiry.owner_id = running.agency.users[owner]
        return inquiry.id


async def test_forged_callbacks_store_nothing_and_a_message_becomes_one_inquiry(running, vk_api):
    assert (await post(running, vk_api.message_new(USER, 1, "подделка", secret="guess")))[0] == 403
    wrong_group = {**vk_api.message_new(USER, 2, "чужое"), "group_id": 1}
    assert (await post(running, wrong_group))[0] == 403
    assert (await post(running, b"{not json"))[0] == 400
    assert (await post(running, b"[1, 2]"))[0] == 400
    assert (await post(running, vk_api.message_new(USER, 3, "x" * 10_000)))[0] == 400  # over max_body_bytes
    no_id = vk_api.message_new(USER, 4, "без id")
    no_id.pop("event_id")
    assert (await post(running, no_id))[0] == 400
    assert await count(running, Message) == 0 and await count(running, Contact) == 0
    assert await post(running, {"type": "confirmation", "group_id": VK_GROUP}) == (200, VK_CONFIRM)
    event = vk_api.message_new(USER, 7, "Здравствуйте, интересует двушка на Соколе", [PHOTO])
    assert await post(running, event) == (200, "ok")
    assert await post(running, event) == (200, "ok")  # VK sends it again: handled once
    again = vk_api.message_new(USER, 7, "Здравствуйте, интересует двушка на Соколе", [PHOTO])  # a new event_id
    assert await post(running, again) == (200, "ok")
    assert await count(running, Message) == 1 and await count(running, Inquiry) == 1
    async with running.hub.database.sessions() as s:
        contact = (await s.execute(select(Contact).where(Contact.kind == "vk"))).scalar_one()
    assert contact.value == str(USER)
    inquiry_id = await owned_inquiry(running)
    anna = await running.browser("anna")
    _, page = await anna.get(f"/inquiries/{inquiry_id}")
    assert "Иван Петров" in page and "двушка на Соколе" in page and "https://sun9-1.userapi.com/x.jpg" in page
    assert 'aria-label="ВКонтакте"' in page and f"id{USER}" in page and 'value="vk"' in page
    _, card = await anna.get(f"/clients/{contact.client_id}")
    assert f"https://vk.com/id{USER}" in card and "ВКонтакте" in card


async def test_a_reply_survives_a_vk_outage_and_reaches_the_client_once(running, vk_api):
    await post(running, vk_api.message_new(USER, 10, "Можно посмотреть в субботу?"))
    inquiry_id = await owned_inquiry(running)
    vk_api.outage = 503  # VK is down until the test ends the outage
    anna = await running.browser("anna")
    await anna.get(f"/inquiries/{inquiry_id}")
    resp, _ = await anna.post(f"/inquiries/{inquiry_id}/reply", {"text": "Да, в 12:00 подойдёт?", "channel": "vk"})
    assert resp.status == 303

    async def retrying():
        async with running.hub.database.sessions() as s:
            m = (await s.execute(select(Message).where(Message.direction == "out"))).scalar_one()
            return m.delivery == "retry" and m.attempts >= 1
    await wait_until(retrying)  # not woken: the reply waits out its back-off in "retry"
    health = await (await anna.http.get(running.base + "/healthz")).json()
    assert health["connectors"]["vk"] == "degraded" and health["status"] == "degraded"
    vk_api.outage, vk_api.failures = None, [10]  # back, but first VK's own "internal error" (code 10)

    async def sent():
        async with running.hub.database.sessions() as s:
            m = (await s.execute(select(Message).where(Message.direction == "out"))).scalar_one()
            return m.delivery == "sent"
    await wait_until(sent, hub=running.hub)
    [out] = vk_api.sent
    async with running.hub.database.sessions() as s:
        reply = (await s.execute(select(Message).where(Message.direction == "out"))).scalar_one()
    assert out["message"] == "Да, в 12:00 подойдёт?" and out["peer_id"] == USER
    assert out["random_id"] == reply.id * 16 and reply.attempts >= 3 and vk_api.failures == []
    health = await (await anna.http.get(running.base + "/healthz")).json()
    assert health["connectors"]["vk"] == "running"
    # VK reports the hub's own message back (message_reply with its random_id): not stored twice
    echo = {"date": 1_800_000_100, "from_id": -VK_GROUP, "id": 99, "out": 1, "peer_id": USER, "text": out["message"],
            "conversation_message_id": out["conversation_message_id"], "random_id": out["random_id"]}
    assert await post(running, vk_api.event("message_reply", echo)) == (200, "ok")
    # a manager answers in VK's own interface: kept on the conversation
    typed = {**echo, "id": 100, "conversation_message_id": 777, "random_id": 0, "text": "Адрес пришлю позже"}
    assert await post(running, vk_api.event("message_reply", typed)) == (200, "ok")
    _, page = await anna.get(f"/inquiries/{inquiry_id}")
    assert page.count("Да, в 12:00 подойдёт?") == 1 and "Адрес пришлю позже" in page and "отправлено" in page


async def test_edits_and_the_clients_permission_are_followed(running, vk_api):
    await post(running, vk_api.message_new(USER, 20, "Ищу однушку"))
    inquiry_id = await owned_inquiry(running)
    edited = {"date": 1_800_000_050, "from_id": USER, "id": 1020, "out": 0, "peer_id": USER,
              "conversation_message_id": 20, "text": "Ищу двушку", "attachments": []}
    assert await post(running, vk_api.event("message_edit", edited)) == (200, "ok")
    assert await post(running, vk_api.event("message_deny", {"user_id": USER})) == (200, "ok")
    anna = await running.browser("anna")
    _, page = await anna.get(f"/inquiries/{inquiry_id}")
    assert "Ищу двушку" in page and "Сообщение исправлено" in page and "Ищу однушку" in page  # was: kept
    resp, page = await anna.post(f"/inquiries/{inquiry_id}/reply", {"text": "Есть вариант", "channel": "vk"})
    assert resp.status == 422 and "запретил сообщения" in page
    assert await post(running, vk_api.event("message_allow", {"user_id": USER, "key": "abc"})) == (200, "ok")
    vk_api.forbidden.add(USER)  # VK itself still refuses (901): undelivered, with the reason
    await anna.get(f"/inquiries/{inquiry_id}")
    resp, _ = await anna.post(f"/inquiries/{inquiry_id}/reply", {"text": "Есть вариант", "channel": "vk"})
    assert resp.status == 303

    async def undelivered():
        async with running.hub.database.sessions() as s:
            m = (await s.execute(select(Message).where(Message.direction == "out"))).scalar_one()
            return m.delivery == "undelivered"
    await wait_until(undelivered)
    _, page = await anna.get(f"/inquiries/{inquiry_id}")
    assert "не доставлено" in page and "не разрешил сообщения от сообщества" in page
