"""The PBX leader's live calls survive a change of leader, and a stale leader's save is fenced off."""

from types import MappingProxyType, SimpleNamespace

import pytest
from sqlalchemy.engine import make_url

from bus.handoff import Handoff, TelephonyCalls
from telephony.calls import CallState
from telephony.model import Call
from tests.conftest import missing_part


@pytest.fixture
def dsn(pg_url):
    if pg_url is None:
        missing_part("PostgreSQL unreachable")
    return make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)


def service_with(*calls: Call) -> SimpleNamespace:
    return SimpleNamespace(calls=CallState(MappingProxyType({c.linkedid: c for c in calls}),
                                           MappingProxyType({u: c.linkedid for c in calls for u in c.channels})))


async def test_the_next_leader_gets_the_live_calls_and_the_old_one_cannot_overwrite_them(dsn):
    up = Call("1795390910.0", "1795390910.0", caller="+79161234567", caller_name="Иван Петров", queue="sales",
              agents_rung=("101",), answered_by="101", started=1795390910.1, answered=1795390911.0,
              channels=frozenset({"1795390910.0", "1795390910.3"}))
    old_service, new_service = service_with(up), service_with()
    old = Handoff(dsn, "test:pbx-handoff", "a", TelephonyCalls(old_service))
    new = Handoff(dsn, "test:pbx-handoff", "b", TelephonyCalls(new_service))
    await old.claim()
    assert await old.save()
    await new.claim()  # the old leader froze; this one was elected
    try:
        assert new.epoch == old.epoch + 1
        assert new_service.calls.calls["1795390910.0"] == up  # the same call: who answered, when, channels
        assert dict(new_service.calls.channels) == {"1795390910.0": up.linkedid, "1795390910.3": up.linkedid}
        old_service.calls = service_with().calls  # the stale leader wakes with its own idea of the calls
        assert not await old.save() and old.fenced
        check = Handoff(dsn, "test:pbx-handoff", "c", TelephonyCalls(service_with()))
        await check.claim()
        assert list(check.state.service.calls.calls) == [up.linkedid]  # still what the real leader saved
        await check.release()
    finally:
        await old.release()
        await new.release()


async def test_ami_events_reach_the_calls_only_while_the_lease_holds(dsn):
    """The gate a frozen leader meets when it wakes: frames read after its lease lapsed are dropped."""
    from bus.leader import LedConnector
    from bus.settings import ClusterSettings

    seen = []

    class Pbx:
        state = "connected"
        calls = service_with().calls
        client = SimpleNamespace(on_event=seen.append)

        async def start(self): ...

        async def stop(self): ...

        async def rebuild(self): ...

    clock = [100.0]
    led = LedConnector(Pbx(), dsn, "test:gate", "a", **ClusterSettings(lease_s=2, heartbeat_s=0.5).leader_timing)
    led.leadership._clock = lambda: clock[0]
    assert (led.leadership.lease_s, led.leadership.heartbeat_s) == (2, 0.5)
    led.leadership.leading, led.leadership._lease_until = True, 101.0
    led.connector.client.on_event("Newchannel")
    clock[0] = 101.5  # frozen past the lease: the heartbeat has not run yet, but the lease is over
    led.connector.client.on_event("Hangup")
    assert seen == ["Newchannel"] and led.dropped_events == 1 and led.state == "standby"
