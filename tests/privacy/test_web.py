"""In a running hub on both databases: hidden numbers for a masked role with click-to-call still working, the
access log's entry for each kind of access and its search page, a client's export and erasure from the card."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy import select

from crm_core.models import Call, Client, Contact, Recording, Role, Transcript, User, utcnow
from crm_core.models.privacy import AccessLogEntry, ClientConsent, Erasure
from privacy.wiring import jobs_of, service_of
from telephony.call_log import Agent
from tests.web.conftest import _password_hash, running  # noqa: F401 - the running hub fixture

NUMBER, MASKED = "+79161234567", "+7 916 ***-**-67"


@pytest.fixture
def hub_sections(tmp_path) -> dict:  # noqa: ANN001
    (tmp_path / "rec").mkdir()
    return {"privacy": {"masked_roles": ["agent"], "access_flush_s": 0.05},
            "asterisk": {"recordings_dir": str(tmp_path / "rec")}}


@dataclass
class FakePbx:
    """Stands in for the telephony service: what the hub asked it to dial."""

    dialled: list[str] = field(default_factory=list)
    recordings_dir: str | None = None

    async def originate(self, extension: str, number: str, **_kw: object):  # noqa: ANN201
        self.dialled.append(number)
        return type("R", (), {"ok": True, "message": "queued"})()


async def _client(running, tmp_path) -> tuple[int, int, int, int]:  # noqa: ANN001, F811
    anna = running.agency.users["anna"]
    async with running.hub.database.sessions() as s, s.begin():
        c = Client(name="Семён Клиентов", owner_id=anna, department_id=running.agency.sales)
        s.add(c)
        await s.flush()
        contact = Contact(client_id=c.id, kind="phone", value=NUMBER)
        s.add(contact)
        call = Call(uniqueid="p-1", direction="inbound", caller=NUMBER, client_id=c.id, agent_id=anna)
        s.add(call)
        await s.flush()
        (tmp_path / "rec" / "p.wav").write_bytes(b"RIFF-audio")
        rec = Recording(call_id=call.id, path="p.wav")
        s.add(rec)
        await s.flush()
        s.add(Transcript(recording_id=rec.id, status="done", text="здравствуйте"))
        s.add(User(login="dpo", password_hash=_password_hash(), full_name="Ответственный", role=Role.DPO))
        return c.id, contact.id, call.id, rec.id


async def _log(running) -> list[tuple]:  # noqa: ANN001, F811
    await service_of(running.hub).access.flush()
    async with running.hub.database.sessions() as s:
        return list((await s.execute(select(AccessLogEntry.user_id, AccessLogEntry.kind, AccessLogEntry.client_id)
                                     .order_by(AccessLogEntry.id))).all())


async def test_an_agent_sees_masked_numbers_and_still_calls_the_client(running, tmp_path):  # noqa: F811, ANN001
    client_id, contact_id, _, _ = await _client(running, tmp_path)
    pbx = FakePbx()
    running.hub.telephony = pbx
    anna = await running.browser("anna")
    _, card = await anna.get(f"/clients/{client_id}")
    assert MASKED in card and NUMBER not in card, "the card shows the number masked, nowhere in full"
    assert f'name="contact_id" value="{contact_id}"' in card
    _, found = await anna.get("/clients?q=Семён")
    assert NUMBER not in found
    async with running.hub.database.sessions() as s, s.begin():  # a missed call today, in anna's reach
        s.add(Call(uniqueid="p-missed", direction="inbound", caller=NUMBER, agent_id=running.agency.users["anna"],
                   outcome="abandoned", started_at=utcnow() - timedelta(minutes=30)))
    resp, csv_text = await anna.get("/reports/missed.csv")
    assert resp.status == 200 and MASKED in csv_text and NUMBER not in csv_text, "the report's export masks it"
    _, calls = await anna.get("/calls")
    assert MASKED in calls and NUMBER not in calls, "the calls page masks the caller too"
    resp, _ = await anna.get(f"/clients/{client_id}/calls.json")
    assert NUMBER not in await resp.text()
    privacy = service_of(running.hub)
    await privacy._read_roles()
    agents = running.agency.users
    assert privacy.shown_number(Agent(agents["anna"], "101", "Anna", "ru", None), NUMBER) == MASKED, "the pop-up"
    assert privacy.shown_number(Agent(agents["root"], "100", "Root", "ru", None), NUMBER) == NUMBER
    resp, _ = await anna.post("/calls/originate", {"client_id": str(client_id), "contact_id": str(contact_id)})
    assert resp.status == 200 and (await resp.json())["ok"] and pbx.dialled == [NUMBER], "the hub dials it"
    root = await running.browser("root")
    _, card = await root.get(f"/clients/{client_id}")
    assert NUMBER in card, "the administrator sees the number"
    # a web form's consent box is the client's consent, with the form as its source
    async with aiohttp.ClientSession() as http:
        resp = await http.post(running.base + "/forms/site", data={
            "name": "Лида", "phone": "+79035550011", "message": "Квартира", "consent_marketing": "on",
            "page_url": "https://site.ru/kontakty"})
        assert resp.status == 201
    async with running.hub.database.sessions() as s:
        row = (await s.execute(select(ClientConsent.purpose, ClientConsent.source, ClientConsent.source_ref)
                                .join(Contact, Contact.client_id == ClientConsent.client_id)
                                .where(Contact.value == "+79035550011"))).one()
    assert tuple(row) == ("marketing", "webform", "https://site.ru/kontakty")


async def test_every_kind_of_access_is_logged_and_found_on_the_admin_page(running, tmp_path):  # noqa: F811, ANN001
    client_id, _, call_id, rec_id = await _client(running, tmp_path)
    root_id = running.agency.users["root"]
    root = await running.browser("root")
    assert (await root.get(f"/clients/{client_id}"))[0].status == 200
    assert (await root.get(f"/calls/{call_id}/transcript"))[0].status == 200
    resp, _ = await root.get(f"/calls/{call_id}/recordings/{rec_id}")
    assert resp.status == 200
    resp, _ = await root.get(f"/calls/{call_id}/recordings/{rec_id}?download=1")
    assert resp.status == 200
    assert (await root.get("/reports/funnel.csv"))[0].status == 200
    entries = await _log(running)
    assert (root_id, "card", client_id) in entries and (root_id, "transcript", client_id) in entries
    assert (root_id, "recording_play", client_id) in entries and (root_id, "recording_download", client_id) in entries
    assert (root_id, "export", None) in entries
    _, page = await root.get(f"/privacy/access?client_id={client_id}")
    assert "карточка клиента" in page and "прослушана запись" in page and "открыта расшифровка" in page
    anna = await running.browser("anna")
    assert (await anna.get("/privacy/access"))[0].status == 403, "the log is for admins and the DPO"


    # unusual reading: one user opening far more cards in an hour than usual is reported to the admins
    access = service_of(running.hub).access
    for n in range(60):
        access.note(running.agency.users["oleg"], "card", client_id=client_id, ref=f"client:{n}")
    await access.flush()
    found = await jobs_of(running.hub).check_unusual()
    assert [u for u, _, _ in found] == [running.agency.users["oleg"]]
    _, page = await root.get("/notices")
    assert "Необычно много просмотров" in page


async def test_the_dpo_exports_and_erases_a_client_from_the_card(running, tmp_path):  # noqa: F811, ANN001
    client_id, *_ = await _client(running, tmp_path)
    anna = await running.browser("anna")
    resp, _ = await anna.post(f"/clients/{client_id}/consent", {"marketing": "yes", "note": "по телефону"})
    assert resp.status == 303
    _, page = await anna.get(f"/clients/{client_id}/privacy")
    assert "со слов клиента" in page and 'id="erase-form"' not in page, "an agent records consent, no more"
    assert (await anna.post(f"/clients/{client_id}/privacy/erase", {"reason": "x"}))[0].status == 403
    dpo = await running.browser("dpo")
    for page in ("/inbox", "/clients", "/privacy", f"/clients/{client_id}"):
        assert (await dpo.get(page))[0].status == 200, f"the DPO reads {page}"
    _, page = await dpo.get(f"/clients/{client_id}/privacy")
    assert 'id="erase-form"' in page and 'id="export-form"' in page
    resp, _ = await dpo.post(f"/clients/{client_id}/privacy/export", headers={"Accept": "application/json"})
    status_url = (await resp.json())["status"]
    for _ in range(100):
        job = await (await dpo.http.get(dpo.base + status_url)).json()
        if job["state"] != "running":
            break
        await asyncio.sleep(0.05)
    assert job["state"] == "ready" and "скачать" in job["text"]
    resp = await dpo.http.get(dpo.base + job["url"])
    with zipfile.ZipFile(io.BytesIO(await resp.read())) as zf:
        data = json.loads(zf.read("data.json"))
        assert any(n.startswith("recordings/") for n in zf.namelist())
    assert data["client"][0]["name"] == "Семён Клиентов" and data["consents"][0]["purpose"] == "marketing"
    resp, _ = await dpo.post(f"/clients/{client_id}/privacy/erase", {"reason": "заявление от 01.06"})
    assert resp.status == 303 and "erased" in resp.headers["Location"]
    async with running.hub.database.sessions() as s:
        erasure = (await s.execute(select(Erasure))).scalar_one()
        assert erasure.reason == "заявление от 01.06" and erasure.actor_id is not None
        assert (await s.get(Client, client_id)).name != "Семён Клиентов"
        assert (await s.execute(select(ClientConsent.source))).scalars().all() == ["agent"]
    assert not (tmp_path / "rec" / "p.wav").exists()
    kinds = {k for _, k, c in await _log(running) if c == client_id}
    assert {"client_export", "erasure"} <= kinds
