"""The hub's own events: small frozen objects, each carrying the ids needed to follow it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Event:
    pass


@dataclass(frozen=True, slots=True)
class InquiryOpened(Event):
    inquiry_id: int
    client_id: int
    channel: str
    external_id: str
    department_id: int | None = None
    owner_id: int | None = None
    routed: bool = False
    """Routed already, in the transaction that opened it (routing does not take it up again)."""


@dataclass(frozen=True, slots=True)
class MessageReceived(Event):
    inquiry_id: int
    client_id: int
    message_id: int
    channel: str
    external_id: str


@dataclass(frozen=True, slots=True)
class InquiryAssigned(Event):
    inquiry_id: int
    owner_id: int | None
    pool: str
    actor_id: int | None = None
    channel: str = ""  # when the publisher knows it (routing does); "" = unknown


@dataclass(frozen=True, slots=True)
class InquiryStatusChanged(Event):
    inquiry_id: int
    status: str
    previous: str
    actor_id: int | None = None


@dataclass(frozen=True, slots=True)
class ClientChanged(Event):
    client_id: int
    fields: tuple[str, ...] = ()
    actor_id: int | None = None


@dataclass(frozen=True, slots=True)
class DealStageChanged(Event):
    deal_id: int
    inquiry_id: int
    stage_id: int
    actor_id: int | None = None


@dataclass(frozen=True, slots=True)
class CallStored(Event):
    """A finished call was stored (its outcome, agent, client and inquiry are in ``calls``)."""

    call_id: int
    linkedid: str = ""


@dataclass(frozen=True, slots=True)
class AgentStatusChanged(Event):
    user_id: int
    status: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Push(Event):
    """A live frame for the browsers of the given users (pop-ups, wallboard updates)."""

    user_ids: tuple[int, ...]
    kind: str
    payload: dict = field(hash=False, compare=False, default_factory=dict)
