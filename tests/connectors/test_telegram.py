"""Clients write to the agency's Telegram bot (python-telegram-bot against a fake Bot API on loopback)."""

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from channels.telegram.service import TelegramService
from connectors.email.errors import PermanentSendError
from connectors.telegram.connector import Reply, TelegramConnector
from connectors.telegram.settings import TelegramSettings
from crm_core.connector_state import DbCheckpoint
from crm_core.intake import IntakeRequest, IntakeService
from crm_core.models import Client, Contact, Inquiry, Message
from tests.conftest import FIXTURES
from tests.connectors.conftest import TELEGRAM_TOKEN as TOKEN

CHAT = 555001


def message(update_id, message_id, text=None, **extra):
    msg = {"message_id": message_id, "date": 1795390910, "chat": {"id": CHAT, "type": "private"},
           "from": {"id": CHAT, "is_bot": False, "first_name": "Ольга", "last_name": "Соколова"}}
    if text is not None:
        msg["text"] = text
    msg.update(extra)
    return {"update_id": update_id, "message": msg}


def make(db, bus, botapi, **settings):
    service = TelegramService(db.sessions, IntakeService(db.sessions, bus))
    cfg = TelegramSettings(enabled=True, token=TOKEN, base_url=botapi.base_url, poll_timeout_s=1, **settings)
    return TelegramConnector(cfg, service.handle, DbCheckpoint(db.sessions), backoff_cap_s=0.5)


async def until(predicate, limit_s=10.0):
    async with asyncio.timeout(limit_s):
        while not await predicate():  # noqa: ASYNC110 - polling what the bot sent and stored
            await asyncio.sleep(0.05)


async def count(db, model):
    async with db.sessions() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


async def test_a_client_starts_shares_the_phone_and_writes_once_across_a_restart(db, bus, botapi):
    known = await IntakeService(db.sessions, bus).accept(IntakeRequest(
        channel="webform", external_id="f-1", phone="+79161234567", name="Ольга С."))
    botapi.push(message(100, 1, "/start"))
    botapi.push(message(101, 2, contact={"phone_number": "8 916 123-45-67", "first_name": "Ольга",
                                         "user_id": CHAT}))
    botapi.push(message(102, 3, "Ищу двушку на Соколе до 20 млн"))
    botapi.push({"update_id": 103, "edited_message": {**message(0, 3, "Ищу двушку на Соколе до 25 млн")["message"]}})
    botapi.push({"update_id": 104, "new_update_kind": {"some": "thing"}})
    bot = make(db, bus, botapi)
    await bot.start()
    try:
        async def all_handled():
            return botapi.offsets and botapi.offsets[-1] == 105
        await until(all_handled)
    finally:
        await bot.stop()
    assert bot.handled == 4 and "drop_pending_updates" not in json.dumps(botapi.sent)
    greeting, linked, accepted = (m["text"] for m in botapi.sent)
    assert "Поделитесь номером" in greeting and "request_contact" in json.dumps(botapi.sent[0]["reply_markup"])
    assert "узнали" in linked and "принято" in accepted
    async with db.sessions() as s:
        inquiry = (await s.execute(select(Inquiry).where(Inquiry.channel == "telegram"))).scalar_one()
        body = (await s.execute(select(Message.body).where(Message.channel == "telegram"))).scalar_one()
    assert inquiry.client_id == known.client_id  # the shared phone tied the chat to the known client
    assert body == "Ищу двушку на Соколе до 25 млн"  # the edit replaced the text
    sent_before = len(botapi.sent)
    bot = make(db, bus, botapi)  # restart: nothing is handled twice
    botapi.push(message(105, 4, "И ещё: нужна парковка"))
    await bot.start()
    try:
        async def next_handled():
            return botapi.offsets and botapi.offsets[-1] == 106
        await until(next_handled)
    finally:
        await bot.stop()
    assert botapi.offsets[botapi.offsets.index(105)] == 105 and bot.handled == 1
    assert len(botapi.sent) == sent_before  # a follow-up joins the open inquiry, no second "accepted"
    assert await count(db, Inquiry) == 2 and await count(db, Message) == 3


async def test_status_lists_the_clients_open_inquiries(db, bus, botapi):
    botapi.push(message(1, 1, "Нужна оценка квартиры"))
    botapi.push(message(2, 2, "/status"))
    bot = make(db, bus, botapi)
    await bot.start()
    try:
        async def two_sent():
            return len(botapi.sent) == 2
        await until(two_sent)
    finally:
        await bot.stop()
    assert botapi.sent[1]["text"].startswith("Ваши обращения:") and "новое" in botapi.sent[1]["text"]


async def test_flood_limits_are_waited_out_and_blocked_clients_reported(db, bus, botapi):
    bot = make(db, bus, botapi)
    botapi.flood_next = 1
    await bot.send(Reply(CHAT, "Добрый день! Подобрали вам три варианта."))
    assert [m["text"] for m in botapi.sent] == ["Добрый день! Подобрали вам три варианта."]
    botapi.blocked.add(CHAT)
    with pytest.raises(PermanentSendError, match="заблокирован"):
        await bot.send(Reply(CHAT, "Вы здесь?"))


async def test_webhook_checks_the_secret_and_handles_an_update_once(db, bus, botapi):
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    bot = make(db, bus, botapi, mode="webhook", webhook_secret="s3cret-hook")
    app = web.Application()
    for method, path, handler in bot.routes():
        app.router.add_route(method, path, handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        url = str(server.make_url("/telegram/webhook"))
        update = message(7, 7, "Здравствуйте, есть аренда у метро?")
        async with aiohttp.ClientSession() as http:
            wrong = await http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "guess"})
            assert wrong.status == 403
            for _ in range(2):
                ok = await http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-hook"})
                assert ok.status == 200
            for n, path in enumerate(sorted((FIXTURES / "telegram").glob("*.json"))):
                data = json.loads(path.read_text(encoding="utf-8"))
                if "update_id" not in data:  # one corpus file is a bare Message
                    data = {"message": data}
                data["update_id"] = 1000 + n  # in the order they arrive, after the ones above
                resp = await http.post(url, json=data, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-hook"})
                assert resp.status == 200, path.name
    finally:
        await server.close()
    async with db.sessions() as s:
        bodies = set((await s.execute(select(Message.body))).scalars())
        phones = set((await s.execute(select(Contact.value).where(Contact.kind == "phone"))).scalars())
    assert "Здравствуйте, есть аренда у метро?" in bodies
    assert "caption 123<b>abc</b>" in bodies  # an HTML caption is kept as text (the pages escape it)
    assert "+78005553535" in phones  # the contact in the corpus identified its sender
    assert await count(db, Client) >= 2


async def test_photos_documents_and_voice_notes_are_kept_on_disk_and_a_too_large_one_becomes_a_note(botapi, tmp_path):
    """A real document update (tests/fixtures/telegram) and a photo with its sizes are downloaded through getFile; a
    voice note over the limit is not, and the message still reaches the hub with a note saying why."""
    document = json.loads((FIXTURES / "telegram/zammad_private_document.json").read_text())
    botapi.files["documentfileid"] = b"%PDF-1.4 plan of the flat"
    botapi.files["photo-big"] = b"\xff\xd8\xff jpeg bytes"
    botapi.files["voice-1"] = b"O" * 2048
    botapi.push(document)
    botapi.push(message(3, 3, caption="Вот фото кухни и голосовое",
                        photo=[{"file_id": "photo-small", "file_unique_id": "s", "width": 90, "height": 90},
                               {"file_id": "photo-big", "file_unique_id": "b", "width": 1280, "height": 960}],
                        voice={"file_id": "voice-1", "file_unique_id": "v", "duration": 3}))
    seen = []

    async def on_event(event):
        seen.append(event)
        return []

    cfg = TelegramSettings(enabled=True, token=TOKEN, base_url=botapi.base_url, base_file_url=botapi.base_file_url,
                           poll_timeout_s=1, max_file_bytes=1024)
    bot = TelegramConnector(cfg, on_event, MemoryCheckpoint(), backoff_cap_s=0.5, files_dir=tmp_path / "tg")
    await bot.start()
    try:
        async def both():
            return len(seen) == 2
        await until(both)
    finally:
        await bot.stop()
    doc, media = seen
    assert contents(doc.saved) == [b"%PDF-1.4 plan of the flat"] and doc.notes == ()
    assert contents(media.saved) == [b"\xff\xd8\xff jpeg bytes"]  # the largest size only
    assert media.text == "Вот фото кухни и голосовое"
    assert len(media.notes) == 1 and media.notes[0].startswith("voice: 2048 bytes, over the 1024 limit")
    assert all(p.startswith(str(tmp_path / "tg")) for p in doc.saved + media.saved)


def contents(paths):
    return [Path(p).read_bytes() for p in paths]


class MemoryCheckpoint:
    def __init__(self):
        self.saved = {}

    async def load(self, key):
        return self.saved.get(key)

    async def save(self, key, value):
        self.saved[key] = value


async def test_a_kept_photo_and_a_note_reach_the_inquiry(db, bus):
    """What the connector kept and noted is on the stored message and the inquiry's history."""
    from connectors.telegram.events import TelegramInbound
    from crm_core.models import InquiryEvent

    service = TelegramService(db.sessions, IntakeService(db.sessions, bus))
    await service.handle(TelegramInbound(update_id=9, kind="media", chat_id=CHAT, user_id=CHAT, name="Ольга",
                                         message_id=9, text="Фото кухни", files=("photo:p1", "voice:v1"),
                                         saved=("/var/hub/attachments/telegram/555001-9-0-p1.jpg",),
                                         notes=("voice: 30000000 bytes, over the 20971520 limit; not downloaded",)))
    async with db.sessions() as s:
        meta = (await s.execute(select(Message.meta).where(Message.channel == "telegram"))).scalar_one()
        notes = (await s.execute(select(InquiryEvent.note).where(InquiryEvent.kind == "intake_note"))).scalars().all()
    assert meta["attachments"] == [{"filename": "555001-9-0-p1.jpg", "kept": True,
                                    "path": "/var/hub/attachments/telegram/555001-9-0-p1.jpg"}]
    assert notes == ["voice: 30000000 bytes, over the 20971520 limit; not downloaded"]


async def test_cabinet_sends_the_sign_in_link_only_to_a_chat_tied_to_a_client(db, bus):
    from connectors.telegram.events import TelegramInbound
    from selfservice.links import LinkRefused

    service = TelegramService(db.sessions, IntakeService(db.sessions, bus))
    asked = []

    async def link(chat_id):
        asked.append(chat_id)
        if chat_id == CHAT:
            return "Ваш личный кабинет: https://hub.example/my/signin/abc (ссылка на 30 минут)"
        if chat_id == 7:
            raise LinkRefused("too_many")
        return None

    def cabinet(chat):
        return TelegramInbound(update_id=1, kind="text", chat_id=chat, user_id=chat, name="", message_id=1,
                               text="/cabinet")

    [off] = await service.handle(cabinet(CHAT))
    assert "недоступен" in off.text
    service.cabinet_link = link
    [mine] = await service.handle(cabinet(CHAT))
    [stranger] = await service.handle(cabinet(42))
    [busy] = await service.handle(cabinet(7))
    assert "https://hub.example/my/signin/abc" in mine.text
    assert stranger.ask_contact and "поделитесь номером" in stranger.text.lower()
    assert "много" in busy.text and asked == [CHAT, 42, 7]
    assert await count(db, Inquiry) == 0  # a command is not a request
