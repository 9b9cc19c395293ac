"""Immutable call values: the live call, the finished record, and the effects transition() returns."""

from __future__ import annotations

from dataclasses import dataclass

OUTCOMES = frozenset({"answered", "abandoned", "no_answer", "failed", "transferred", "lost_track"})
# How a call was cut short, kept beside its outcome: the PBX restarted (``Shutdown``, or channels hung up
# for a shutdown), the PBX went down and came back (kill -9: its uptime began after the call was last seen),
# or the hub's link to a PBX that stayed up was lost while the call was on.
CUTS = frozenset({"pbx_restart", "pbx_down", "link_lost"})


@dataclass(frozen=True, slots=True)
class Call:
    linkedid: str
    uniqueid: str
    direction: str = "inbound"
    caller: str | None = None
    caller_name: str | None = None
    callee: str | None = None
    did: str | None = None
    queue: str | None = None
    queue_context: str | None = None
    agents_rung: tuple[str, ...] = ()
    ringing: tuple[str, ...] = ()  # whose phone rings right now (their pop-up is open)
    answered_by: str | None = None
    started: float = 0.0
    queued: float | None = None
    answered: float | None = None
    talk_ended: float | None = None
    last_seen: float = 0.0
    recording: str | None = None
    inquiry_id: str | None = None
    task_id: str | None = None
    channel: str | None = None  # the caller's channel name (what a transfer redirects)
    transferred_to: str | None = None
    abandoned: bool = False
    failed: bool = False
    channels: frozenset[str] = frozenset()
    client_id: str | None = None  # click-to-call: the client whose card it was made from
    action_id: str | None = None  # click-to-call: the hub's Originate
    originate_context: str | None = None  # click-to-call: where the agent's answered leg goes to dial the client
    no_answer: bool = False  # click-to-call: the agent or the client did not pick up
    cut: str | None = None  # the PBX ended it: pbx_restart, pbx_down, link_lost (see CUTS)


@dataclass(frozen=True, slots=True)
class CallRecord:
    uniqueid: str
    linkedid: str
    direction: str
    caller: str | None
    callee: str | None
    caller_name: str | None
    did: str | None
    queue: str | None
    agents_rung: tuple[str, ...]
    answered_by: str | None
    started: float
    queued: float | None
    answered: float | None
    ended: float
    wait_s: float
    talk_s: float
    outcome: str
    recording: str | None
    inquiry_id: str | None
    transferred_to: str | None = None
    task_id: str | None = None
    client_id: str | None = None
    cut: str | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    """A click-to-call the hub sent (``Originate``), kept by its ActionID until its channel is known."""

    action_id: str
    channel: str  # as sent: ``Local/101@agents`` or ``PJSIP/101``; the PBX names it ``<channel>-000000a1;1``
    extension: str
    callee: str | None
    context: str
    sent: float
    inquiry_id: str | None = None
    client_id: str | None = None
    task_id: str | None = None
    linkedid: str | None = None  # the call its channel began, once seen


@dataclass(frozen=True, slots=True)
class Ringing:
    extension: str
    call: Call


@dataclass(frozen=True, slots=True)
class Answered:
    extension: str
    call: Call


@dataclass(frozen=True, slots=True)
class RingStopped:
    extension: str
    call: Call


@dataclass(frozen=True, slots=True)
class Transferred:
    """The answered call was sent on to another extension: its card follows it there."""

    from_extension: str | None
    to_extension: str
    call: Call


@dataclass(frozen=True, slots=True)
class CallEnded:
    record: CallRecord


@dataclass(frozen=True, slots=True)
class CallbackNeeded:
    caller: str | None
    queue: str | None
    wait_s: float


Effect = Ringing | Answered | RingStopped | Transferred | CallEnded | CallbackNeeded
