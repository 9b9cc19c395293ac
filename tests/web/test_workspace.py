"""The workspace an agent uses: inbox boxes, inquiry and client pages, API, live socket, health."""

import asyncio
import json

import aiohttp
import pytest
from sqlalchemy import select

from bus.events import Push
from crm_core.intake import IntakeRequest
from crm_core.models import Channel, Client, Inquiry, Pool


async def new_inquiry(running, key, name="Иван Петров", phone="+79161234567", owner=None, pool=Pool.NONE,
                      dept=None):
    res = await running.hub.intake.accept(IntakeRequest(channel=Channel.WEBFORM, external_id=key, name=name,
                                                        phone=phone, text="Ищу двушку у метро", subject="Двушка"))
    async with running.hub.database.sessions() as s, s.begin():
        inquiry = await s.get(Inquiry, res.inquiry_id)
        inquiry.owner_id, inquiry.pool, inquiry.department_id = owner, pool, dept
        client = await s.get(Client, res.client_id)
        client.owner_id = owner
    return res


async def test_inbox_shows_mine_and_the_department_pool_in_their_tabs(running):
    ag = running.agency
    await new_inquiry(running, "a1", owner=ag.users["anna"], dept=ag.sales)
    await new_inquiry(running, "p1", name="Пул Продаж", phone="+79160000001", pool=Pool.DEPARTMENT, dept=ag.sales)
    b = await running.browser("anna")
    _, mine = await b.get("/inbox?box=mine")
    _, pool = await b.get("/inbox?box=department")
    assert "Иван Петров" in mine and "Пул Продаж" not in mine
    assert "Пул Продаж" in pool and "Иван Петров" not in pool


async def test_another_agents_inquiry_by_id_is_404_on_page_and_api(running):
    ag = running.agency
    res = await new_inquiry(running, "o1", owner=ag.users["oleg"], dept=ag.sales)
    b = await running.browser("anna")
    for path in (f"/inquiries/{res.inquiry_id}", f"/api/inquiries/{res.inquiry_id}",
                 f"/clients/{res.client_id}", f"/api/clients/{res.client_id}"):
        resp, text = await b.get(path)
        assert resp.status == 404, path
        assert "Иван Петров" not in text
    oleg = await running.browser("oleg")
    resp, text = await oleg.get(f"/inquiries/{res.inquiry_id}")
    assert resp.status == 200 and "Иван Петров" in text


async def test_script_in_a_client_name_is_shown_as_text(running):
    ag = running.agency
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    res = await new_inquiry(running, "x1", name=evil, owner=ag.users["anna"], dept=ag.sales)
    b = await running.browser("anna")
    for path in ("/inbox", f"/inquiries/{res.inquiry_id}", f"/clients/{res.client_id}", "/clients?q=script"):
        _, text = await b.get(path)
        assert "<script>alert" not in text and "<img src=x" not in text, path
        assert "&lt;script&gt;alert(" in text, path
    resp, _ = await b.get(f"/api/clients/{res.client_id}")
    assert (await resp.json())["name"] == evil  # the API returns the data; JSON is not HTML


async def test_client_card_shows_contacts_owner_and_timeline(running):
    ag = running.agency
    res = await new_inquiry(running, "t1", owner=ag.users["anna"], dept=ag.sales)
    await running.hub.intake.accept(IntakeRequest(channel=Channel.EMAIL, external_id="<m1@x>",
                                                  phone="8 (916) 123-45-67", email="ivan@example.ru",
                                                  subject="Повторно", text="Ещё раз"))
    b = await running.browser("anna")
    resp, text = await b.get(f"/clients/{res.client_id}")
    assert resp.status == 200
    assert "+79161234567" in text and "ivan@example.ru" in text and "Anna" in text
    assert text.count('data-kind="message_in"') == 2 and 'data-kind="inquiry_opened"' in text
    assert "Входящее сообщение" in text


async def test_finding_a_client_by_any_phone_format(running):
    ag = running.agency
    res = await new_inquiry(running, "f1", owner=ag.users["anna"], dept=ag.sales)
    b = await running.browser("anna")
    for q in ("8 916 123-45-67", "+7 (916) 123 45 67", "9161234567", "Петров"):
        resp, _ = await b.get(f"/api/clients?q={q}")
        assert [c["id"] for c in await resp.json()] == [res.client_id], q


async def test_claim_from_the_pool_through_the_page(running):
    ag = running.agency
    res = await new_inquiry(running, "c1", pool=Pool.DEPARTMENT, dept=ag.sales)
    anna, oleg = await running.browser("anna"), await running.browser("oleg")
    _, page = await anna.get(f"/inquiries/{res.inquiry_id}")
    await oleg.get(f"/inquiries/{res.inquiry_id}")
    assert 'id="claim"' in page
    resp, _ = await anna.post(f"/inquiries/{res.inquiry_id}/claim")
    assert resp.status == 303 and "notice=claimed" in resp.headers["Location"]
    resp, _ = await oleg.post(f"/inquiries/{res.inquiry_id}/claim")
    assert resp.status == 303 and "already_taken" in resp.headers["Location"]
    async with running.hub.database.sessions() as s:
        assert (await s.get(Inquiry, res.inquiry_id)).owner_id == ag.users["anna"]


async def test_language_switch_to_english(running):
    b = await running.browser("anna")
    _, text = await b.get("/inbox")
    assert "Обращения" in text
    resp, _ = await b.post("/language", {"locale": "en", "next": "/inbox"})
    assert resp.status == 303
    _, text = await b.get("/inbox")
    assert "Inquiries" in text and "Обращения" not in text


async def test_openapi_document_lists_the_api(running):
    b = await running.browser()
    resp, text = await b.get("/api/openapi.json")
    doc = json.loads(text)
    assert doc["openapi"].startswith("3.")
    expected = {"/api/me", "/api/inquiries", "/api/inquiries/{id}", "/api/clients", "/api/clients/{id}"}
    assert expected <= set(doc["paths"])
    assert "InquiryDetail" in doc["components"]["schemas"]


async def test_metrics_are_prometheus_text(running):
    b = await running.browser()
    resp, text = await b.get("/metrics")
    assert resp.status == 200 and "hub_database_up 1.0" in text


async def ws_connect(running, browser, origin=None):
    return await browser.http.ws_connect(running.base.replace("http", "ws") + "/ws",
                                         headers={"Origin": origin or running.base})


async def test_live_push_reaches_only_the_named_agent(running):
    anna, oleg = await running.browser("anna"), await running.browser("oleg")
    ws_a, ws_o = await ws_connect(running, anna), await ws_connect(running, oleg)
    assert (await ws_a.receive_json())["type"] == "hello"
    assert (await ws_o.receive_json())["type"] == "hello"
    await running.hub.bus.publish(Push((running.agency.users["anna"],), "popup", {"name": "<b>Иван</b>"}))
    got = await asyncio.wait_for(ws_a.receive_json(), 2)
    assert got == {"type": "popup", "name": "<b>Иван</b>"}
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(ws_o.receive_json(), 0.3)
    await ws_a.close()
    await ws_o.close()


async def test_socket_from_a_foreign_origin_or_without_login_is_refused(running):
    anna = await running.browser("anna")
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await ws_connect(running, anna, origin="https://evil.example")
    assert err.value.status == 403
    nobody = await running.browser()
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await ws_connect(running, nobody)


async def test_a_slow_browser_is_cut_off_without_holding_up_the_others(running):
    from web.keys import SOCKETS

    sockets = running.server.app[SOCKETS]
    anna, oleg = await running.browser("anna"), await running.browser("oleg")
    ws_a, ws_o = await ws_connect(running, anna), await ws_connect(running, oleg)
    await ws_a.receive_json()
    await ws_o.receive_json()
    slow = next(iter(sockets._by_user[running.agency.users["anna"]]))
    slow.ws.send_frame = _never_returns  # anna's browser stops reading: its sends never finish
    ids = (running.agency.users["anna"], running.agency.users["oleg"])
    for n in range(sockets.queue_size + 5):
        sockets.push(ids, "tick", {"n": n})
        await asyncio.sleep(0)  # events arrive over time; a healthy writer keeps up between them
    received = [await asyncio.wait_for(ws_o.receive_json(), 2) for _ in range(sockets.queue_size + 5)]
    assert [m["n"] for m in received] == list(range(sockets.queue_size + 5))
    assert sockets.dropped_slow == 1 and slow.overflowed
    await ws_o.close()


async def _never_returns(*_frame):
    await asyncio.Event().wait()


async def test_health_reports_database_and_connectors(running):
    b = await running.browser()
    resp, text = await b.get("/healthz")
    body = json.loads(text)
    assert resp.status == 200 and body["database"]["state"] == "up" and body["status"] == "ok"
    assert body["connectors"]["speech"] == "disabled"  # no model configured: transcription is off, said so


async def test_form_fields_over_the_limit_are_refused_cleanly(running):
    b = await running.browser("root")
    await b.get("/admin/departments")
    resp, text = await b.post("/admin/departments", {"name": "Я" * 10_000})
    assert resp.status == 422 and 'data-field="name"' in text
    async with running.hub.database.sessions() as s:
        from crm_core.models import Department
        assert not (await s.execute(select(Department).where(Department.name.like("ЯЯЯ%")))).first()


async def test_owner_plans_the_next_action_and_leaves_a_note(running):
    ag = running.agency
    res = await new_inquiry(running, "u1", owner=ag.users["anna"], dept=ag.sales)
    anna = await running.browser("anna")
    _, page = await anna.get(f"/inquiries/{res.inquiry_id}")
    assert 'id="inquiry-edit"' in page
    resp, _ = await anna.post(f"/inquiries/{res.inquiry_id}", {
        "status": "in_work", "planned_action": "Показ квартиры", "planned_at": "2026-12-01T15:30",
        "note": "<b>Клиент</b> просит вечер"})
    assert resp.status == 303
    _, page = await anna.get(f"/inquiries/{res.inquiry_id}")
    assert "Показ квартиры" in page and "01.12.2026 15:30" in page  # shown in the agency's zone, as entered
    assert "&lt;b&gt;Клиент&lt;/b&gt; просит вечер" in page
    async with running.hub.database.sessions() as s:
        inquiry = await s.get(Inquiry, res.inquiry_id)
    assert inquiry.planned_at.isoformat() == "2026-12-01T12:30:00+00:00"  # Moscow is UTC+3


async def test_wrong_values_on_the_inquiry_form_are_named(running):
    ag = running.agency
    res = await new_inquiry(running, "u2", owner=ag.users["anna"], dept=ag.sales)
    anna = await running.browser("anna")
    await anna.get(f"/inquiries/{res.inquiry_id}")
    resp, page = await anna.post(f"/inquiries/{res.inquiry_id}", {"status": "archived", "planned_at": "завтра",
                                                                  "note": "x" * 6000})
    assert resp.status == 422
    for name in ("status", "planned_at", "note"):
        assert f'data-field="{name}"' in page, name
    async with running.hub.database.sessions() as s:
        assert (await s.get(Inquiry, res.inquiry_id)).status == "new"


async def test_a_colleague_cannot_edit_or_claim_anothers_inquiry(running):
    ag = running.agency
    res = await new_inquiry(running, "u3", owner=ag.users["anna"], dept=ag.sales)
    oleg = await running.browser("oleg")
    await oleg.get("/inbox")
    resp, _ = await oleg.post(f"/inquiries/{res.inquiry_id}", {"note": "чужое"})
    assert resp.status == 404
    boss = await running.browser("boss")  # the sales head may
    await boss.get("/inbox")
    resp, _ = await boss.post(f"/inquiries/{res.inquiry_id}", {"note": "Проверил"})
    assert resp.status == 303


def test_every_route_declares_who_may_use_it(running):
    for route in running.server.app.router.routes():
        handler = route.handler
        if route.resource is not None and route.resource.canonical.startswith("/static"):
            continue
        declared = getattr(handler, "allowed_roles", None) or getattr(handler, "public", False)
        assert declared, f"{route.method} {route.resource.canonical} has no role check"


async def test_owner_corrects_the_name_and_adds_a_phone_in_any_format(running):
    ag = running.agency
    res = await new_inquiry(running, "e1", name="иван", owner=ag.users["anna"], dept=ag.sales)
    other = await new_inquiry(running, "e2", name="Другой", phone="+79035550101")
    anna = await running.browser("anna")
    await anna.get(f"/clients/{res.client_id}")
    resp, _ = await anna.post(f"/clients/{res.client_id}", {"name": "Иван Петров", "add_phone": "8 (903) 111-22-33"})
    assert resp.status == 303
    _, page = await anna.get(f"/clients/{res.client_id}")
    assert "Иван Петров" in page and "+79031112233" in page
    resp, page = await anna.post(f"/clients/{res.client_id}", {"add_phone": "12"})
    assert resp.status == 422 and 'data-field="add_phone"' in page
    resp, page = await anna.post(f"/clients/{res.client_id}", {"add_phone": "+7 903 555-01-01"})
    assert resp.status == 422 and "другого клиента" in page
    assert other.client_id != res.client_id
    oleg = await running.browser("oleg")
    await oleg.get("/inbox")
    resp, _ = await oleg.post(f"/clients/{res.client_id}", {"name": "Чужой"})
    assert resp.status == 404
