"""The agent's desk through a running hub: recordings played with Range requests within each person's reach,
the calls of an inquiry and a client with their recordings and transcripts, the calls list linking to them,
and the call card's actions (next action, property, transfer targets)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from crm_core.models import Call, Client, Contact, ContactKind, Inquiry, Property, Recording, Transcript
from crm_core.models.agency import PropertyLink
from crm_core.models.speech import SpeechWord
from telephony.card import PendingLinks
from tests.speech.conftest import ANSWERED
from tests.web.conftest import hub_sections, running  # noqa: F401 - fixtures

WORDS = [("agent", "Добрый", 0.2), ("agent", "день", 0.5), ("client", "квартира", 1.1), ("client", "свободна?", 1.6)]


async def seed(hub, agent_id: int, department_id: int, *, linkedid: str = "1795390910.0") -> dict[str, int]:  # noqa: ANN001
    """A client of the agent's with an open inquiry, its answered call with a recording and a transcript."""
    async with hub.database.sessions() as s, s.begin():
        client = Client(name="Иван Петров", owner_id=agent_id, department_id=department_id)
        s.add(client)
        await s.flush()
        s.add(Contact(client_id=client.id, kind=ContactKind.PHONE, value="+79161234567"))
        inquiry = Inquiry(client_id=client.id, channel="call", external_id=linkedid, subject="Входящий звонок",
                          status="in_work", owner_id=agent_id, department_id=department_id)
        s.add(inquiry)
        await s.flush()
        call = Call(uniqueid=linkedid, linkedid=linkedid, direction="inbound", caller="+79161234567",
                    agent_id=agent_id, client_id=client.id, inquiry_id=inquiry.id, outcome="answered",
                    started_at=datetime(2026, 12, 1, 9, tzinfo=UTC), talk_s=12.0)
        s.add(call)
        await s.flush()
        rec = Recording(call_id=call.id, path=str(ANSWERED))
        s.add(rec)
        await s.flush()
        tr = Transcript(recording_id=rec.id, status="done", text=" ".join(w for _, w, _ in WORDS))
        s.add(tr)
        await s.flush()
        for i, (speaker, word, at) in enumerate(WORDS):
            s.add(SpeechWord(transcript_id=tr.id, position=i, speaker=speaker, word=word, start_s=at, end_s=at + .3,
                             conf=.9))
        prop = Property(address="Тверская, 7, кв. 12", address_key="тверская, 7, кв. 12", agent_id=agent_id,
                        department_id=department_id)
        s.add(prop)
        await s.flush()
        return {"client": client.id, "inquiry": inquiry.id, "call": call.id, "recording": rec.id,
                "property": prop.id}


async def test_the_recording_plays_from_any_moment_and_only_for_those_who_may_hear_the_call(running):  # noqa: F811
    a = running.agency
    ids = await seed(running.hub, a.users["anna"], a.sales)
    url = f"/calls/{ids['call']}/recordings/{ids['recording']}"
    whole = ANSWERED.read_bytes()
    for login in ("anna", "boss"):  # the agent who took it, the head of their department
        who = await running.browser(login)
        async with who.http.get(who.base + url, headers={"Range": "bytes=100-199"}) as resp:
            assert resp.status == 206, login
            assert resp.headers["Content-Range"] == f"bytes 100-199/{len(whole)}"
            assert await resp.read() == whole[100:200]
        async with who.http.get(who.base + url, headers={"Range": f"bytes={len(whole) - 10}-"}) as resp:
            assert resp.status == 206 and await resp.read() == whole[-10:]
    for login in ("maria", "mgr", "spbagent"):  # another department's agent and manager, another division
        other = await running.browser(login)
        async with other.http.get(other.base + url, headers={"Range": "bytes=100-199"}) as resp:
            assert resp.status == 404, login
            assert whole[100:200] not in await resp.read()


async def test_an_inquiry_shows_its_calls_recordings_and_transcripts_within_reach(running):  # noqa: F811
    a = running.agency
    ids = await seed(running.hub, a.users["anna"], a.sales)
    anna = await running.browser("anna")
    resp, body = await anna.get(f"/inquiries/{ids['inquiry']}/calls.json")
    assert resp.status == 200
    data = json.loads(body)
    [call] = data["calls"]
    assert call["href"] == f"/calls/{ids['call']}/transcript"
    [rec] = call["recordings"]
    assert rec["src"] == f"/calls/{ids['call']}/recordings/{ids['recording']}"
    assert rec["transcript"]["status"] == "done"
    assert [(w["w"], w["t"], w["s"]) for w in rec["transcript"]["words"]] == [(w, t, s) for s, w, t in WORDS]
    assert data["phones"] == ["+79161234567"] and data["can_call"] is True
    assert data["texts"]["title"] == "Звонки и записи"
    _, page = await anna.get(f"/inquiries/{ids['inquiry']}")
    assert f'data-src="/inquiries/{ids["inquiry"]}/calls.json"' in page
    _, page = await anna.get(f"/clients/{ids['client']}")
    assert f'data-src="/clients/{ids["client"]}/calls.json"' in page
    resp, body = await anna.get(f"/clients/{ids['client']}/calls.json")
    assert resp.status == 200 and json.loads(body)["calls"][0]["recordings"][0]["id"] == ids["recording"]
    maria = await running.browser("maria")
    for path in (f"/inquiries/{ids['inquiry']}/calls.json", f"/clients/{ids['client']}/calls.json"):
        resp, body = await maria.get(path)
        assert resp.status == 404 and "+79161234567" not in body and "квартира" not in body


async def test_the_calls_list_links_each_recorded_call_and_searches_the_transcripts(running):  # noqa: F811
    a = running.agency
    ids = await seed(running.hub, a.users["anna"], a.sales)
    anna = await running.browser("anna")
    resp, page = await anna.get("/calls")
    assert resp.status == 200
    assert f'href="/calls/{ids["call"]}/transcript" class="recording-link"' in page
    assert 'action="/transcripts"' in page and "Поиск по расшифровкам" in page
    _, page = await anna.get(f"/calls/{ids['call']}/transcript")
    assert f'src="/calls/{ids["call"]}/recordings/{ids["recording"]}"' in page and ">квартира</span>" in page


async def test_the_card_sets_the_next_action_of_the_open_inquiry_for_its_owner_only(running):  # noqa: F811
    a = running.agency
    ids = await seed(running.hub, a.users["anna"], a.sales)
    anna = await running.browser("anna")
    await anna.get("/inbox")
    when = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT10:30")
    resp, body = await anna.post(f"/inquiries/{ids['inquiry']}/next-action",
                                 {"planned_action": "Показ квартиры", "planned_at": when},
                                 headers={"Accept": "application/json"})
    assert resp.status == 200, body
    answer = json.loads(body)
    assert answer["ok"] is True and answer["message"].startswith("Следующее действие: Показ квартиры, ")
    async with running.hub.database.sessions() as s:
        inquiry = await s.get(Inquiry, ids["inquiry"])
        assert inquiry.planned_action == "Показ квартиры" and inquiry.planned_at is not None
    resp, body = await anna.post(f"/inquiries/{ids['inquiry']}/next-action", {"planned_action": "Показ"})
    assert resp.status == 422 and json.loads(body)["message"] == "Укажите, что сделать, и когда"
    resp, _ = await anna.post(f"/inquiries/{ids['inquiry']}/next-action", {"planned_action": "x", "planned_at": when},
                              csrf=False)
    assert resp.status == 403  # no CSRF token
    oleg = await running.browser("oleg")
    await oleg.get("/inbox")
    resp, _ = await oleg.post(f"/inquiries/{ids['inquiry']}/next-action", {"planned_action": "x", "planned_at": when})
    assert resp.status == 404


async def test_a_property_linked_on_the_card_counts_for_the_call_now_or_once_it_is_stored(running):  # noqa: F811
    a = running.agency
    ids = await seed(running.hub, a.users["anna"], a.sales)
    anna = await running.browser("anna")
    await anna.get("/inbox")
    resp, body = await anna.post("/calls/live/1795390910.0/property", {"property_id": str(ids["property"])})
    assert resp.status == 200, body
    assert json.loads(body)["message"] == f"Объект №{ids['property']} привязан к звонку: Тверская, 7, кв. 12"
    resp, body = await anna.post("/calls/live/1795390910.0/property", {"property_id": str(ids["property"])})
    assert json.loads(body)["message"] == f"Объект №{ids['property']} уже привязан к этому звонку"
    # A call not stored and not the agent's (no PBX here): nothing to link to.
    resp, _ = await anna.post("/calls/live/nosuch.1/property", {"property_id": str(ids["property"])})
    assert resp.status == 404
    maria = await running.browser("maria")
    await maria.get("/inbox")
    resp, _ = await maria.post("/calls/live/1795390910.0/property", {"property_id": str(ids["property"])})
    assert resp.status == 404  # the property is out of her reach
    # Linked while the call goes on: it waits for the call's row, then counts.
    from crm_core.access import actor_for

    async with running.hub.database.sessions() as s:
        actor = await actor_for(s, a.users["anna"])
        prop = Property(address="Арбат, 1", address_key="арбат, 1", agent_id=a.users["anna"], department_id=a.sales)
        s.add(prop)
        await s.commit()
        second = prop.id
    links = PendingLinks(running.hub.database.sessions)
    assert links.add("1795390910.0", actor, second) and not links.add("1795390910.0", actor, second)
    await links.stored("1795390910.0", ids["call"])
    async with running.hub.database.sessions() as s:
        linked = set((await s.execute(select(PropertyLink.property_id).where(PropertyLink.call_id == ids["call"])))
                     .scalars())
    assert linked == {ids["property"], second} and links.waiting("1795390910.0") == []


async def test_the_card_knows_its_words_and_whom_a_call_can_go_to(running):  # noqa: F811
    anna = await running.browser("anna")
    resp, body = await anna.get("/calls/card.json")
    assert resp.status == 200
    data = json.loads(body)
    assert data["texts"]["transfer"] == "Перевести" and data["texts"]["call"] == "Позвонить"
    assert [x["extension"] for x in data["agents"]] == ["103", "102", "201"]  # by name: Maria, Oleg, Spbagent
    assert data["can_call"] is True and data["queues"] == []
    boss = await running.browser("boss")
    _, body = await boss.get("/calls/card.json")
    assert json.loads(body)["can_call"] is False
