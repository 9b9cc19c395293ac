"""A call that begins while the hub waits for the PBX's channel listing after a (re)connect stays open.

The fake PBX starts replaying at login, so events and the ``CoreShowChannels`` answer cross: on a loaded
machine the answer's future was resolved, then more events were read before the rebuild resumed, and the
call they began (missing from a listing made before it existed) was closed at once as ``lost_track``.
"""

from __future__ import annotations

from bus.events import Push
from connectors.asterisk.events import AmiEvent
from connectors.asterisk.protocol import AmiFrameSplitter
from connectors.asterisk.settings import AsteriskSettings
from connectors.asterisk.traces import read_trace
from telephony.service import TelephonyService


def first_events(trace: str, count: int) -> list[AmiEvent]:
    splitter, events = AmiFrameSplitter(), []
    for t, direction, data in read_trace(trace):
        if direction == "<<<":
            for frame in splitter.feed(data):
                event = AmiEvent.from_frame(frame, 1000.0 + t)
                if event is not None:
                    events.append(event)
    return events[:count]


class ListingClient:
    """Answers actions like the PBX; while the channel listing (made before the call began, so empty) is on
    its way, the call's first events are read."""

    def __init__(self, service: TelephonyService, arriving: list[AmiEvent]) -> None:
        self.service, self.arriving, self.state = service, arriving, "connected"

    async def send(self, fields: dict, as_list: bool = True) -> list[dict]:  # noqa: ARG002
        if fields["Action"] == "CoreShowChannels":
            for event in self.arriving:
                self.service.on_event(event)
            return [{"Response": "Success", "EventList": "start"}, {"Event": "CoreShowChannelsComplete"}]
        return [{"Response": "Success"}]


async def nobody(_phone: str) -> None:
    """The caller lookup: no client is known."""


async def test_a_call_that_begins_during_the_rebuild_is_not_closed_as_lost_track():
    pushes: list[Push] = []

    async def publish(push: Push) -> None:
        pushes.append(push)

    async def no_agents() -> dict:
        return {}

    service = TelephonyService(AsteriskSettings(enabled=True, secret="x"), publish=publish,
                               lookup=nobody, load_agents=no_agents)
    events = [e for e in first_events("answered.txt", 40) if e.name != "Hangup"]
    assert any(e.name == "Newchannel" for e in events)
    service.client = ListingClient(service, events)  # type: ignore[assignment]
    await service.rebuild()
    assert len(service.calls.calls) == 1, "the call begun while the listing was on its way is still live"
    assert service._records.empty(), "nothing was closed and stored as lost track"

    gone = TelephonyService(AsteriskSettings(enabled=True, secret="x"), publish=publish,
                            lookup=nobody, load_agents=no_agents)
    for event in events:
        gone.on_event(event)
    gone.client = ListingClient(gone, [])  # type: ignore[assignment]
    await gone.rebuild()
    assert len(gone.calls.calls) == 0, "a call known before the question and not listed is gone"
    record = gone._records.get_nowait()
    assert record.outcome == "lost_track"
