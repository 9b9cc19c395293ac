"""The administrator's webhook pages in a running hub, on both databases: a subscription made with its secret
shown once, events from the pages and the intake reaching a real receiver signed with that secret, the test
button, the delivery log with the receiver's answer, a re-send (with CSRF), and a disabled subscription."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from connectors.asterisk.fake_pbx import FakePbx
from crm_core.intake import IntakeRequest
from crm_core.models import Channel
from crm_core.models.webhooks import WebhookDelivery
from tests.web.conftest import running  # noqa: F401 - the running hub fixture
from tests.webhooks.conftest import FAST
from webhooks import queries
from webhooks.core import SIGNATURE_HEADER, verify


@pytest.fixture
async def pbx() -> AsyncIterator[FakePbx]:
    async with FakePbx("answered.txt", secret="hubsecret", speed=100.0, autoplay=False) as fake:
        yield fake


@pytest.fixture
def hub_sections(pbx: FakePbx) -> dict:
    return {"webhooks": FAST, "asterisk": {"enabled": True, "port": pbx.port, "secret": "hubsecret"}}


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # the outbox's storage runs on both in test_delivery
async def test_subscribe_receive_log_resend_and_disable(running, receiver, pbx):  # noqa: ANN001, F811, PLR0915
    anna = await running.browser("anna")
    resp, _ = await anna.get("/admin/webhooks")
    assert resp.status == 403, "webhooks are the administrator's"
    root = await running.browser("root")
    resp, page = await root.get("/admin/webhooks")
    assert resp.status == 200 and "Вебхуки" in page and 'id="webhooks-none"' in page
    assert 'href="/admin/webhooks"' in page, "in the administrator's menu"

    resp, page = await root.post("/admin/webhooks", {"name": "1С", "url": "ftp://1c.local/hook",
                                                     "events": "inquiry.opened"})
    assert resp.status == 422 and "Только адреса http:// и https://" in page
    resp, _ = await root.post("/admin/webhooks", {"name": "1С", "url": receiver.url("/1c"),
                                                  "events": "inquiry.opened"}, csrf=False)
    assert resp.status == 403, "a form without its CSRF token is refused"
    form = [("name", "1С бухгалтерия"), ("url", receiver.url("/1c")), ("_csrf", root.csrf)] + [
        ("events", e) for e in ("inquiry.opened", "inquiry.assigned", "inquiry.status_changed", "inquiry.closed",
                             "client.changed")]
    resp = await root.http.post(running.base + "/admin/webhooks", data=form, allow_redirects=False)
    page = await resp.text()
    assert resp.status == 200 and "показывается только один раз" in page
    assert resp.headers["Cache-Control"] == "no-store"
    secret = re.search(r'id="webhook-secret">(whsec_[\w-]+)<', page).group(1)
    receiver.secrets["/1c"] = secret
    _, page = await root.get("/admin/webhooks")
    assert secret not in page and "1С бухгалтерия" in page and "Обращение: новое" in page

    res = await running.hub.intake.accept(IntakeRequest(
        channel=Channel.WEBFORM, external_id="site-1", name="Ирина", email="irina@example.ru", text="Ищу дом"))
    await receiver.wait_for(lambda: len(receiver.ok("/1c")) == 2)
    assert [h.body["type"] for h in receiver.ok("/1c")] == ["inquiry.opened", "inquiry.assigned"], \
        "routed inside the intake, the inquiry's opening still goes first, and once"
    hit = receiver.ok("/1c")[0]
    assert hit.signed_ok and hit.body["type"] == "inquiry.opened" and hit.body["data"]["inquiry_id"] == res.inquiry_id
    assert verify(secret, hit.headers[SIGNATURE_HEADER], hit.raw, int(time.time()))

    # changes made on the pages are events too
    resp, _ = await root.post(f"/inquiries/{res.inquiry_id}", {"status": "done"})
    assert resp.status == 303
    resp, _ = await root.post(f"/clients/{res.client_id}", {"name": "Ирина Петрова"})
    assert resp.status == 303
    await receiver.wait_for(lambda: len(receiver.ok("/1c")) == 5)
    types = [h.body["type"] for h in receiver.ok("/1c")]
    assert [t for t in types if t.startswith("inquiry.")] == [
        "inquiry.opened", "inquiry.assigned", "inquiry.status_changed", "inquiry.closed"], "one inquiry: in order"
    changed = next(h.body["data"] for h in receiver.ok("/1c") if h.body["type"] == "client.changed")
    assert changed["client"]["name"] == "Ирина Петрова" and changed["fields"] == ["name"]

    # the test button, answered with an error: the log shows the answer, escaped, in Russian
    receiver.fail["/1c"] = 10**6
    _, page = await root.get("/admin/webhooks")
    sub_id = int(re.search(r'data-subscription="(\d+)"', page).group(1))
    resp, _ = await root.post(f"/admin/webhooks/{sub_id}/test", {})
    assert resp.status == 303 and resp.headers["Location"].endswith("notice=test")
    for _ in range(200):
        resp, page = await root.get(f"/admin/webhooks/deliveries?subscription={sub_id}&status=retry")
        if "Internal &lt;b&gt;Error&lt;/b&gt;" in page:
            break
    assert resp.status == 200 and "Проверка связи" in page and '<td class="status">повтор</td>' in page
    assert ">500<" in page and "нет ответа" not in page
    assert "Internal &lt;b&gt;Error&lt;/b&gt;" in page and "<b>Error</b>" not in page
    receiver.fail["/1c"] = 0
    await receiver.wait_for(lambda: len(receiver.ok("/1c")) == 6)
    ping = receiver.ok("/1c")[-1]
    assert ping.body["type"] == "ping" and ping.signed_ok
    _, page = await root.get(f"/admin/webhooks/deliveries?subscription={sub_id}")
    assert 'data-status="retry"' not in page and '<td class="status">доставлено</td>' in page
    assert hit.body["id"] in page, "each delivery's id, as the receiver saw it"

    # a re-send posts the same delivery again (its id unchanged); without CSRF it is refused
    row = re.search(r'data-delivery="(\d+)" data-status="delivered">\s*<td>[^<]*</td><td>[^<]*</td>\s*'
                    r'<td title="inquiry.opened"', page)
    assert row is not None
    resp, _ = await root.post(f"/admin/webhooks/deliveries/{row.group(1)}/resend", {}, csrf=False)
    assert resp.status == 403
    resp, _ = await root.post(f"/admin/webhooks/deliveries/{row.group(1)}/resend", {})
    assert resp.status == 303
    await receiver.wait_for(lambda: len(receiver.ok("/1c")) == 7)
    assert receiver.ok("/1c")[-1].body["id"] == hit.body["id"]
    _, page = await root.get(resp.headers["Location"])
    assert "Отправка поставлена в очередь ещё раз" in page

    # disabled: nothing more goes out
    resp, _ = await root.post(f"/admin/webhooks/{sub_id}/active", {"active": "0"})
    assert resp.status == 303
    _, page = await root.get("/admin/webhooks")
    assert "отключена" in page and "Включить" in page
    await running.hub.intake.accept(IntakeRequest(channel=Channel.WEBFORM, external_id="site-2", name="Олег",
                                                  email="oleg@example.ru", text="Продаю дачу"))
    await running.hub.connectors["webhooks"].flush()
    async with running.hub.database.sessions() as s:
        queued = (await s.execute(select(func.count()).select_from(WebhookDelivery))).scalar_one()
    assert queued == 6 and len(receiver.ok("/1c")) == 7, "a disabled subscription gets no new deliveries"

    # a call from the PBX (a real trace: 101, Anna, answers): ringing, answered, ended, in order, signed
    async with running.hub.database.sessions() as s, s.begin():
        calls = await queries.create_subscription(s, name="АТС", url=receiver.url("/calls"), created_by=None,
                                                  events=["call.ringing", "call.answered", "call.ended"])
    receiver.secrets["/calls"] = calls.secret
    running.hub.connectors["webhooks"].invalidate()
    await receiver.wait_for(lambda: running.hub.telephony.state == "connected" and pbx.listeners == 1, timeout=10)
    pbx.play()
    await receiver.wait_for(lambda: any(h.body["type"] == "call.ended" for h in receiver.ok("/calls")), timeout=15)
    got = [(h.body["type"], h.body["data"].get("extension") or h.body["data"]["agent"]["extension"])
           for h in receiver.ok("/calls")]
    assert got == [("call.ringing", "101"), ("call.answered", "101"), ("call.ended", "101")]
    ended = receiver.ok("/calls")[-1].body["data"]
    assert ended["outcome"] == "answered" and ended["caller"] == "+79161234567" and ended["call_id"]
    assert ended["agent"]["id"] == running.agency.users["anna"] and all(h.signed_ok for h in receiver.ok("/calls"))

