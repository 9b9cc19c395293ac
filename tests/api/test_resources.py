"""The resources through /api/v1, as an integration sees them: the same reach and rules as the pages, cursor
paging, ETags with If-Match, Idempotency-Key, the intake, claim and assign, calls with Range and transcripts."""

from __future__ import annotations

import wave
from datetime import timedelta

from sqlalchemy import func, select

from crm_core.models import (
    Call,
    Client,
    Contact,
    Inquiry,
    InquiryStatus,
    Pool,
    Property,
    Recording,
    RoutingDecision,
    Task,
    Transcript,
    utcnow,
)
from crm_core.models.agency import Deal, FunnelStage
from crm_core.models.audit import AuditEntry
from crm_core.models.speech import SpeechWord
from tests.api.conftest import make_token

V1 = "/api/v1"


async def test_clients_create_list_page_etag_and_reach(running, bearer):
    rh = running
    http = (await rh.browser()).http
    root, anna = await make_token(rh, "root"), await make_token(rh, "anna")
    url = rh.base + V1 + "/clients"
    made = []
    for n in range(3):
        resp = await http.post(url, json={"name": f"Клиент {n}", "phones": [f"+7 916 000-00-0{n}"]},
                               headers=bearer(root))
        assert resp.status == 201, await resp.text()
        made.append((await resp.json())["id"])
        assert resp.headers["Location"] == f"{V1}/clients/{made[-1]}"
    resp = await http.post(url, json={"name": "Дубль", "phones": ["89160000000"]}, headers=bearer(root))
    assert resp.status == 409 and "phones.0" in (await resp.json())["detail"]
    resp = await http.post(url, json={"name": "Плохой", "phones": ["12"], "emails": ["no"]}, headers=bearer(root))
    assert resp.status == 400
    assert {e["field"] for e in (await resp.json())["errors"]} == {"phones.0", "emails.0"}
    resp = await http.post(url, json={"name": 5}, headers=bearer(root))
    assert resp.status == 400 and (await resp.json())["errors"][0]["field"] == "name"
    first = await (await http.get(url + "?limit=2", headers=bearer(root))).json()
    assert [c["id"] for c in first["items"]] == made[:0:-1] and first["next_cursor"]
    second = await (await http.get(f"{url}?limit=2&cursor={first['next_cursor']}", headers=bearer(root))).json()
    assert [c["id"] for c in second["items"]] == made[:1] and second["next_cursor"] is None
    found = await (await http.get(url + "?q=%2B79160000001", headers=bearer(root))).json()
    assert [c["id"] for c in found["items"]] == [made[1]]
    assert (await http.get(f"{url}/{made[0]}", headers=bearer(anna))).status == 404  # not hers
    assert (await (await http.get(url, headers=bearer(anna))).json())["items"] == []
    one = await http.get(f"{url}/{made[0]}", headers=bearer(root))
    tag = one.headers["ETag"]
    resp = await http.patch(f"{url}/{made[0]}", json={"name": "Новое имя"},
                            headers=bearer(root, **{"If-Match": '"stale"'}))
    assert resp.status == 412 and resp.content_type == "application/problem+json"
    resp = await http.patch(f"{url}/{made[0]}", json={"name": "Новое имя"}, headers=bearer(root, **{"If-Match": tag}))
    assert resp.status == 200 and (await resp.json())["name"] == "Новое имя" and resp.headers["ETag"] != tag
    resp = await http.patch(f"{url}/{made[0]}", json={"name": "Снова"}, headers=bearer(root, **{"If-Match": tag}))
    assert resp.status == 412
    resp = await http.post(f"{url}/{made[0]}/contacts", json={"kind": "email", "value": "A@Example.RU"},
                           headers=bearer(root))
    assert resp.status == 201
    assert [c["value"] for c in (await resp.json())["items"]] == ["+79160000000", "a@example.ru"]


async def test_inquiries_intake_idempotency_claim_status_and_assign(running, bearer):
    rh = running
    http = (await rh.browser()).http
    anna, oleg, boss = [await make_token(rh, who) for who in ("anna", "oleg", "boss")]
    url = rh.base + V1 + "/inquiries"
    lead = {"name": "Ирина", "phone": "+7 903 111-22-33", "text": "Хочу двушку у метро", "source": "Сайт",
            "utm": {"utm_source": "yandex"}}
    key = {"Idempotency-Key": "site-form-4711"}
    first = await http.post(url, json=lead, headers=bearer(anna, **key))
    assert first.status == 201, await first.text()
    again = await http.post(url, json=lead, headers=bearer(anna, **key))
    assert again.status == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert (await again.json()) == (await first.json())
    inquiry_id = (await first.json())["inquiry_id"]
    async with rh.hub.database.sessions() as s:
        assert (await s.execute(select(func.count()).select_from(Inquiry))).scalar() == 1
        stored = await s.get(Inquiry, inquiry_id)
        assert stored.source == "Сайт" and stored.utm == {"utm_source": "yandex"} and stored.channel == "webform"
    other = await http.post(url, json={**lead, "text": "другое"}, headers=bearer(anna, **key))
    assert other.status == 422
    resp = await http.post(url, json={"name": "Без контактов"}, headers=bearer(anna))
    assert resp.status == 400 and (await resp.json())["errors"][0]["field"] == "phone"
    async with rh.hub.database.sessions() as s, s.begin():
        client = Client(name="Пул")
        s.add(client)
        await s.flush()
        pooled = Inquiry(client_id=client.id, channel="email", external_id="m-1", pool=Pool.COMMON,
                         status=InquiryStatus.NEW)
        s.add(pooled)
        await s.flush()
        pooled_id = pooled.id
    listed = await (await http.get(url + "?box=common", headers=bearer(oleg))).json()
    assert pooled_id in [i["id"] for i in listed["items"]]
    resp = await http.post(f"{url}/{pooled_id}/claim", headers=bearer(anna))
    assert resp.status == 200 and (await resp.json())["owner_id"] == rh.agency.users["anna"]
    assert (await http.post(f"{url}/{pooled_id}/claim", headers=bearer(boss))).status == 409
    tag = (await http.get(f"{url}/{pooled_id}", headers=bearer(anna))).headers["ETag"]
    planned = (utcnow() + timedelta(days=1)).isoformat()
    resp = await http.patch(f"{url}/{pooled_id}", json={"planned_action": "Перезвонить", "planned_at": planned},
                            headers=bearer(anna, **{"If-Match": tag}))
    assert resp.status == 200 and (await resp.json())["planned_action"] == "Перезвонить"
    resp = await http.patch(f"{url}/{pooled_id}", json={"planned_at": (utcnow() + timedelta(days=30)).isoformat()},
                            headers=bearer(anna))
    assert resp.status == 400 and (await resp.json())["errors"][0]["field"] == "planned_at"
    assert (await http.post(f"{url}/{pooled_id}/assign", json={"user_id": rh.agency.users["oleg"]},
                            headers=bearer(anna))).status == 403
    resp = await http.post(f"{url}/{pooled_id}/assign", json={"user_id": rh.agency.users["oleg"]},
                           headers=bearer(boss))
    assert resp.status == 200 and (await resp.json())["owner_id"] == rh.agency.users["oleg"]
    assert (await http.get(f"{url}/{pooled_id}", headers=bearer(anna))).status == 404  # oleg's now
    resp = await http.patch(f"{url}/{pooled_id}", json={"status": "done"}, headers=bearer(oleg))
    assert resp.status == 200 and (await resp.json())["status"] == "done"
    async with rh.hub.database.sessions() as s:
        actions = [(e.action, e.details.get("token")) for e in
                   (await s.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars()
                   if e.action.startswith("api.")]
    assert ("api.assign", "boss integration") in actions and ("api.claim", "anna integration") in actions


async def test_calls_reach_range_and_transcript_and_status(running, bearer, tmp_path):
    rh = running
    http = (await rh.browser()).http
    anna, oleg, boss = [await make_token(rh, who) for who in ("anna", "oleg", "boss")]
    audio = tmp_path / "call.wav"
    with wave.open(str(audio), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000), w.writeframes(b"\x01\x02" * 8000)
    now = utcnow()
    async with rh.hub.database.sessions() as s, s.begin():
        call = Call(uniqueid="1700000000.1", direction="inbound", caller="+79031112233",
                    agent_id=rh.agency.users["anna"], started_at=now - timedelta(minutes=5), ended_at=now,
                    talk_s=60.0, outcome="answered")
        s.add(call)
        await s.flush()
        rec = Recording(call_id=call.id, path=str(audio), duration_s=1.0)
        s.add(rec)
        await s.flush()
        tr = Transcript(recording_id=rec.id, status="done", text="добрый день")
        s.add(tr)
        await s.flush()
        s.add_all([SpeechWord(transcript_id=tr.id, position=i, speaker="agent", word=w, start_s=i * 0.5,
                              end_s=i * 0.5 + 0.4, conf=0.9) for i, w in enumerate(("добрый", "день"))])
        call_id, rec_id = call.id, rec.id
    url = rh.base + V1 + "/calls"
    day = f"?started_from={(now - timedelta(hours=1)).isoformat()}".replace("+", "%2B")
    mine = await (await http.get(url + day, headers=bearer(anna))).json()
    assert [c["id"] for c in mine["items"]] == [call_id]
    assert mine["items"][0]["recordings"][0]["href"] == f"{V1}/calls/{call_id}/recordings/{rec_id}"
    assert (await (await http.get(url, headers=bearer(oleg))).json())["items"] == []
    assert (await http.get(f"{url}/{call_id}", headers=bearer(oleg))).status == 404
    assert [c["id"] for c in (await (await http.get(url, headers=bearer(boss))).json())["items"]] == [call_id]
    part = await http.get(f"{url}/{call_id}/recordings/{rec_id}", headers=bearer(anna, Range="bytes=0-9"))
    assert part.status == 206 and await part.read() == audio.read_bytes()[:10]
    assert part.headers["Content-Type"] == "audio/wav"
    assert (await http.get(f"{url}/{call_id}/recordings/{rec_id}", headers=bearer(oleg))).status == 404
    tr = await (await http.get(f"{url}/{call_id}/transcript", headers=bearer(anna))).json()
    assert [w["word"] for w in tr["items"][0]["words"]] == ["добрый", "день"]
    users = rh.base + V1 + "/users"
    resp = await http.put(f"{users}/{rh.agency.users['anna']}/status", json={"status": "break", "reason": "lunch"},
                          headers=bearer(anna))
    assert resp.status == 200 and (await resp.json())["status"] == "break"
    assert (await http.put(f"{users}/{rh.agency.users['oleg']}/status", json={"status": "break"},
                           headers=bearer(anna))).status == 404
    resp = await http.put(f"{users}/{rh.agency.users['oleg']}/status", json={"status": "available"},
                          headers=bearer(boss))
    assert resp.status == 200 and (await resp.json())["status"] == "available"
    assert {u["login"] for u in (await (await http.get(users, headers=bearer(anna))).json())["items"]} == {"anna"}


async def test_tasks_deals_decisions_and_click_to_call(running, bearer):
    rh = running
    http = (await rh.browser()).http
    anna, oleg, boss = [await make_token(rh, who) for who in ("anna", "oleg", "boss")]
    users = rh.agency.users
    async with rh.hub.database.sessions() as s, s.begin():
        client = Client(name="Сделка", owner_id=users["anna"], department_id=rh.agency.sales)
        s.add(client)
        await s.flush()
        s.add(Contact(client_id=client.id, kind="phone", value="+79035550011"))
        inquiry = Inquiry(client_id=client.id, channel="call", external_id="c-1", owner_id=users["anna"],
                          department_id=rh.agency.sales, status=InquiryStatus.IN_WORK)
        shown, signed = FunnelStage(list_key=0, name="Показ", position=1), FunnelStage(list_key=0, name="Договор",
                                                                                      position=2, positive=True)
        s.add_all([inquiry, shown, signed])
        await s.flush()
        deal = Deal(inquiry_id=inquiry.id, client_id=client.id, department_id=rh.agency.sales,
                    agent_id=users["anna"], stage_id=shown.id)
        s.add(Property(address="Тверская, 1", deal_type="sale", price=12500000, agent_id=users["anna"],
                       department_id=rh.agency.sales))
        s.add_all([deal, Task(kind="callback", assignee_id=users["anna"], client_id=client.id, phone="+79035550011"),
                   RoutingDecision(inquiry_id=inquiry.id, agent_id=users["anna"], rule="Продажи",
                                   strategy="least_busy", explanation={"eligible": [users["anna"]]})])
        await s.flush()
        ids = {"deal": deal.id, "inquiry": inquiry.id, "client": client.id, "signed": signed.id}
    v1 = rh.base + V1
    tasks = await (await http.get(v1 + "/tasks?kind=callback", headers=bearer(anna))).json()
    assert [t["phone"] for t in tasks["items"]] == ["+79035550011"]
    assert (await (await http.get(v1 + "/tasks", headers=bearer(oleg))).json())["items"] == []
    deals = await (await http.get(v1 + "/deals", headers=bearer(anna))).json()
    assert [d["id"] for d in deals["items"]] == [ids["deal"]]
    assert (await http.get(f"{v1}/deals/{ids['deal']}", headers=bearer(oleg))).status == 404
    stages = await (await http.get(f"{v1}/deals/{ids['deal']}/stages", headers=bearer(anna))).json()
    assert [st["name"] for st in stages["items"]] == ["Показ", "Договор"]
    resp = await http.put(f"{v1}/deals/{ids['deal']}/stage", json={"stage_id": ids["signed"], "note": "подписан"},
                          headers=bearer(anna))
    assert resp.status == 200 and (await resp.json())["stage_id"] == ids["signed"]
    resp = await http.put(f"{v1}/deals/{ids['deal']}/stage", json={"stage_id": 999999}, headers=bearer(anna))
    assert resp.status == 422
    props = await (await http.get(v1 + "/properties?deal_type=sale", headers=bearer(anna))).json()
    assert [(p["address"], p["price"]) for p in props["items"]] == [("Тверская, 1", 12500000.0)]
    assert (await (await http.get(v1 + "/properties?deal_type=rent", headers=bearer(anna))).json())["items"] == []
    why = await (await http.get(f"{v1}/inquiries/{ids['inquiry']}/decisions", headers=bearer(boss))).json()
    assert why["items"][0]["rule"] == "Продажи" and why["items"][0]["agent_id"] == users["anna"]
    funnel = await http.get(v1 + "/reports/funnel?group=agent", headers=bearer(boss))
    body = await funnel.json()
    assert funnel.status == 200 and body["columns"][0]["key"] and body["date_to"] >= body["date_from"]
    assert "Anna" in [row[1] for row in body["rows"]] or "Anna" in str(body["rows"])
    resp = await http.get(v1 + "/reports/kpi?date_from=2026-12-10&date_to=2026-12-01", headers=bearer(boss))
    assert resp.status == 400 and (await resp.json())["errors"][0]["field"] == "query.date_to"
    call = {"phone": "8 903 555-00-11", "client_id": ids["client"]}
    resp = await http.post(v1 + "/calls/originate", json=call, headers=bearer(anna))
    assert resp.status == 503 and "PBX" in (await resp.json())["detail"]  # no PBX in this hub
    resp = await http.post(v1 + "/calls/originate", json={**call, "phone": "+79990000000"}, headers=bearer(anna))
    assert resp.status == 404  # not a number of this client
    assert (await http.post(v1 + "/calls/originate", json=call, headers=bearer(oleg))).status == 404
