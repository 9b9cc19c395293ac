"""Telegram at the edges: updates out of order, repeated after a restart, refused by a hub that could not take
them, a 2 MB text, flood limits and blocked clients — nothing lost, nothing doubled. The Bot API is the fake on
loopback (tests/connectors/fake_botapi.py); the webhook goes through the running hub's own web app."""

import asyncio

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from channels.telegram.service import TelegramService
from connectors.telegram.connector import TelegramConnector
from connectors.telegram.events import Reply
from connectors.telegram.handled import HandledUpdates
from connectors.telegram.settings import TelegramSettings
from connectors.telegram.translate import MAX_TEXT
from crm_core.connector_state import DbCheckpoint
from crm_core.intake import IntakeService
from crm_core.models import Inquiry, InquiryEvent, Message
from tests.connectors.conftest import TELEGRAM_TOKEN, botapi  # noqa: F401 - the fake Bot API fixture
from tests.web.conftest import running  # noqa: F401 - the running hub

CHAT = 880001
SECRET = "hook-secret-20"
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET}


@pytest.fixture
def hub_sections(botapi):  # noqa: F811 - the fixture above
    return {"telegram": {"enabled": True, "token": TELEGRAM_TOKEN, "base_url": botapi.base_url, "mode": "webhook",
                         "webhook_secret": SECRET, "poll_timeout_s": 1}}


def update(update_id, message_id, text, *, edited=False, chat=CHAT):
    message = {"message_id": message_id, "date": 1795390910, "text": text, "chat": {"id": chat, "type": "private"},
               "from": {"id": chat, "is_bot": False, "first_name": "Ирина", "last_name": "Волкова"}}
    return {"update_id": update_id, "edited_message" if edited else "message": message}


async def post(base, body):
    async with aiohttp.ClientSession() as http:
        resp = await http.post(base + "/telegram/webhook", json=body, headers=HEADERS)
        return resp.status


async def rows(sessions, *columns, where=()):
    async with sessions() as s:
        return (await s.execute(select(*columns).where(*where))).all()


async def count(sessions, model):
    async with sessions() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


async def wait_until(check, limit_s=10.0):
    async with asyncio.timeout(limit_s):
        while not await check():  # noqa: ASYNC110 - polling what the fake Bot API and the database hold
            await asyncio.sleep(0.05)


def accepted(botapi):  # noqa: F811
    return [m for m in botapi.sent if "принято" in m["text"]]


async def test_updates_out_of_order_both_become_messages_and_a_repeat_is_one(running, botapi):  # noqa: F811
    """Telegram posts 11 before 10 over two connections: 10 is not "below the mark", it is new."""
    base, sessions = running.base, running.hub.database.sessions
    assert await post(base, update(11, 11, "Ищу двушку у метро Сокол")) == 200
    assert await post(base, update(10, 10, "Бюджет до 20 млн")) == 200
    assert await post(base, update(10, 10, "Бюджет до 20 млн")) == 200  # a repeat of 10
    bodies = sorted(b for (b,) in await rows(sessions, Message.body, where=[Message.channel == "telegram"]))
    assert bodies == ["Бюджет до 20 млн", "Ищу двушку у метро Сокол"]
    assert await count(sessions, Inquiry) == 1 and len(accepted(botapi)) == 1
    saved = await DbCheckpoint(sessions).load("telegram:offset")
    assert saved["handled"] == [[10, 11]] and "offset" not in saved  # webhook mode moves no getUpdates offset


def standalone(db, bus, botapi, on_event=None):  # noqa: F811
    cfg = TelegramSettings(enabled=True, token=TELEGRAM_TOKEN, base_url=botapi.base_url, poll_timeout_s=1,
                           mode="webhook", webhook_secret=SECRET)
    service = TelegramService(db.sessions, IntakeService(db.sessions, bus))
    return TelegramConnector(cfg, on_event or service.handle, DbCheckpoint(db.sessions), backoff_cap_s=0.3), service


async def serve(connector):
    app = web.Application()
    for method, path, handler in connector.routes():
        app.router.add_route(method, path, handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


async def test_a_repeated_update_after_a_restart_is_one_message(db, bus, botapi):  # noqa: F811
    first, _ = standalone(db, bus, botapi)
    server = await serve(first)
    try:
        assert await post(str(server.make_url("")).rstrip("/"), update(20, 20, "Сдаю студию")) == 200
    finally:
        await server.close()
    again, _ = standalone(db, bus, botapi)  # a new process: only the database remembers
    server = await serve(again)
    try:
        base = str(server.make_url("")).rstrip("/")
        assert await post(base, update(20, 20, "Сдаю студию")) == 200
        assert again.handled == 0
        assert await post(base, update(19, 19, "Есть фото")) == 200  # lower, but never seen: handled
        assert again.handled == 1
    finally:
        await server.close()
    assert await count(db.sessions, Message) == 2 and len(accepted(botapi)) == 1


async def test_an_update_the_hub_could_not_take_is_refused_and_taken_when_sent_again(db, bus, botapi):  # noqa: F811
    """The database was down: not a 200, so Telegram sends it again, and then it is handled (once)."""
    calls = []

    async def flaky(event):
        calls.append(event.update_id)
        if len(calls) == 1:
            raise ConnectionError("database unreachable")
        return await service.handle(event)

    connector, service = standalone(db, bus, botapi, flaky)
    server = await serve(connector)
    try:
        base = str(server.make_url("")).rstrip("/")
        assert await post(base, update(30, 30, "Нужна ипотека")) == 503
        assert await post(base, update(30, 30, "Нужна ипотека")) == 200
        assert await post(base, update(30, 30, "Нужна ипотека")) == 200
    finally:
        await server.close()
    assert calls == [30, 30] and await count(db.sessions, Message) == 1


async def test_the_poller_outlives_an_update_the_hub_could_not_take(db, bus, botapi):  # noqa: F811
    calls = []
    service = TelegramService(db.sessions, IntakeService(db.sessions, bus))

    async def flaky(event):
        calls.append(event.update_id)
        if len(calls) == 1:
            raise ConnectionError("database unreachable")
        return await service.handle(event)

    cfg = TelegramSettings(enabled=True, token=TELEGRAM_TOKEN, base_url=botapi.base_url, poll_timeout_s=1)
    bot = TelegramConnector(cfg, flaky, DbCheckpoint(db.sessions), backoff_cap_s=0.3)
    botapi.push(update(40, 40, "Продаю дачу"))
    await bot.start()
    try:
        async def stored():
            return await count(db.sessions, Message) == 1 and botapi.offsets and botapi.offsets[-1] == 41
        await wait_until(stored)
    finally:
        await bot.stop()
    assert calls == [40, 40] and botapi.offsets.count(0) >= 2  # fetched again from the unconfirmed offset
    saved = await DbCheckpoint(db.sessions).load("telegram:offset")
    assert saved["offset"] == 41 and saved["handled"] == [[40, 40]]


async def test_a_2mb_text_is_cut_to_telegrams_limit_with_a_note(running, botapi):  # noqa: F811
    sessions = running.hub.database.sessions
    huge = ("Ищу квартиру в Москве, три комнаты, рядом школа. " * 45000)[:2_000_000]
    assert await post(running.base, update(50, 50, huge)) == 200
    [(body, meta)] = await rows(sessions, Message.body, Message.meta, where=[Message.channel == "telegram"])
    assert body == huge[:MAX_TEXT] and len(body) == 4096
    assert "обрезан" in meta["notes"][0] and "2000000" in meta["notes"][0]
    notes = [n for (n,) in await rows(sessions, InquiryEvent.note, where=[InquiryEvent.kind == "intake_note"])]
    assert any("обрезан до 4096" in n for n in notes)
    assert await post(running.base, update(51, 50, "П" * 3_000_000, edited=True)) == 200  # an edit as long
    [(body,)] = await rows(sessions, Message.body, where=[Message.channel == "telegram"])
    assert body == "П" * 4096
    [(note,)] = await rows(sessions, InquiryEvent.note, where=[InquiryEvent.kind == "message_edited"])
    assert "обрезан" in note and len(note) < 1000


async def take(running, owner="anna"):  # noqa: F811
    async with running.hub.database.sessions() as s, s.begin():
        inquiry = (await s.execute(select(Inquiry))).scalar_one()
        inquiry.owner_id = running.agency.users[owner]
        return inquiry.id


async def reply_state(sessions, text):
    async with sessions() as s:
        return (await s.execute(select(Message.delivery, Message.delivery_note)
                                .where(Message.direction == "out", Message.body == text))).one_or_none()


async def test_a_flood_limit_is_waited_out_and_a_blocked_client_gets_the_reply_marked_undelivered(
        running, botapi):  # noqa: F811
    sessions = running.hub.database.sessions
    assert await post(running.base, update(60, 60, "Сколько стоит аренда офиса?")) == 200
    inquiry_id = await take(running)
    anna = await running.browser("anna")
    await anna.get(f"/inquiries/{inquiry_id}")
    botapi.flood_next = 1  # 429 "retry after 1" once
    await anna.post(f"/inquiries/{inquiry_id}/reply", {"text": "От 120 000 ₽ в месяц.", "channel": "telegram"})

    async def sent():
        state = await reply_state(sessions, "От 120 000 ₽ в месяц.")
        return state is not None and state.delivery == "sent"
    await wait_until(sent)
    assert botapi.flood_next == 0 and [m["text"] for m in botapi.sent][-1] == "От 120 000 ₽ в месяц."

    botapi.blocked.add(CHAT)
    await anna.get(f"/inquiries/{inquiry_id}")
    await anna.post(f"/inquiries/{inquiry_id}/reply", {"text": "Вы здесь?", "channel": "telegram"})

    async def undelivered():
        state = await reply_state(sessions, "Вы здесь?")
        return state is not None and state.delivery == "undelivered"
    await wait_until(undelivered)
    assert "заблокирован" in (await reply_state(sessions, "Вы здесь?")).delivery_note
    _, page = await anna.get(f"/inquiries/{inquiry_id}")
    assert "не доставлено" in page and "заблокирован" in page


async def test_a_reply_over_telegrams_limit_goes_out_in_pieces(db, bus, botapi):  # noqa: F811
    bot, _ = standalone(db, bus, botapi)
    text = "\n".join(f"Вариант {n}: двухкомнатная квартира, 54 м², 9 этаж, рядом парк." for n in range(120))
    assert len(text) > MAX_TEXT
    await bot.send(Reply(CHAT, text))
    parts = [m["text"] for m in botapi.sent]
    assert len(parts) == 2 and all(len(p) <= MAX_TEXT for p in parts) and "".join(parts) == text
    assert parts[0].endswith("\n")  # cut at a line end


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=60), max_size=200), st.integers(min_value=1, max_value=40))
def test_the_handled_set_remembers_the_latest_ids_and_nothing_else(ids, bound):
    handled = HandledUpdates(max_ids=bound, max_runs=max(1, bound // 2))
    for update_id in ids:
        handled.add(update_id)
        assert update_id in handled  # the id just handled is always remembered
        assert len(handled) <= bound and len(handled.runs) <= max(1, bound // 2)
    assert all(i in set(ids) for low, high in handled.runs for i in range(low, high + 1))  # nothing invented
    if len(set(ids)) <= handled.max_runs and len(set(ids)) <= bound:
        assert all(i in handled for i in ids)  # within the bounds, nothing forgotten
    again = HandledUpdates.from_json(handled.to_json(), max_ids=bound, max_runs=max(1, bound // 2))
    assert again.runs == handled.runs


def test_the_handled_set_reads_an_old_or_broken_checkpoint_as_empty_or_repaired():
    assert len(HandledUpdates.from_json(None)) == 0 and len(HandledUpdates.from_json({"offset": 7})) == 0
    assert HandledUpdates.from_json([[5, 3], "x", [1, 2, 3], [True, 4]]).runs == []
    assert HandledUpdates.from_json([[1, 5], [4, 9], [11, 12]]).runs == [(1, 9), (11, 12)]
    assert HandledUpdates.from_json([[0, 10**12]]).runs == [(10**12 - 2999, 10**12)]
    sequential = HandledUpdates()
    for update_id in range(100_000, 110_000):
        sequential.add(update_id)
    assert sequential.runs == [(107_000, 109_999)]  # a whole history stays one small run
