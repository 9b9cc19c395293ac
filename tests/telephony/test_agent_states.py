"""Agent states kept in step both ways: the hub pauses the queue member, the phone's pause shows in the hub."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bus.events import AgentStatusChanged
from connectors.asterisk.fake_pbx import FakePbx, encode_frame
from crm_core.agent_states import time_in_states
from crm_core.models import User, utcnow
from crm_core.models.agent_states import AgentStateSpan
from tests.web.conftest import running  # noqa: F401 - the running hub fixture

from .test_ami_client import until


@pytest.fixture
async def pbx() -> AsyncIterator[FakePbx]:
    async with FakePbx("answered.txt", secret="hubsecret", speed=20.0, autoplay=False) as fake:
        yield fake


@pytest.fixture
def hub_sections(pbx: FakePbx) -> dict:
    return {"asterisk": {"enabled": True, "port": pbx.port, "secret": "hubsecret"}}


async def status_of(rh, login: str) -> tuple[str, list[tuple[str, str | None, str]]]:  # noqa: ANN001
    async with rh.hub.database.sessions() as s:
        user = (await s.execute(select(User).where(User.login == login))).scalar_one()
        spans = (await s.execute(select(AgentStateSpan.status, AgentStateSpan.reason, AgentStateSpan.source)
                                 .where(AgentStateSpan.user_id == user.id).order_by(AgentStateSpan.id))).all()
    return str(user.status), [tuple(x) for x in spans]


async def connected(rh, pbx: FakePbx) -> None:  # noqa: ANN001
    await until(lambda: rh.hub.telephony.state == "connected" and pbx.listeners == 1, 10)


async def test_a_break_in_the_hub_pauses_the_agent_on_the_pbx_and_back(running, pbx):  # noqa: F811
    await connected(running, pbx)
    seen: list[AgentStatusChanged] = []

    async def keep(event: AgentStatusChanged) -> None:
        seen.append(event)

    running.hub.bus.subscribe(AgentStatusChanged, keep)
    anna = await running.browser("anna")
    resp, _ = await anna.post("/me/status", {"status": "available", "next": "/calls"})
    assert resp.status == 303 and resp.headers["Location"] == "/calls"
    resp, _ = await anna.post("/me/status", {"status": "break", "reason": "lunch", "next": "https://evil.example/"})
    assert resp.headers["Location"] == "/"
    assert await status_of(running, "anna") == ("break", [("available", None, "hub"), ("break", "lunch", "hub")])
    pauses = [a for a in pbx.received if a.get("Action") == "QueuePause"]
    assert {a["Interface"] for a in pauses} == {"Local/101@agents/n"}
    assert [(a["Paused"], a["Reason"]) for a in pauses] == [("false", "available"), ("true", "lunch")]
    await anna.post("/me/status", {"status": "available"})
    assert [a["Paused"] for a in pbx.received if a.get("Action") == "QueuePause"] == ["false", "true", "false"]
    assert [e.status for e in seen] == ["available", "break", "available"]
    _, page = await anna.get("/inbox")
    assert '<option value="available" selected' in page


async def test_states_that_only_calls_set_cannot_be_chosen_and_a_change_needs_csrf(running, pbx):  # noqa: F811
    anna = await running.browser("anna")
    resp, _ = await anna.post("/me/status", {"status": "on_call"})
    assert resp.status == 400
    resp, _ = await anna.post("/me/status", {"status": "sleeping"})
    assert resp.status == 400
    resp, _ = await anna.post("/me/status", {"status": "break"}, csrf=False)
    assert resp.status == 403
    assert (await status_of(running, "anna"))[0] == "offline"


async def test_a_pause_on_the_phone_shows_as_a_break_and_a_call_makes_the_agent_busy_then_free(running, pbx):  # noqa: F811
    await connected(running, pbx)
    anna = await running.browser("anna")
    await anna.post("/me/status", {"status": "available"})
    pbx.broadcast(encode_frame({"Event": "QueueMemberPause", "Queue": "sales", "MemberName": "Анна Смирнова",
                                "Interface": "Local/101@agents/n", "Paused": "1", "PausedReason": "обед"}))
    await asyncio.sleep(0.3)
    status, spans = await status_of(running, "anna")
    assert status == "break" and spans[-1] == ("break", "обед", "pbx")
    pbx.broadcast(encode_frame({"Event": "QueueMemberPause", "Queue": "sales", "Interface": "Local/101@agents/n",
                                "Paused": "0", "PausedReason": ""}))
    await asyncio.sleep(0.3)
    assert (await status_of(running, "anna"))[0] == "available"
    pbx.play()  # answered.txt: 101 answers, the caller hangs up
    await asyncio.wait_for(pbx.replay_done.wait(), 10)
    await asyncio.sleep(0.5)
    status, spans = await status_of(running, "anna")
    assert [x[0] for x in spans[-2:]] == ["on_call", "available"] and status == "available"
    async with running.hub.database.sessions() as s:
        user_id = (await s.execute(select(User.id).where(User.login == "anna"))).scalar_one()
        totals = await time_in_states(s, user_id, utcnow() - timedelta(minutes=5))
    assert set(totals) == {"available", "break", "on_call"}
    assert timedelta(0) < totals["on_call"] < timedelta(seconds=5)
