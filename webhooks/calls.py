"""``call.ringing`` and ``call.answered`` from the PBX, as the call state sees them (``telephony.add_listener``).

Runs where the PBX session runs (its leader). After each AMI event the call it belongs to is compared with
what was seen of it: a phone that starts ringing is ``call.ringing`` (once per call and extension), the
first answer is ``call.answered``. ``call.ended`` comes from the stored call (``bus.events.CallStored``), with
the hub's call id, outcome and durations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from webhooks.payloads import Occurrence

MAX_SEEN = 5000


class CallWatcher:
    def __init__(self, telephony: Any, put: Callable[[Occurrence], None]) -> None:
        self.telephony = telephony  # telephony.service.TelephonyService: its ``calls`` and ``agents``
        self.put = put
        self._seen: dict[str, tuple[frozenset[str], str | None]] = {}

    def on_event(self, event: Any) -> None:
        """Synchronous and quick: only the call this event belongs to is looked at."""
        state = self.telephony.calls
        linkedid = event.get("Linkedid") or state.channels.get(event.get("Uniqueid"), "")
        if not linkedid:
            return
        call = state.calls.get(linkedid)
        if call is None:
            self._seen.pop(linkedid, None)
            return
        rung, answered = self._seen.get(linkedid, (frozenset(), None))
        ringing = frozenset(call.ringing)
        at = datetime.fromtimestamp(event.received_at or call.last_seen or 0, UTC)
        for ext in sorted(ringing - rung):
            self.put(Occurrence("call.ringing", self._data(call, ext), f"call:{linkedid}",
                                f"call.ringing:{linkedid}:{ext}", at))
        if call.answered_by and answered is None:
            self.put(Occurrence("call.answered", self._data(call, call.answered_by), f"call:{linkedid}",
                                f"call.answered:{linkedid}", at))
        self._seen[linkedid] = (rung | ringing, call.answered_by or answered)
        if len(self._seen) > MAX_SEEN:
            self._forget_gone()

    async def on_rebuilt(self) -> None:
        self._forget_gone()

    def _forget_gone(self) -> None:
        live = self.telephony.calls.calls
        for linkedid in [k for k in self._seen if k not in live]:
            del self._seen[linkedid]

    def _data(self, call: Any, extension: str) -> dict:
        agent = self.telephony.agents.get(extension)
        return {"linkedid": call.linkedid, "direction": call.direction, "caller": call.caller,
                "caller_name": call.caller_name, "callee": call.callee, "did": call.did, "queue": call.queue,
                "extension": extension, "agent_id": agent.user_id if agent is not None else None,
                "client_id": int(call.client_id) if call.client_id and str(call.client_id).isdigit() else None}
