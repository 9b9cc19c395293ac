"""Through /api/v1 with numbers hidden from agents (privacy): an agent's token sees clients' numbers masked in
clients, contacts, calls and tasks and still dials by the contact's id; consents read and recorded; an
inquiry refused and answered through its channel; a live call transferred. The administrator sees numbers whole."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select, update

from crm_core.intake import IntakeRequest
from crm_core.models import Call, Channel, Client, Contact, Inquiry, InquiryEvent, Message, Task
from crm_core.models.privacy import ClientConsent
from tests.api.conftest import make_token
from tests.web.test_email_replies import mailbox  # noqa: F401 - the SMTP server fixture

V1 = "/api/v1"
NUMBER, MASKED = "+79161234567", "+7 916 ***-**-67"


@pytest.fixture
def hub_sections(mailbox) -> dict:  # noqa: ANN001, F811 - a real SMTP server receives the replies
    return {"privacy": {"masked_roles": ["agent"]},
            "email": {"enabled": True, "smtp_port": mailbox.port, "from_address": "sales@agency.ru",
                      "retry_delays_s": [0.2, 0.2], "smtp_timeout_s": 2},
            "routing": {"enabled": False}}  # each inquiry gets its owner by hand


@dataclass
class LiveCall:
    linkedid: str


@dataclass
class FakePbx:
    """Stands in for the telephony service: what the hub asked the PBX to do."""

    dialled: list[tuple[str, str]] = field(default_factory=list)
    transfers: list[tuple[str, str]] = field(default_factory=list)
    live: dict[str, LiveCall] = field(default_factory=dict)
    queues: tuple[str, ...] = ("sales",)

    async def originate(self, extension: str, number: str, **_kw: object):  # noqa: ANN201
        self.dialled.append((extension, number))
        return type("R", (), {"ok": True, "message": "queued"})()

    def call_of_agent(self, extension: str) -> LiveCall | None:
        return self.live.get(extension)

    async def transfer(self, linkedid: str, extension: str):  # noqa: ANN201
        self.transfers.append((linkedid, extension))
        return type("R", (), {"ok": True, "message": "sent"})()


async def _anna_client(rh) -> dict[str, int]:  # noqa: ANN001
    """A client of Anna's from a site's form (phone and email), with her open inquiry, a call and a callback."""
    a = rh.agency
    made = await rh.hub.intake.accept(IntakeRequest(channel=Channel.WEBFORM, external_id="privacy-api-1",
                                                    name="Семён Клиентов", phone=NUMBER, email="semen@example.ru",
                                                    text="Квартира у метро"))
    anna = a.users["anna"]
    async with rh.hub.database.sessions() as s, s.begin():
        await s.execute(update(Client).where(Client.id == made.client_id).values(owner_id=anna,
                                                                                  department_id=a.sales))
        await s.execute(update(Inquiry).where(Inquiry.id == made.inquiry_id).values(
            owner_id=anna, department_id=a.sales, status="new", pool="none"))
        phone = (await s.execute(select(Contact.id).where(Contact.client_id == made.client_id,
                                                          Contact.kind == "phone"))).scalar_one()
        call = Call(uniqueid="api-p-1", direction="inbound", caller=NUMBER, callee="101", client_id=made.client_id,
                    agent_id=anna)
        s.add(call)
        s.add(Task(kind="callback", client_id=made.client_id, assignee_id=anna, department_id=a.sales,
                   phone=NUMBER))
        await s.flush()
        return {"client": made.client_id, "inquiry": made.inquiry_id, "contact": phone, "call": call.id}


async def test_an_agent_token_sees_numbers_masked_and_still_dials_by_contact_id(running, bearer):  # noqa: ANN001
    rh = running
    ids = await _anna_client(rh)
    pbx = FakePbx()
    rh.hub.telephony = pbx
    http = (await rh.browser()).http
    anna, root = await make_token(rh, "anna"), await make_token(rh, "root")
    reads = [f"{V1}/clients/{ids['client']}", f"{V1}/clients/{ids['client']}/contacts", f"{V1}/clients",
             f"{V1}/calls", f"{V1}/calls/{ids['call']}", f"{V1}/tasks", f"/api/clients/{ids['client']}"]
    for path in reads:
        resp = await http.get(rh.base + path, headers=bearer(anna))
        text = await resp.text()
        assert resp.status == 200, (path, text)
        assert MASKED in text and NUMBER not in text and "9161234567" not in text, path
    card = await (await http.get(f"{rh.base}{V1}/clients/{ids['client']}", headers=bearer(anna))).json()
    assert {(c["kind"], c["value"]) for c in card["contacts"]} == {("phone", MASKED), ("email", "semen@example.ru")}
    call = await (await http.get(f"{rh.base}{V1}/calls/{ids['call']}", headers=bearer(anna))).json()
    assert (call["caller"], call["callee"]) == (MASKED, "101")  # the agent's own extension is not the client's
    whole = await (await http.get(f"{rh.base}{V1}/clients/{ids['client']}", headers=bearer(root))).text()
    assert NUMBER in whole and MASKED not in whole, "the administrator sees the number whole"

    resp = await http.post(f"{rh.base}{V1}/calls/originate", json={"contact_id": ids["contact"]},
                           headers=bearer(anna))
    assert resp.status == 200, await resp.text()
    assert await resp.json() == {"ok": True, "message": "queued"}
    assert pbx.dialled == [("101", NUMBER)], "the hub dialled the real number from Anna's extension"
    oleg = await make_token(rh, "oleg")
    resp = await http.post(f"{rh.base}{V1}/calls/originate", json={"contact_id": ids["contact"]},
                           headers=bearer(oleg))
    assert resp.status == 404 and NUMBER not in await resp.text()  # not his client: nothing dialled, nothing told
    resp = await http.post(f"{rh.base}{V1}/calls/originate", json={"client_id": ids["client"]}, headers=bearer(anna))
    assert resp.status == 400 and (await resp.json())["errors"][0]["field"] == "contact_id"
    assert len(pbx.dialled) == 1
    resp = await http.get(f"{rh.base}{V1}/clients?kind=person&kind=company", headers=bearer(anna))
    assert resp.status == 400 and (await resp.json())["errors"][0]["field"] == "query.kind"  # one value a parameter


async def test_consents_are_read_and_recorded_through_the_api(running, bearer):  # noqa: ANN001
    rh = running
    ids = await _anna_client(rh)
    http = (await rh.browser()).http
    anna = await make_token(rh, "anna", name="Сайт агентства")
    url = f"{rh.base}{V1}/clients/{ids['client']}/consents"
    empty = await (await http.get(url, headers=bearer(anna))).json()
    assert empty == {"client_id": ids["client"], "current": [], "history": []}
    resp = await http.post(url, json={"processing": True, "marketing": True, "source_ref": "https://site.example/form"},
                           headers=bearer(anna))
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["recorded"] == 2
    assert {(c["purpose"], c["granted"], c["source"]) for c in body["current"]} == {
        ("processing", True, "api"), ("marketing", True, "api")}
    again = await (await http.post(url, json={"marketing": True, "recording": False}, headers=bearer(anna))).json()
    assert again["recorded"] == 1, "repeating the current word stores nothing; the new purpose is stored"
    withdrawn = await (await http.post(url, json={"marketing": False, "note": "по телефону"},
                                       headers=bearer(anna))).json()
    assert {c["purpose"]: c["granted"] for c in withdrawn["current"]} == {
        "processing": True, "recording": False, "marketing": False}
    assert withdrawn["history"][0]["note"] == "по телефону"
    async with rh.hub.database.sessions() as s:
        rows = (await s.execute(select(ClientConsent.source, ClientConsent.actor_id)
                                .where(ClientConsent.client_id == ids["client"]))).all()
    assert len(rows) == 4 and {r.source for r in rows} == {"api"} and {r.actor_id for r in rows} == {
        rh.agency.users["anna"]}
    maria = await make_token(rh, "maria")
    assert (await http.get(url, headers=bearer(maria))).status == 404  # another department's client
    assert (await http.post(url, json={"marketing": True}, headers=bearer(maria))).status == 404
    resp = await http.post(url, json={"marketing": "yes"}, headers=bearer(anna))
    assert resp.status == 400 and (await resp.json())["errors"][0]["field"] == "marketing"


async def test_an_inquiry_is_answered_through_its_channel_and_refused(running, bearer, mailbox):  # noqa: ANN001, F811
    rh = running
    ids = await _anna_client(rh)
    http = (await rh.browser()).http
    anna, oleg = await make_token(rh, "anna"), await make_token(rh, "oleg")
    url = f"{rh.base}{V1}/inquiries/{ids['inquiry']}"
    resp = await http.post(url + "/reply", json={"text": "Здравствуйте! Перезвоню в 15:00."}, headers=bearer(anna))
    assert resp.status == 202, await resp.text()
    queued = await resp.json()
    assert (queued["channel"], queued["to"]) == ("email", "semen@example.ru")
    async with rh.hub.database.sessions() as s:
        m = await s.get(Message, queued["message_id"])
    assert (m.inquiry_id, m.direction, m.body) == (ids["inquiry"], "out", "Здравствуйте! Перезвоню в 15:00.")
    for _ in range(100):  # the outbox sends it within moments
        if mailbox.received:
            break
        await asyncio.sleep(0.05)
    [sent] = mailbox.received
    assert sent["To"] == "semen@example.ru" and "Перезвоню в 15:00" in sent.get_body().get_content()
    resp = await http.post(url + "/reply", json={"text": "Привет", "channel": "telegram"}, headers=bearer(anna))
    assert resp.status == 422 and "telegram" in (await resp.json())["detail"].lower()  # no Telegram for this client
    resp = await http.post(url + "/reply", json={"text": "   "}, headers=bearer(anna))
    assert resp.status == 422
    assert (await http.post(url + "/reply", json={"text": "Чужое"}, headers=bearer(oleg))).status in (403, 404)

    assert (await http.post(url + "/refuse", headers=bearer(oleg))).status in (404, 409)  # not his
    resp = await http.post(url + "/refuse", headers=bearer(anna))
    assert resp.status == 200, await resp.text()
    assert (await resp.json()) == {"inquiry_id": ids["inquiry"], "archived": False}
    async with rh.hub.database.sessions() as s:
        i = await s.get(Inquiry, ids["inquiry"])
        kinds = (await s.execute(select(InquiryEvent.kind).where(InquiryEvent.inquiry_id == i.id))).scalars().all()
    assert i.owner_id != rh.agency.users["anna"] and i.refusals == 1 and "refused" in kinds
    assert (await http.post(url + "/refuse", headers=bearer(anna))).status in (404, 409)  # no longer hers


async def test_a_live_call_is_transferred_through_the_api(running, bearer):  # noqa: ANN001
    rh = running
    http = (await rh.browser()).http
    anna = await make_token(rh, "anna")
    url = f"{rh.base}{V1}/calls/transfer"
    resp = await http.post(url, json={"extension": "102"}, headers=bearer(anna))
    assert resp.status == 409 and "no PBX" in (await resp.json())["detail"]
    pbx = FakePbx()
    rh.hub.telephony = pbx
    resp = await http.post(url, json={"extension": "102"}, headers=bearer(anna))
    assert resp.status == 409 and pbx.transfers == []  # Anna has no call going on
    pbx.live["101"] = LiveCall("17966.1")
    assert (await http.post(url, json={"extension": "102"}, headers=bearer(anna))).status == 200
    assert (await http.post(url, json={"queue": "sales"}, headers=bearer(anna))).status == 200
    assert pbx.transfers == [("17966.1", "102"), ("17966.1", "sales")]
    for bad in ({"extension": "10a"}, {"queue": "nowhere"}, {}, {"extension": "102", "queue": "sales"}):
        assert (await http.post(url, json=bad, headers=bearer(anna))).status == 400, bad
    assert len(pbx.transfers) == 2
