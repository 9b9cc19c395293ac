"""Websites post request forms: every accepted form is an inquiry, nothing doubled, bad input named."""

import asyncio

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from connectors.webforms.connector import WebFormsConnector
from connectors.webforms.events import FormOutcome
from connectors.webforms.settings import WebFormsSettings
from crm_core.models import Inquiry, Message

GOOD = {"name": "Мария Иванова", "phone": "8 (916) 765-43-21", "message": "Хочу посмотреть квартиру на Соколе",
        "utm_source": "yandex", "utm_campaign": "sokol-2026"}


async def post(running, path="/forms/sokol-site", **kw):
    async with aiohttp.ClientSession() as http:
        resp = await http.post(running.base + path, **kw)
        return resp.status, await resp.json(), resp.headers


async def count(running, model):
    async with running.hub.database.sessions() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


async def test_form_posted_urlencoded_becomes_an_inquiry_with_its_source(running):
    status, body, _ = await post(running, data=GOOD)
    assert status == 201 and body["ok"] and not body["duplicate"]
    async with running.hub.database.sessions() as s:
        inquiry = await s.get(Inquiry, body["inquiry_id"])
    assert inquiry.channel == "webform" and inquiry.source == "yandex"
    assert inquiry.utm == {"utm_source": "yandex", "utm_campaign": "sokol-2026"}


async def test_json_and_multipart_posts_are_accepted_too(running):
    status, body, _ = await post(running, json={**GOOD, "idempotency_key": "json-0001"})
    assert status == 201
    form = aiohttp.FormData()
    for k, v in {**GOOD, "idempotency_key": "multi-0001"}.items():
        form.add_field(k, v)
    status, body2, _ = await post(running, data=form)
    assert status == 201 and body2["inquiry_id"] != body["inquiry_id"]


async def test_same_idempotency_key_gives_the_same_inquiry_with_200(running):
    first = await post(running, json=GOOD, headers={"Idempotency-Key": "order-12345"})
    second = await post(running, json=GOOD, headers={"Idempotency-Key": "order-12345"})
    assert (first[0], second[0]) == (201, 200)
    assert first[1]["inquiry_id"] == second[1]["inquiry_id"] and second[1]["duplicate"]
    assert await count(running, Message) == 1


async def test_a_double_click_without_key_is_one_inquiry(running):
    statuses = [(await post(running, data=GOOD))[0] for _ in range(2)]
    assert statuses == [201, 200] and await count(running, Inquiry) == 1


async def test_duplicate_key_from_two_requests_at_once_is_stored_once(running):
    results = await asyncio.gather(*(post(running, json=GOOD, headers={"Idempotency-Key": "same-time-1"})
                                     for _ in range(5)))
    assert sorted(r[0] for r in results) == [200, 200, 200, 200, 201]
    assert len({r[1]["inquiry_id"] for r in results}) == 1 and await count(running, Message) == 1


async def test_missing_contact_and_bad_values_are_named_per_field(running):
    status, body, _ = await post(running, json={"name": "Без контактов"})
    assert status == 422 and "телефон или email" in body["fields"]["form"]
    status, body, _ = await post(running, json={"name": "X", "phone": "12", "email": "not-mail"})
    assert status == 422 and set(body["fields"]) == {"phone", "email"}
    assert await count(running, Inquiry) == 0


async def test_header_injection_in_one_line_fields_is_refused(running):
    status, body, _ = await post(running, json={**GOOD, "name": "Иван\r\nBcc: all@example.com"})
    assert status == 422 and "name" in body["fields"]
    status, body, _ = await post(running, json={**GOOD, "email": "a@b.ru\r\nBcc: x@y.ru", "phone": None})
    assert status == 422 and "email" in body["fields"]


async def test_script_in_a_message_is_kept_as_text(running):
    status, body, _ = await post(running, json={**GOOD, "message": "<script>alert(1)</script>"})
    assert status == 201
    async with running.hub.database.sessions() as s:
        text = (await s.execute(select(Message.body))).scalar_one()
    assert text == "<script>alert(1)</script>"
    root = await running.browser("root")
    _, page = await root.get(f"/inquiries/{body['inquiry_id']}")
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


async def test_a_10_mb_field_is_refused_before_it_is_read_whole(running):
    status, body, _ = await post(running, data={**GOOD, "message": "я" * (5 * 1024 * 1024)})
    assert status == 413 and "слишком большая" in body["error"]
    status, body, _ = await post(running, json={**GOOD, "message": "a" * 6000})
    assert status == 422 and "message" in body["fields"]
    assert await count(running, Inquiry) == 0


async def test_the_spam_trap_keeps_nothing_and_tells_the_bot_nothing(running):
    status, body, _ = await post(running, data={**GOOD, "website": "http://spam.example"})
    assert status == 200 and body == {"ok": True}
    assert await count(running, Inquiry) == 0


async def test_one_address_posting_too_often_gets_429(running):
    statuses = []
    for n in range(22):
        statuses.append((await post(running, json={**GOOD, "idempotency_key": f"flood-{n:04d}"}))[0])
    assert statuses[:20] == [201] * 20 and statuses[20:] == [429, 429]


async def test_wrong_content_type_and_broken_json_are_explained(running):
    status, body, _ = await post(running, data=b"hello", headers={"Content-Type": "text/plain"})
    assert status == 415
    status, body, _ = await post(running, data=b"{not json", headers={"Content-Type": "application/json"})
    assert status == 400 and "JSON" in body["error"]


async def _serve(connector):
    app = web.Application()
    for method, path, handler in connector.routes():
        app.router.add_route(method, path, handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


async def test_under_overload_new_forms_get_503_and_accepted_ones_are_kept(caplog):
    release, stored = asyncio.Event(), []

    async def slow_store(form):
        await release.wait()
        stored.append(form.external_id)
        return FormOutcome(len(stored), False)

    connector = WebFormsConnector(WebFormsSettings(max_in_flight=2, per_ip_per_minute=100), slow_store)
    await connector.start()
    server = await _serve(connector)
    try:
        async with aiohttp.ClientSession() as http:
            url = str(server.make_url("/forms/site"))
            pending = [asyncio.create_task(http.post(url, json={**GOOD, "idempotency_key": f"load-{n:04d}"}))
                       for n in range(2)]
            await asyncio.sleep(0.2)
            for n in range(5):  # every site posting again: one line in the log says so, not one per post
                shed = await http.post(url, json={**GOOD, "idempotency_key": f"load-999{n}"})
                assert shed.status == 503 and shed.headers["Retry-After"] == "2"
            release.set()
            assert sorted([(await p).status for p in pending]) == [201, 201]
        assert sorted(stored) == ["site:load-0000", "site:load-0001"] and connector.shed == 5
        refusals = [r.getMessage() for r in caplog.records if "refused 503" in r.getMessage()]
        assert len(refusals) == 1 and "(1 refused since the last such line, this one included)" in refusals[0]
    finally:
        await server.close()


async def test_cors_only_for_configured_sites():
    async def store(form):
        return FormOutcome(1, False)

    connector = WebFormsConnector(WebFormsSettings(allowed_origins=("https://agency.ru",)), store)
    await connector.start()
    server = await _serve(connector)
    try:
        async with aiohttp.ClientSession() as http:
            url = str(server.make_url("/forms/site"))
            ok = await http.options(url, headers={"Origin": "https://agency.ru"})
            assert ok.headers["Access-Control-Allow-Origin"] == "https://agency.ru"
            other = await http.post(url, json=GOOD, headers={"Origin": "https://evil.example"})
            assert "Access-Control-Allow-Origin" not in other.headers
    finally:
        await server.close()
