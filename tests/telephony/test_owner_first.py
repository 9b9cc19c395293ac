"""Owner first: the dialplan asks the hub over FastAGI; a repeat caller rings their own agent first."""

from __future__ import annotations

import asyncio

from sqlalchemy import update

from connectors.asterisk.events import AmiEvent
from connectors.asterisk.fake_pbx import FakePbx
from crm_core.models import User
from telephony.calls import CallState, transition
from telephony.model import Answered, CallEnded, Ringing, RingStopped

from .test_service import Hub, seed


async def ask(port: int, caller: str, script: str = "owner-first") -> dict[str, str]:
    """What Asterisk's AGI() does: send the agi_ headers, answer each command with 200 result=1."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write((f"agi_network: yes\nagi_network_script: {script}\nagi_request: agi://127.0.0.1/{script}\n"
                  f"agi_channel: PJSIP/trunk-00000001\nagi_uniqueid: 1795390910.0\nagi_callerid: {caller}\n"
                  "agi_calleridname: Иван Петров\nagi_extension: 74950000001\n\n").encode())
    variables: dict[str, str] = {}
    while line := await asyncio.wait_for(reader.readline(), 5):
        command = line.decode().strip()
        assert command.startswith("SET VARIABLE "), command
        name, _, value = command.removeprefix("SET VARIABLE ").partition(" ")
        variables[name] = value.strip('"')
        writer.write(b"200 result=1\n")
    writer.close()
    return variables


async def test_a_repeat_caller_is_offered_to_the_available_owner_and_otherwise_to_the_queue(db):
    ids = await seed(db)  # Иван Петров +79161234567 belongs to anna (101)
    async with FakePbx(secret="hubsecret") as pbx, Hub(db, pbx, fastagi_enabled=True, fastagi_port=0) as hub:
        port = hub.service.agi.bound_port
        async with db.sessions() as s, s.begin():
            await s.execute(update(User).where(User.id == ids["anna"]).values(status="available"))
        assert await ask(port, "89161234567") == {"OWNER_DEVICE": "PJSIP/101", "OWNER_EXTENSION": "101"}
        async with db.sessions() as s, s.begin():
            await s.execute(update(User).where(User.id == ids["anna"]).values(status="break"))
        assert await ask(port, "+79161234567") == {"OWNER_DEVICE": ""}
        assert await ask(port, "+79990000000") == {"OWNER_DEVICE": ""}, "a stranger goes to the queue"
        assert await ask(port, "+79161234567", script="nothing-here") == {}


async def test_a_peer_that_hangs_up_mid_request_does_not_stop_the_server(db):
    await seed(db)
    async with FakePbx(secret="hubsecret") as pbx, Hub(db, pbx, fastagi_enabled=True, fastagi_port=0) as hub:
        port = hub.service.agi.bound_port
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"agi_network: yes\nagi_network_scr")
        writer.close()
        assert await ask(port, "+79990000000") == {"OWNER_DEVICE": ""}


def _event(name: str, t: float, **headers: str) -> AmiEvent:
    return AmiEvent(name, {"Event": name, **headers}, t)


def _direct_dial(status: str) -> list:
    caller = {"Channel": "PJSIP/trunk-00000001", "Uniqueid": "1.1", "Linkedid": "1.1"}
    events = [
        _event("Newchannel", 0.0, **caller, CallerIDNum="+79161234567", CallerIDName="Иван Петров"),
        _event("DialBegin", 0.1, **caller, DestChannel="PJSIP/101-00000002", DestUniqueid="1.2"),
        _event("DialEnd", 5.0, **caller, DestChannel="PJSIP/101-00000002", DestUniqueid="1.2", DialStatus=status),
        _event("Hangup", 30.0, **caller),
    ]
    state, effects = CallState(), []
    for event in events:
        state, out = transition(state, event)
        effects += out
    return effects


def test_the_owners_phone_answering_the_dialplans_dial_makes_an_answered_call_with_a_pop_up():
    effects = _direct_dial("ANSWER")
    assert [type(e) for e in effects[:2]] == [Ringing, Answered]
    assert effects[0].extension == "101"
    [ended] = [e for e in effects if isinstance(e, CallEnded)]
    assert (ended.record.outcome, ended.record.answered_by, ended.record.talk_s) == ("answered", "101", 25.0)


def test_an_owner_who_does_not_answer_loses_the_pop_up_and_the_call_is_not_theirs():
    effects = _direct_dial("NOANSWER")
    assert isinstance(effects[1], RingStopped) and effects[1].extension == "101"
    [ended] = [e for e in effects if isinstance(e, CallEnded)]
    assert ended.record.answered_by is None
