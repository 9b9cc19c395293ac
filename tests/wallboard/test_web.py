"""The wallboard in a running hub with the fake PBX: who may see and do what, what reaches the PBX, the audit
log, and the live frames while burst20.txt plays."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update

from bus.events import Push
from connectors.asterisk.fake_pbx import FakePbx
from crm_core.models import Call, Client, Inquiry, InquiryEvent, Recording, Transcript, User, utcnow
from crm_core.models.audit import AuditEntry
from crm_core.models.routing import SlaDeadline
from crm_core.models.speech import SpeechFlag
from tests.telephony.test_ami_client import FAST, until
from tests.web.conftest import running  # noqa: F401 - the running hub fixture


@pytest.fixture
async def pbx() -> AsyncIterator[FakePbx]:
    async with FakePbx("burst20.txt", secret="hubsecret", speed=20.0, autoplay=False) as fake:
        yield fake


@pytest.fixture
def hub_sections(pbx: FakePbx) -> dict:
    return {"asterisk": {"enabled": True, "port": pbx.port, "secret": "hubsecret", **FAST}}


async def connected(rh, pbx: FakePbx) -> None:  # noqa: ANN001
    await until(lambda: rh.hub.telephony.state == "connected" and pbx.listeners == 1, 10)


def actions(pbx: FakePbx, name: str) -> list[dict[str, str]]:
    return [a for a in pbx.received if a.get("Action") == name]


async def audit_rows(rh) -> list[tuple]:  # noqa: ANN001
    async with rh.hub.database.sessions() as s:
        return [tuple(r) for r in (await s.execute(
            select(AuditEntry.actor_id, AuditEntry.action, AuditEntry.target).order_by(AuditEntry.id))).all()]


async def test_agents_cannot_open_the_wallboard_or_listen_and_directors_only_watch(running, pbx):  # noqa: F811
    users = running.agency.users
    anna = await running.browser("anna")
    for path in ("/wallboard", "/wallboard/state"):
        resp, _ = await anna.get(path)
        assert resp.status == 403, path
    resp, _ = await anna.post(f"/wallboard/agents/{users['oleg']}/listen")
    assert resp.status == 403
    resp, _ = await anna.post(f"/wallboard/agents/{users['oleg']}/pause", {"paused": "1"})
    assert resp.status == 403
    _, page = await anna.get("/inbox")
    assert 'href="/wallboard"' not in page, "no link to a page the agent may not open"

    director = await running.browser("director")
    resp, page = await director.get("/wallboard")
    assert resp.status == 200 and 'id="wb-snapshot"' in page
    resp, _ = await director.post(f"/wallboard/agents/{users['anna']}/pause", {"paused": "1"})
    assert resp.status == 403
    resp, _ = await director.post(f"/wallboard/agents/{users['anna']}/barge")
    assert resp.status == 403
    assert not actions(pbx, "QueuePause") and not actions(pbx, "Originate")
    assert await audit_rows(running) == []


async def test_pausing_an_agent_sends_exactly_one_queue_pause_and_is_logged(running, pbx):  # noqa: F811
    await connected(running, pbx)
    users = running.agency.users
    anna = await running.browser("anna")
    await anna.post("/me/status", {"status": "available"})
    before = len(actions(pbx, "QueuePause"))
    boss = await running.browser("boss")
    await boss.get("/wallboard")
    resp, body = await boss.post(f"/wallboard/agents/{users['anna']}/pause", {"paused": "1", "reason": "meeting"},
                                 headers={"Accept": "application/json"})
    assert resp.status == 200 and "паузу" in body
    pauses = actions(pbx, "QueuePause")[before:]
    assert [(a["Interface"], a["Paused"], a["Reason"]) for a in pauses] == [("Local/101@agents/n", "true", "meeting")]
    async with running.hub.database.sessions() as s:
        assert (await s.execute(select(User.status).where(User.id == users["anna"]))).scalar_one() == "break"
    resp, _ = await boss.post(f"/wallboard/agents/{users['anna']}/pause", {"paused": "0"})
    assert resp.status == 200
    assert [a["Paused"] for a in actions(pbx, "QueuePause")[before:]] == ["true", "false"]
    # maria works in another department: out of the head's reach, as if she did not exist
    resp, _ = await boss.post(f"/wallboard/agents/{users['maria']}/pause", {"paused": "1"})
    assert resp.status == 404
    assert len(actions(pbx, "QueuePause")[before:]) == 2
    boss_id = users["boss"]
    assert await audit_rows(running) == [(boss_id, "wallboard.pause", f"user:{users['anna']}"),
                                         (boss_id, "wallboard.unpause", f"user:{users['anna']}")]
    _, page = await boss.get("/wallboard")
    assert "Пауза" in page and "Снять паузу" in page  # the action log on the page


async def test_listen_whisper_and_barge_ring_the_supervisors_phone_running_chanspy(running, pbx):  # noqa: F811
    await connected(running, pbx)
    users = running.agency.users
    boss = await running.browser("boss")
    await boss.get("/wallboard")
    resp, body = await boss.post(f"/wallboard/agents/{users['anna']}/listen", headers={"Accept": "application/json"})
    assert resp.status == 409 and "нет внутреннего номера" in body  # the head has no phone yet
    async with running.hub.database.sessions() as s, s.begin():
        await s.execute(update(User).where(User.id == users["boss"]).values(extension="150"))
    for mode in ("listen", "whisper", "barge"):
        resp, _ = await boss.post(f"/wallboard/agents/{users['anna']}/{mode}")
        assert resp.status == 200, mode
    spies = [(a["Channel"], a["Application"], a["Data"]) for a in actions(pbx, "Originate")]
    assert spies == [("PJSIP/150", "ChanSpy", "PJSIP/101,qbE"), ("PJSIP/150", "ChanSpy", "PJSIP/101,qbEw"),
                     ("PJSIP/150", "ChanSpy", "PJSIP/101,qbEB")]
    resp, _ = await boss.post(f"/wallboard/agents/{users['maria']}/listen")
    assert resp.status == 404 and len(actions(pbx, "Originate")) == 3
    assert [r[1] for r in await audit_rows(running)] == ["wallboard.listen", "wallboard.whisper", "wallboard.barge"]


async def test_reassigning_an_inquiry_moves_it_to_another_agent_with_its_history(running, pbx):  # noqa: F811
    users, agency = running.agency.users, running.agency
    async with running.hub.database.sessions() as s, s.begin():
        client = Client(name="Пётр")
        s.add(client)
        await s.flush()
        inquiry = Inquiry(client_id=client.id, channel="webform", external_id="wb-1", subject="Квартира",
                          owner_id=users["anna"], department_id=agency.sales)
        s.add(inquiry)
        await s.flush()
        inquiry_id = inquiry.id
    boss = await running.browser("boss")
    await boss.get("/wallboard")
    resp, _ = await boss.post(f"/wallboard/inquiries/{inquiry_id}/reassign", {"to": str(users["maria"])})
    assert resp.status == 404  # maria is not the head's agent
    resp, body = await boss.post(f"/wallboard/inquiries/{inquiry_id}/reassign", {"to": str(users["oleg"])})
    assert resp.status == 200 and "передано" in body
    async with running.hub.database.sessions() as s:
        assert (await s.get(Inquiry, inquiry_id)).owner_id == users["oleg"]
        kinds = (await s.execute(select(InquiryEvent.kind, InquiryEvent.actor_id)
                                 .where(InquiryEvent.inquiry_id == inquiry_id))).all()
    assert ("reassigned", users["boss"]) in [tuple(k) for k in kinds]
    assert (users["boss"], "wallboard.reassign", f"inquiry:{inquiry_id}") in await audit_rows(running)
    oleg = await running.browser("oleg")
    resp, _ = await oleg.post(f"/wallboard/inquiries/{inquiry_id}/reassign", {"to": str(users["anna"])})
    assert resp.status == 403


async def test_the_wallboard_frames_follow_burst20_and_a_reconnect_rebuilds_the_board(running, pbx):  # noqa: F811
    frames: list[dict] = []

    async def keep(push: Push) -> None:
        if push.kind == "wallboard":
            frames.append(push.payload)

    running.hub.bus.subscribe(Push, keep)
    await connected(running, pbx)
    boss = await running.browser("boss")
    resp, _ = await boss.get("/wallboard")
    assert resp.status == 200
    board: dict = {"queues": {}}

    def merge() -> dict:
        for frame in frames[merge.seen:]:  # type: ignore[attr-defined]
            board["queues"].update(frame.get("queues", {}))
            if frame["full"]:
                board["queues"] = dict(frame["queues"])
        merge.seen = len(frames)  # type: ignore[attr-defined]
        return board

    merge.seen = 0  # type: ignore[attr-defined]
    most_waiting = 0

    def done() -> bool:
        nonlocal most_waiting
        queues = merge()["queues"]
        most_waiting = max(most_waiting, sum(len(q["waiting"]) for q in queues.values()))
        return sum(q["abandoned"] for q in queues.values()) == 9 and not any(q["waiting"] for q in queues.values())

    pbx.play()
    await until(done, 15)
    assert most_waiting >= 3, "callers were seen waiting before they left"
    assert sum(q["answered"] for q in board["queues"].values()) == 11
    assert len(frames) < 300, "events close together go out as one frame"
    assert all(len(frame.get("agents", {})) <= 10 for frame in frames if not frame["full"])
    fulls = sum(1 for f in frames if f["full"])
    pbx.drop()
    await until(lambda: any(f["full"] for f in frames[len(frames) - 3:]) and
                sum(1 for f in frames if f["full"]) > fulls, 10)
    last_full = [f for f in frames if f["full"]][-1]
    assert sum(q["abandoned"] for q in last_full["queues"].values()) == 9, "today's counts survive a reconnect"
    assert {"sales", "support"} <= set(last_full["queues"])


async def test_overdue_inquiries_and_flagged_calls_show_to_the_supervisors_who_may_see_them(running, pbx):  # noqa: F811
    users, agency = running.agency.users, running.agency
    now = utcnow()
    async with running.hub.database.sessions() as s, s.begin():
        client = Client(name="Ольга")
        s.add(client)
        await s.flush()
        ids = []
        for n, (owner, dept) in enumerate([("anna", agency.sales), ("oleg", agency.sales),
                                                       ("maria", agency.rent), ("oleg", agency.sales)]):
            inquiry = Inquiry(client_id=client.id, channel="email", external_id=f"sla-{n}", subject=f"Тема {n}",
                              owner_id=users[owner], department_id=dept)
            s.add(inquiry)
            await s.flush()
            ids.append(inquiry.id)
        call = Call(uniqueid="f.1", linkedid="f.1", direction="inbound", caller="+79160000000", queue="sales",
                    agent_id=users["anna"], started_at=now - timedelta(minutes=5), outcome="answered")
        s.add(call)
        await s.flush()
        recording = Recording(call_id=call.id, path="f.wav")
        s.add(recording)
        await s.flush()
        transcript = Transcript(recording_id=recording.id, status="done")
        s.add(transcript)
        await s.flush()
        s.add(SpeechFlag(transcript_id=transcript.id, call_id=call.id, category="rudeness", phrase="идиот"))
    service = running.hub.connectors["wallboard"]
    await service.read()  # what the reader does every refresh_s; the scheduler may have filled routing_sla
    async with running.hub.database.sessions() as s, s.begin():
        await s.execute(delete(SlaDeadline))
        for inquiry_id, due in zip(ids, (now - timedelta(minutes=1), now + timedelta(minutes=30),
                                        now - timedelta(minutes=2), now + timedelta(hours=5)), strict=True):
            s.add(SlaDeadline(inquiry_id=inquiry_id, due_at=due, action="to_department_pool", reason="not_accepted"))
    await service.read()
    boss, mgr = await running.browser("boss"), await running.browser("mgr")
    _, text = await boss.get("/wallboard/state")
    board = json.loads(text)
    assert [(i["id"], i["overdue"], i["owner"]) for i in board["inquiries"]] == [(ids[0], True, "Anna"),
                                                                                  (ids[1], False, "Oleg")]
    # ids[3] is due in 5 hours: beyond the soon-overdue window (60 minutes), not listed
    assert [(f["call_id"], f["categories"], f["agent"]) for f in board["flags"]] == [(call.id, ["rudeness"], "Anna")]
    _, text = await mgr.get("/wallboard/state")
    board = json.loads(text)
    assert [i["id"] for i in board["inquiries"]] == [ids[2]] and board["flags"] == []
    assert {a["name"] for a in board["agents"].values()} == {"Maria"}
