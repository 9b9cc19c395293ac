"""Quality control: the queue fills by the weekly sampling rule and from speech analytics flags, supervisors review
with the administrator's checklist, the score reaches the KPI report, a re-opened inquiry goes back to routing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from crm_core.models import (
    Call,
    Channel,
    Client,
    Inquiry,
    InquiryEvent,
    InquiryStatus,
    Recording,
    Role,
    RoutingDecision,
    TimelineEntry,
    Transcript,
    utcnow,
)
from crm_core.models.speech import SpeechFlag
from crm_core.models.workflow import QcItem
from tests.workflow.conftest import add_user
from workflow.quality import agent_scores, parse_items, score_of


def test_a_checklist_is_weight_and_text_a_line_and_scores_by_weight():
    items = parse_items("2 | Поздоровался и представился\nУточнил бюджет\n1,5 | Договорился о показе\n")
    assert [(i["key"], i["weight"]) for i in items] == [("1", 2.0), ("2", 1.0), ("3", 1.5)]
    assert score_of(items, {"1", "3"}) == 3.5 / 4.5


async def _world(running) -> dict:  # noqa: ANN001
    """Anna (sales) closed four inquiries and answered two calls this week; Maria (rent) had one call, flagged."""
    users, now = running.agency.users, utcnow()
    ids: dict = {"inquiries": [], "calls": []}
    async with running.hub.database.sessions() as s, s.begin():
        client = Client(name="Клиент Проверки")
        s.add(client)
        await s.flush()
        ids["client"] = client.id
        for n in range(4):
            inquiry = Inquiry(client_id=client.id, channel=Channel.MANUAL, external_id=f"qc-{n}", subject=f"Сделка {n}",
                              status=InquiryStatus.DONE, owner_id=users["anna"], department_id=running.agency.sales,
                              closed_at=now - timedelta(minutes=n), accepted_at=now - timedelta(hours=1))
            s.add(inquiry)
            await s.flush()
            ids["inquiries"].append(inquiry.id)
        for n, agent in enumerate(("anna", "anna", "maria")):
            call = Call(uniqueid=f"u-{n}", linkedid=f"l-{n}", direction="inbound", caller="+79160000000",
                        agent_id=users[agent], client_id=client.id, started_at=now - timedelta(minutes=5),
                        answered_at=now - timedelta(minutes=4), ended_at=now, talk_s=240, outcome="answered")
            s.add(call)
            await s.flush()
            ids["calls"].append(call.id)
        recording = Recording(call_id=ids["calls"][2], path="x.wav")
        s.add(recording)
        await s.flush()
        transcript = Transcript(recording_id=recording.id, status="done", text="вы мне надоели")
        s.add(transcript)
        await s.flush()
        s.add(SpeechFlag(transcript_id=transcript.id, call_id=ids["calls"][2], category="rudeness",
                         phrase="надоели", heard="надоели", at_s=3.0, speaker="agent"))
    return ids


async def _items(running) -> list[QcItem]:  # noqa: ANN001
    async with running.hub.database.sessions() as s:
        return list((await s.execute(select(QcItem).order_by(QcItem.id))).scalars())


async def test_the_queue_reviews_scores_and_reopening(running):
    ids = await _world(running)
    users = running.agency.users
    root = await running.browser("root")
    await root.get("/quality/checklists")
    resp, _ = await root.post("/quality/checklists", {
        "name": "Входящий звонок", "items": "2 | Поздоровался и представился\n1 | Уточнил бюджет\n1 | Назначил показ"})
    assert resp.status == 303
    resp, page = await root.post("/quality/checklists", {"name": "Плохой", "items": "два | текст"})
    assert resp.status == 422 and "weight is not a number" in page
    resp, _ = await root.post("/quality/rule", {"percent": "50", "inquiries": "1", "calls": "1",
                                                 "speech_flags": "1"})
    assert resp.status == 303

    resp, _ = await root.post("/quality/sample")
    assert resp.headers["Location"] == "/quality?sampled=4"
    items = await _items(running)
    by_kind = {(i.kind, i.agent_id, i.reason) for i in items}
    assert sum(1 for i in items if i.kind == "inquiry") == 2, "half of Anna's four closed inquiries"
    assert ("call", users["anna"], "sample") in by_kind
    [flagged] = [i for i in items if i.call_id == ids["calls"][2]]
    assert (flagged.reason, flagged.note) == ("speech", "rudeness"), "the flagged call, once"
    resp, _ = await root.post("/quality/sample")
    assert resp.headers["Location"] == "/quality?sampled=0", "sampling again adds nothing"

    boss = await running.browser("boss")  # head of sales: Anna's supervisor
    _, page = await boss.get("/quality")
    inquiry_item = next(i for i in items if i.kind == "inquiry")
    assert f'data-item="{inquiry_item.id}"' in page and f'data-item="{flagged.id}"' not in page
    mgr = await running.browser("mgr")  # manager of rent: Maria's
    _, page = await mgr.get("/quality")
    assert f'data-item="{flagged.id}"' in page and f'data-item="{inquiry_item.id}"' not in page
    resp, _ = await mgr.get(f"/quality/{inquiry_item.id}")
    assert resp.status == 404
    _, page = await mgr.get(f"/quality/{flagged.id}")
    assert "речевая аналитика: rudeness" in page and f"/calls/{ids['calls'][2]}/transcript" in page

    _, page = await boss.get(f"/quality/{inquiry_item.id}")
    assert "Поздоровался и представился" in page and 'name="reopen"' in page
    checklist_id = int(page.split('name="checklist_id" value="')[1].split('"')[0])
    resp = await boss.http.post(running.base + f"/quality/{inquiry_item.id}/review", allow_redirects=False,
                                data=[("_csrf", boss.csrf), ("checklist_id", str(checklist_id)), ("mark", "1"),
                                      ("mark", "3"), ("comment", "Не спросил бюджет"), ("reopen", "1")])
    assert resp.status == 303
    _, page = await boss.get(resp.headers["Location"])
    assert "Оценка сохранена: 75%" in page and f"Обращение №{inquiry_item.inquiry_id} возвращено" in page

    async with running.hub.database.sessions() as s:
        inquiry = await s.get(Inquiry, inquiry_item.inquiry_id)
        events = set((await s.execute(select(InquiryEvent.kind).where(
            InquiryEvent.inquiry_id == inquiry.id))).scalars())
        timeline = set((await s.execute(select(TimelineEntry.kind).where(
            TimelineEntry.client_id == ids["client"]))).scalars())
        decisions = (await s.execute(select(RoutingDecision.explanation).where(
            RoutingDecision.inquiry_id == inquiry.id))).scalars().all()
        scores = await agent_scores(s, [users["anna"], users["maria"]], utcnow() - timedelta(days=1),
                                    utcnow() + timedelta(days=1))
    assert inquiry.status in (InquiryStatus.NEW, InquiryStatus.OFFERED) and inquiry.closed_at is None
    assert "reopened" in events and {"qc_review", "inquiry_reopened"} <= timeline
    assert [d.get("why") for d in decisions] == ["reopened"], "the re-opened inquiry went back to routing"
    assert scores == {users["anna"]: (0.75, 1)}

    _, page = await boss.get("/quality?status=reviewed")
    assert f'data-item="{inquiry_item.id}"' in page and "75%" in page
    _, page = await root.get(f"/clients/{ids['client']}")
    assert "Контроль качества" in page and "Входящий звонок: 75%" in page
    _, page = await boss.get("/reports/kpi")
    assert "Оценка качества" in page and "75" in page


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # access rules: storage is checked on both
async def test_each_role_reaches_quality_control_as_it_must(running):
    await _world(running)
    await add_user(running, "engineer", Role.SERVICE_ENGINEER)
    await running.hub.connectors["workflow"].sample()
    items = await _items(running)
    for login in ("anna", "engineer"):
        b = await running.browser(login)
        for path in ("/quality", f"/quality/{items[0].id}", "/quality/checklists"):
            resp, _ = await b.get(path)
            assert resp.status == 403, (login, path)
    director = await running.browser("director")
    _, page = await director.get("/quality")
    assert all(f'data-item="{i.id}"' in page for i in items), "a director reads the division's queue"
    resp, _ = await director.post(f"/quality/{items[0].id}/review", {"checklist_id": "1"})
    assert resp.status == 403
    boss = await running.browser("boss")
    for path in ("/quality/checklists", "/quality/sample"):
        resp, _ = (await boss.get(path)) if path.endswith("lists") else (await boss.post(path))
        assert resp.status == 403, path
