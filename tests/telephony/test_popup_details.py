"""The caller's details reach each agent's card once per call, however many frames the call sends them.

The ringing frame schedules a ``popup_details`` frame while the details are read; the answered frame that
follows (AgentCalled, then AgentConnect) used to schedule a second one, so the answering agent had the
same details drawn twice. Counted here over the real traces, replayed by the fake PBX.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from connectors.asterisk.fake_pbx import FakePbx
from crm_core.models import Client, Contact, ContactKind

from .test_ami_client import until
from .test_service import Hub, seed


def _details_frames(hub: Hub) -> Counter:
    return Counter((p.user_ids, p.payload["call_id"]) for p in hub.pushes if p.kind == "popup_details")


async def _slow_details_hub(db, pbx: FakePbx, release: asyncio.Event) -> Hub:  # noqa: ANN001
    from crm_core.caller_card import caller_details

    async def slow_details(client_id: int) -> dict:
        await release.wait()
        async with db.sessions() as s:
            return await caller_details(s, client_id)

    hub = Hub(db, pbx)
    hub.service.details = slow_details
    return hub


async def test_the_answering_agent_gets_the_callers_details_once_though_ringing_and_answer_both_pop_up(db):
    ids = await seed(db)
    release = asyncio.Event()
    async with FakePbx("answered.txt", secret="hubsecret", speed=20.0) as pbx:
        hub = await _slow_details_hub(db, pbx, release)
        async with hub:
            # Both frames are out while the details are still being read: the case that sent them twice.
            await until(lambda: [p["title"] for p in hub.popups_for(ids["anna"])][:2] == ["Входящий звонок",
                                                                                            "Разговор"], 10)
            release.set()
            await hub.settle(pbx)
    [(who, call_id)] = _details_frames(hub)
    assert _details_frames(hub) == Counter({((ids["anna"],), call_id): 1})
    assert who == (ids["anna"],)
    [details] = [p.payload for p in hub.pushes if p.kind == "popup_details"]
    assert details["owner"] == "Anna"


async def test_a_transferred_call_sends_each_agent_the_details_at_most_once(db):
    ids = await seed(db)
    async with db.sessions() as s, s.begin():  # the caller of transfer.txt, a client of anna's
        petr = Client(name="Пётр Сидоров", owner_id=ids["anna"])
        s.add(petr)
        await s.flush()
        s.add(Contact(client_id=petr.id, kind=ContactKind.PHONE, value="+79857776655"))
    release = asyncio.Event()
    async with FakePbx("transfer.txt", secret="hubsecret", speed=20.0) as pbx:
        hub = await _slow_details_hub(db, pbx, release)
        async with hub:
            await until(lambda: len(hub.popups_for(ids["anna"])) >= 2, 10)
            release.set()
            await hub.settle(pbx)
    frames = _details_frames(hub)
    assert frames[((ids["anna"],), hub.popups_for(ids["anna"])[0]["call_id"])] == 1
    assert all(n == 1 for n in frames.values()), frames
    # The agent the call went on to has the details on their card, from a frame or within the pop-up itself.
    maria = hub.popups_for(ids["maria"])
    assert maria and (any("owner" in p for p in maria) or frames[((ids["maria"],), maria[0]["call_id"])] == 1)


async def test_at_full_speed_no_agent_gets_a_calls_details_twice(db):
    await seed(db)
    async with FakePbx("answered.txt", secret="hubsecret", speed=20.0) as pbx, Hub(db, pbx) as hub:
        await hub.settle(pbx)
    assert all(n == 1 for n in _details_frames(hub).values())


async def test_the_callers_card_is_looked_up_when_the_call_appears_not_when_the_phone_rings(db):
    """The lookup starts at the call's first event (before the greeting and the queue), once per call; when
    the agent's phone rings the card is there and the pop-up waits for no query."""
    ids = await seed(db)
    async with FakePbx("answered.txt", secret="hubsecret", speed=1.0) as pbx:
        hub = Hub(db, pbx)
        looked_up: list[tuple[str, bool]] = []
        lookup = hub.service.lookup

        async def recorded(number: str):  # noqa: ANN202
            ringing = any(call.ringing or call.answered for call in hub.service.calls.calls.values())
            looked_up.append((number, ringing))
            return await lookup(number)

        hub.service.lookup = recorded
        async with hub:
            await hub.settle(pbx)
    assert len(looked_up) == 1 and looked_up[0][1] is False  # once, before any phone rang
    assert [p["title"] for p in hub.popups_for(ids["anna"])][:1] == ["Входящий звонок"]
