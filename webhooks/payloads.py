"""What each event tells a receiver: the ids and the fields an integration needs, read when the event is
queued. A subscription is made by an administrator, who sees every record, so nothing is cut for access;
what is cut is length (a message's text at 4,000 characters)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bus.events import (
    CallStored,
    ClientChanged,
    DealStageChanged,
    Event,
    InquiryAssigned,
    InquiryOpened,
    InquiryStatusChanged,
    MessageReceived,
)
from crm_core.models import Call, Client, Contact, Inquiry, InquiryStatus, Message, Task, User, utcnow
from crm_core.models.agency import Deal, FunnelStage

MAX_TEXT = 4000
CLOSED = (str(InquiryStatus.DONE), str(InquiryStatus.ARCHIVED))
# the event types each bus event may give: nothing is read when no subscription wants any of them
PRODUCES: dict[type[Event], frozenset[str]] = {
    InquiryOpened: frozenset({"inquiry.opened"}),
    InquiryAssigned: frozenset({"inquiry.assigned", "inquiry.closed"}),  # and its opening (see occurrences)
    InquiryStatusChanged: frozenset({"inquiry.status_changed", "inquiry.closed"}),
    MessageReceived: frozenset({"message.received"}),
    ClientChanged: frozenset({"client.changed"}),
    DealStageChanged: frozenset({"deal.stage_changed"}),
    CallStored: frozenset({"call.ended"}),
}


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One event on its way to the outbox. ``event_key`` None: a new happening each time (a fresh key)."""

    event_type: str
    data: dict
    order_key: str | None = None
    event_key: str | None = None
    occurred_at: datetime = field(default_factory=utcnow)
    made_at: datetime | None = None
    """Set on an ``inquiry.opened`` told ahead of its assignment: only for subscriptions older than the inquiry."""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def _user(s: AsyncSession, user_id: int | None) -> dict | None:
    if user_id is None:
        return None
    row = (await s.execute(select(User.id, User.login, User.full_name, User.extension)
                           .where(User.id == user_id))).first()
    return None if row is None else {"id": row.id, "login": row.login, "name": row.full_name,
                                     "extension": row.extension}


async def client_data(s: AsyncSession, client_id: int | None) -> dict | None:
    if client_id is None:
        return None
    client = await s.get(Client, client_id)
    if client is None:
        return None
    contacts = (await s.execute(select(Contact.kind, Contact.value).where(Contact.client_id == client_id)
                                .order_by(Contact.id))).all()
    return {"id": client.id, "kind": client.kind, "name": client.name, "company_name": client.company_name,
            "owner_id": client.owner_id, "department_id": client.department_id,
            "phones": [v for k, v in contacts if k == "phone"], "emails": [v for k, v in contacts if k == "email"],
            "telegram": [v for k, v in contacts if k == "telegram"]}


async def inquiry_data(s: AsyncSession, inquiry_id: int) -> dict | None:
    inquiry = await s.get(Inquiry, inquiry_id)
    if inquiry is None:
        return None
    return {"inquiry_id": inquiry.id, "client_id": inquiry.client_id, "channel": str(inquiry.channel),
            "status": str(inquiry.status), "pool": str(inquiry.pool), "owner": await _user(s, inquiry.owner_id),
            "department_id": inquiry.department_id, "subject": inquiry.subject, "source": inquiry.source,
            "did": inquiry.did, "utm": inquiry.utm or {}, "property_id": inquiry.property_id,
            "planned_action": inquiry.planned_action, "planned_at": _iso(inquiry.planned_at),
            "created_at": _iso(inquiry.created_at), "closed_at": _iso(inquiry.closed_at)}


async def occurrences(s: AsyncSession, event: Event, wanted: frozenset[str],
                      at: datetime | None = None) -> list[Occurrence]:
    """The webhook events a bus event makes, for the types some subscription wants; ``at``: when it was
    published (the data is read now, a moment later)."""
    found: list[Occurrence] = []
    if isinstance(event, InquiryOpened | InquiryAssigned | InquiryStatusChanged):
        data = await inquiry_data(s, event.inquiry_id)
        if data is None:
            return []
        key = f"inquiry:{event.inquiry_id}"
        if isinstance(event, InquiryOpened):
            found.append(Occurrence("inquiry.opened", {**data, "client": await client_data(s, event.client_id)},
                                    key, f"inquiry.opened:{event.inquiry_id}"))
        elif isinstance(event, InquiryAssigned):
            if "inquiry.opened" in wanted:  # routed inside the intake's transaction, it is announced before the
                # intake's InquiryOpened: the opening goes first (once: the same event key as the real one)
                found.append(Occurrence("inquiry.opened", {**data, "client": await client_data(s, data["client_id"])},
                                        key, f"inquiry.opened:{event.inquiry_id}",
                                        made_at=datetime.fromisoformat(data["created_at"])))
            found.append(Occurrence("inquiry.assigned", {**data, "assigned_to": event.owner_id,
                                                         "to_pool": event.pool, "actor_id": event.actor_id}, key))
            if data["status"] in CLOSED:
                found.append(Occurrence("inquiry.closed", {**data, "actor_id": event.actor_id}, key))
        else:
            changed = {**data, "status": event.status, "previous_status": event.previous, "actor_id": event.actor_id}
            found.append(Occurrence("inquiry.status_changed", changed, key))
            if event.status in CLOSED:
                found.append(Occurrence("inquiry.closed", changed, key))
    elif isinstance(event, MessageReceived):
        m = await s.get(Message, event.message_id)
        if m is not None:
            found.append(Occurrence("message.received", {
                "message_id": m.id, "inquiry_id": m.inquiry_id, "client_id": m.client_id, "channel": str(m.channel),
                "direction": m.direction, "subject": m.subject, "text": (m.body or "")[:MAX_TEXT],
                "truncated": len(m.body or "") > MAX_TEXT, "created_at": _iso(m.created_at)},
                f"inquiry:{m.inquiry_id}", f"message.received:{m.id}"))
    elif isinstance(event, ClientChanged):
        client = await client_data(s, event.client_id)
        if client is not None:
            found.append(Occurrence("client.changed", {"client_id": event.client_id, "client": client,
                                                       "fields": list(event.fields), "actor_id": event.actor_id},
                                    f"client:{event.client_id}"))
    elif isinstance(event, DealStageChanged):
        found.extend(await _deal(s, event))
    elif isinstance(event, CallStored):
        found.extend(await _call(s, event.call_id))
    return [replace(o, occurred_at=at) if at else o for o in found if o.event_type in wanted]


async def _deal(s: AsyncSession, event: DealStageChanged) -> list[Occurrence]:
    deal = await s.get(Deal, event.deal_id)
    if deal is None:
        return []
    stage = await s.get(FunnelStage, event.stage_id)
    return [Occurrence("deal.stage_changed", {
        "deal_id": deal.id, "inquiry_id": deal.inquiry_id, "client_id": deal.client_id, "agent_id": deal.agent_id,
        "department_id": deal.department_id, "property_id": deal.property_id, "status": deal.status,
        "stage": {"id": event.stage_id, "name": stage.name if stage else None,
                  "positive": bool(stage.positive) if stage else False},
        "actor_id": event.actor_id}, f"inquiry:{deal.inquiry_id}")]


async def _call(s: AsyncSession, call_id: int) -> list[Occurrence]:
    call = await s.get(Call, call_id)
    if call is None:
        return []
    return [Occurrence("call.ended", {
        "call_id": call.id, "linkedid": call.linkedid, "direction": call.direction, "caller": call.caller,
        "callee": call.callee, "did": call.did, "queue": call.queue, "agent": await _user(s, call.agent_id),
        "client_id": call.client_id, "inquiry_id": call.inquiry_id, "outcome": call.outcome,
        "started_at": _iso(call.started_at), "answered_at": _iso(call.answered_at), "ended_at": _iso(call.ended_at),
        "wait_s": call.wait_s, "talk_s": call.talk_s, "has_recording": bool(call.recording_path)},
        f"call:{call.linkedid or call.id}", f"call.ended:{call.id}")]


def task_occurrence(task: Task) -> Occurrence:
    """A task whose time has come (``task.due``), once per task and due time."""
    assert task.due_at is not None
    return Occurrence("task.due", {
        "task_id": task.id, "kind": task.kind, "status": task.status, "due_at": _iso(task.due_at),
        "inquiry_id": task.inquiry_id, "client_id": task.client_id, "assignee_id": task.assignee_id,
        "department_id": task.department_id, "phone": task.phone, "note": task.note},
        f"inquiry:{task.inquiry_id}" if task.inquiry_id else None, f"task.due:{task.id}:{_iso(task.due_at)}",
        task.due_at)
