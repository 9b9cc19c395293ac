"""New inquiries of one group commit stored with a fixed number of statements, whatever the group's size.

The per-request path (``IntakeService._store_in``: ORM objects, a savepoint each) costs some fifteen
statements per message; under load that, not the disk, was the intake's limit. Here a group of requests
that each open a new thread (no ``reply_to``) is stored with one query for repeats, one for known
contacts, one for known clients, and one multi-row INSERT per table. Within the group, two requests with
the same phone or email share one new client, as they would one after the other.

Anything this path does not cover is left to the per-request path: a reply that may join an open inquiry,
an outside id repeated inside the group (``ALONE``: stored again alone, answered as the duplicate). If a
statement fails (another process took a contact meanwhile), the caller rolls back and stores the group
request by request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.db import insert_returning_ids
from crm_core.group_commit import ALONE
from crm_core.models import (
    Client,
    Contact,
    ContactKind,
    Inquiry,
    InquiryEvent,
    InquiryStatus,
    Message,
    TimelineEntry,
    User,
    utcnow,
)

Keys = list[tuple[ContactKind, str]]


@dataclass(slots=True)
class _New:
    """One request on its way in: the client it belongs to (an id, or the index of a new one)."""

    index: int
    keys: Keys
    client_id: int | None = None
    new_client: int | None = None  # index into the new clients
    inquiry_id: int = 0
    message_id: int = 0
    department_id: int | None = None
    fresh_keys: Keys = field(default_factory=list)


def covers(req) -> bool:  # noqa: ANN001 - IntakeRequest (imported by intake, kept loose to avoid a cycle)
    """This path opens new inquiries only: a message that may continue a thread goes the per-request way."""
    return not any(k for k in req.reply_to)


async def store_new(s: AsyncSession, reqs: Sequence, keys_of: Callable[..., Keys],  # noqa: C901, PLR0912
                    moderated: Callable[..., bool] | None, result: Callable[..., object]) -> list[object]:
    """Store ``reqs`` (all ``covers``) in the open transaction. Returns per request ``result(inquiry_id,
    client_id, message_id, new_inquiry, new_client, duplicate)`` or ``ALONE``."""
    out: list[object] = [None] * len(reqs)
    ids = [(str(r.channel), r.external_id) for r in reqs]
    by_channel: dict[str, list[str]] = {}
    for channel, external_id in ids:
        by_channel.setdefault(channel, []).append(external_id)
    known = {}
    for channel, external_ids in by_channel.items():  # channel = ? AND external_id IN (…): the unique index
        known.update({(str(ch), ext): (mid, iid, cid) for ch, ext, mid, iid, cid in (await s.execute(
            select(Message.channel, Message.external_id, Message.id, Message.inquiry_id, Inquiry.client_id)
            .join(Inquiry, Inquiry.id == Message.inquiry_id)
            .where(Message.channel == channel, Message.external_id.in_(external_ids)))).all()})
    todo: list[_New] = []
    seen: set[tuple[str, str]] = set()
    for i, (req, key) in enumerate(zip(reqs, ids, strict=True)):
        if key in known:
            mid, iid, cid = known[key]
            out[i] = result(iid, cid, mid, False, False, True)
        elif key in seen:
            out[i] = ALONE  # the same outside id twice in one group: the second finds the first afterwards
        else:
            seen.add(key)
            todo.append(_New(i, keys_of(req)))
    if not todo:
        return out

    values = {v for n in todo for _, v in n.keys}
    owners: dict[tuple[str, str], int] = {}
    if values:
        kinds = sorted({str(k) for n in todo for k, _ in n.keys})
        owners = {(str(k), v): c for k, v, c in (await s.execute(  # kind IN … AND value IN …: the unique index
            select(Contact.kind, Contact.value, Contact.client_id)
            .where(Contact.kind.in_(kinds), Contact.value.in_(values)))).all()}
    new_clients: list[dict] = []
    creator: dict[int, _New] = {}  # new client index → the request that made it
    taken: dict[tuple[str, str], int] = {}  # a key → the new client (index) that took it in this group
    for n in todo:
        req = reqs[n.index]
        for kind, value in n.keys:
            k = (str(kind), value)
            if k in owners:
                n.client_id = owners[k]
                break
            if k in taken:
                n.new_client = taken[k]
                break
        if n.client_id is None and n.new_client is None:
            n.new_client = len(new_clients)
            creator[n.new_client] = n
            new_clients.append({"name": (req.name or "").strip()[:300], "created_at": _at(req)})
        for kind, value in n.keys:  # the ways of reaching them nobody has yet become theirs
            k = (str(kind), value)
            if k not in owners and k not in taken:
                n.fresh_keys.append((kind, value))
                if n.new_client is not None:
                    taken[k] = n.new_client
                else:
                    owners[k] = n.client_id  # type: ignore[assignment]

    new_ids: list[int] = []
    if new_clients:
        new_ids = await insert_returning_ids(s, Client, new_clients)
    for n in todo:
        if n.client_id is None:
            n.client_id = new_ids[n.new_client]  # type: ignore[index]
    contacts = [{"client_id": n.client_id, "kind": kind, "value": value} for n in todo for kind, value in n.fresh_keys]
    if contacts:
        await s.execute(insert(Contact), contacts)

    departments = await _departments(s, reqs, todo)
    inquiries = []
    for n in todo:
        req, now = reqs[n.index], _at(reqs[n.index])
        row = {"client_id": n.client_id, "channel": req.channel, "external_id": req.external_id,
               "thread_key": req.thread_key or req.external_id, "subject": (req.subject or "")[:500] or None,
               "source": req.source, "did": req.did, "utm": dict(req.utm), "department_id": departments.get(n.index),
               "created_at": now, "updated_at": now, "last_action_at": now, "status": InquiryStatus.NEW,
               "owner_id": None, "accepted_at": None}
        if req.taken_by is not None:
            row.update(owner_id=req.taken_by, status=InquiryStatus.IN_WORK, accepted_at=now)
        elif moderated is not None and moderated(req):
            row["status"] = InquiryStatus.MODERATION
        inquiries.append(row)
    inquiry_ids = await insert_returning_ids(s, Inquiry, inquiries)
    for n, inquiry_id in zip(todo, inquiry_ids, strict=True):
        n.inquiry_id = inquiry_id
    message_ids = await insert_returning_ids(s, Message, [
        {"inquiry_id": n.inquiry_id, "client_id": n.client_id, "channel": reqs[n.index].channel,
         "external_id": reqs[n.index].external_id, "direction": "in", "subject": reqs[n.index].subject,
         "body": reqs[n.index].text or "", "meta": dict(reqs[n.index].meta), "created_at": _at(reqs[n.index])}
        for n in todo])
    events, timeline = [], []
    for n, message_id in zip(todo, message_ids, strict=True):
        n.message_id = message_id
        req, now = reqs[n.index], _at(reqs[n.index])
        events.append({"inquiry_id": n.inquiry_id, "at": now, "kind": "opened", "note": None,
                       "data": {"channel": str(req.channel), "source": req.source, "did": req.did}})
        events.extend({"inquiry_id": n.inquiry_id, "at": now, "kind": "intake_note", "note": note, "data": {}}
                      for note in req.notes)
        if n.new_client is not None and creator[n.new_client] is n:
            timeline.append(_line(n.client_id, now, "client_created", req.channel, None, None,
                                  new_clients[n.new_client]["name"]))
        subject = (req.subject or "")[:500] or ""
        timeline.append(_line(n.client_id, now, "inquiry_opened", req.channel, n.inquiry_id, n.inquiry_id, subject))
        timeline.append(_line(n.client_id, now, "message_in", req.channel, n.inquiry_id, message_id, _summary(req)))
    # None kept as NULL: otherwise rows without an inquiry (a new client's line) have other keys than the
    # rest and the ORM splits the INSERT into one statement per run of alike rows
    await s.execute(insert(InquiryEvent).execution_options(render_nulls=True), events)
    await s.execute(insert(TimelineEntry).execution_options(render_nulls=True), timeline)
    for n in todo:
        made_client = n.new_client is not None and creator[n.new_client] is n
        out[n.index] = result(n.inquiry_id, n.client_id, n.message_id, True, made_client, False)
    return out


async def _departments(s: AsyncSession, reqs: Sequence, todo: list[_New]) -> dict[int, int | None]:
    """A new inquiry's department: its client's owner's, or (a call already answered) the taking agent's."""
    clients = {n.client_id for n in todo if n.new_client is None}
    owner_dept = dict((await s.execute(
        select(Client.id, User.department_id).join(User, User.id == Client.owner_id)
        .where(Client.id.in_(clients)))).all()) if clients else {}
    takers = {reqs[n.index].taken_by for n in todo if reqs[n.index].taken_by is not None}
    taker_dept = dict((await s.execute(select(User.id, User.department_id).where(User.id.in_(takers))))
                      .all()) if takers else {}
    out: dict[int, int | None] = {}
    for n in todo:
        department = owner_dept.get(n.client_id) if n.new_client is None else None
        taken_by = reqs[n.index].taken_by
        if department is None and taken_by is not None:
            department = taker_dept.get(taken_by)
        out[n.index] = department
    return out


def _at(req) -> datetime:  # noqa: ANN001
    return req.received_at or utcnow()


def _line(client_id: int | None, at: datetime, kind: str, channel: str, inquiry_id: int | None, ref_id: int | None,
          summary: str) -> dict:
    return {"client_id": client_id, "at": at, "kind": kind, "channel": channel, "inquiry_id": inquiry_id,
            "ref_id": ref_id, "summary": summary, "actor_id": None}


def _summary(req) -> str:  # noqa: ANN001
    text = (req.subject or req.text or "").strip().replace("\n", " ")
    return text[:200]
