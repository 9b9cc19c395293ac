"""The intake service: the one entry through which every channel opens or extends an inquiry.

Identify the client (phone, email, Telegram id; create when unknown), open a
new inquiry or append to the open one of the same thread, record the source,
and publish an event. Idempotent by the outside id: the unique key
(channel, external_id) on messages makes the database, not a check-then-insert,
the judge, so the same event twice — even from two tasks at once — gives one record.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bus.bus import EventBus
from bus.events import InquiryOpened, MessageReceived
from crm_core import intake_batch
from crm_core.db import write_first
from crm_core.group_commit import ALONE, GroupCommit
from crm_core.intake_limits import fit_request, id_ref
from crm_core.models import (
    Channel,
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
from crm_core.phones import normalize_email, try_normalize_phone

log = logging.getLogger("hub.intake")
OPEN_STATUSES = (InquiryStatus.NEW, InquiryStatus.OFFERED, InquiryStatus.IN_WORK)


@dataclass(frozen=True, slots=True)
class IntakeRequest:
    channel: Channel
    external_id: str
    text: str = ""
    subject: str | None = None
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    telegram_id: str | None = None
    identities: Sequence[tuple[str, str]] = ()
    """Other ways the client is known, as ``(ContactKind, value)``: a VK user id, a WhatsApp number…"""
    thread_key: str | None = None
    """Id of this message's thread (e.g. its Message-ID); a later reply names it in ``reply_to``."""
    reply_to: Sequence[str] = ()
    """Thread ids this message answers (In-Reply-To, References): join that inquiry when it is this client's."""
    source: str | None = None
    did: str | None = None
    utm: dict = field(default_factory=dict)
    received_at: datetime | None = None
    meta: dict = field(default_factory=dict)
    notes: Sequence[str] = ()
    """Problems found while reading the input (bad charset, cut attachment) kept on the inquiry."""
    taken_by: int | None = None
    """The agent who already took it (answered the call): a new inquiry is theirs and in work, not routed."""


@dataclass(frozen=True, slots=True)
class IntakeResult:
    inquiry_id: int
    client_id: int
    message_id: int
    new_inquiry: bool
    new_client: bool
    duplicate: bool
    routed: bool = False
    """Routed inside the transaction that stored it (``IntakeService.routing``)."""


class RoutingInTransaction(Protocol):
    """Routing that decides for new inquiries inside intake's transaction (``RoutingService``), so a group
    of forms is stored and routed with one commit. Intake knows only this shape, not routing."""

    async def within(self, s: AsyncSession, inquiry_ids: Sequence[int]) -> Mapping[int, object]: ...
    async def committed(self, done: Mapping[int, object]) -> None: ...
    def rolled_back(self, done: Mapping[int, object]) -> None: ...


class IntakeService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], bus: EventBus, region: str = "RU") -> None:
        self._sessions = sessions
        self._bus = bus
        self._region = region
        self._group: GroupCommit[IntakeRequest, IntakeResult] = GroupCommit(
            self._store_batch, self._store_alone, name="intake-group-commit")
        self.moderation_gate: Callable[[IntakeRequest], bool] | None = None
        """Set by the moderation capability: True → the new inquiry waits for a moderator (status
        ``moderation``; routing leaves it alone until it is accepted)."""
        self.routing: RoutingInTransaction | None = None
        """Set where routing is wired: new inquiries of a group are routed before the group commits."""

    async def accept(self, req: IntakeRequest) -> IntakeResult:
        if not req.external_id:
            raise ValueError("external_id is required: it is what makes intake idempotent")
        req = fit_request(req)  # every column's limit, the same on SQLite and PostgreSQL, before any insert
        result = await self._group.submit(req)  # a repeat of a stored outside id answers as the duplicate
        if result.duplicate:
            return result
        log.info(  # the id as a hash: a Message-ID may hold an address
            "intake channel=%s ref=%s inquiry=%s client=%s message=%s new_inquiry=%s",
            req.channel, id_ref(req.external_id), result.inquiry_id, result.client_id, result.message_id,
            result.new_inquiry,
        )
        await self._publish(req, result)
        return result

    async def _store_alone(self, req: IntakeRequest) -> IntakeResult:
        """One request in its own transaction, for what a shared one could not take (a unique key clashed)."""
        for _ in range(2):
            try:
                return await self._store(req)
            except IntegrityError:
                # Another task stored the same outside id (theirs stands) or created the same new
                # client a moment before us (then we try again and find that client).
                existing = await self._find_existing(req)
                if existing is not None:
                    return existing
        return await self._store(req)  # the third try: a clash now is an error for the caller

    async def _find_existing(self, req: IntakeRequest) -> IntakeResult | None:
        async with self._sessions() as s:
            row = (
                await s.execute(
                    select(Message.id, Message.inquiry_id, Inquiry.client_id)
                    .join(Inquiry, Inquiry.id == Message.inquiry_id)
                    .where(Message.channel == req.channel, Message.external_id == req.external_id)
                )
            ).one_or_none()
        if row is None:
            return None
        return IntakeResult(row.inquiry_id, row.client_id, row.id, False, False, True)

    async def _store(self, req: IntakeRequest) -> IntakeResult:
        async with self._sessions() as s, s.begin():
            return await self._store_in(s, req)

    async def _store_batch(self, batch: list[IntakeRequest]) -> list[IntakeResult | BaseException | object]:
        """Several requests in one transaction: one commit for all of them. New threads are stored
        together (``intake_batch``: a fixed number of statements for the whole group); the rest each in
        its own savepoint, where a failure fails only that request. ``ALONE`` for a request whose unique
        key clashed (it is stored alone afterwards). With ``routing`` set, the inquiries the group opened
        are routed in the same transaction and announced after it commits, before the callers are
        answered (their agents' notices share the next commit)."""
        results: list[IntakeResult | BaseException | object] = []
        routed: Mapping[int, object] = {}
        try:
            async with self._sessions() as s, s.begin():
                results = await self._store_batch_in(s, batch)
                if self.routing is not None:
                    routed = await self.routing.within(s, [
                        r.inquiry_id for req, r in zip(batch, results, strict=True)
                        if isinstance(r, IntakeResult) and r.new_inquiry and req.taken_by is None])
        except BaseException:
            if routed and self.routing is not None:
                self.routing.rolled_back(routed)
            raise
        if routed and self.routing is not None:
            results = [replace(r, routed=True) if isinstance(r, IntakeResult) and r.inquiry_id in routed else r
                       for r in results]
            try:
                await self.routing.committed(routed)
            except Exception:  # noqa: BLE001 - stored and routed; a failed announcement must not fail the group
                log.exception("announcing %d inquiries routed inside intake failed", len(routed))
        return results

    async def _store_batch_in(self, s: AsyncSession, batch: list[IntakeRequest]) -> list[object]:
        results: list[object] = []
        await write_first(s)
        together = [i for i, req in enumerate(batch) if intake_batch.covers(req)]
        stored: dict[int, object] = {}
        if together:
            try:
                async with s.begin_nested():
                    answers = await intake_batch.store_new(s, [batch[i] for i in together], self._contact_keys,
                                                           self.moderation_gate, IntakeResult)
                stored = dict(zip(together, answers, strict=True))
            except Exception as exc:  # noqa: BLE001 - e.g. another process took a key meanwhile
                if _link_lost(exc):
                    raise  # the database, not the group: every caller hears that, not a later PendingRollbackError
                log.info("intake group of %d failed together (%s); storing it request by request",
                         len(together), type(exc).__name__)  # the type only: the error's text holds the content
        for i, req in enumerate(batch):
            if i in stored:
                results.append(stored[i])
                continue
            try:
                async with s.begin_nested():
                    results.append(await self._store_in(s, req))
            except IntegrityError:
                results.append(ALONE)
            except Exception as exc:  # noqa: BLE001 - this request fails, the rest of the batch goes on
                if _link_lost(exc):
                    raise
                results.append(exc)
        return results

    async def _store_in(self, s: AsyncSession, req: IntakeRequest) -> IntakeResult:
        now = req.received_at or utcnow()
        client, new_client = await self._identify(s, req, now)
        inquiry = await self._thread_inquiry(s, req, client.id)
        new_inquiry = inquiry is None
        if inquiry is None:
            inquiry = await self._open_inquiry(s, req, client, now)
        message = Message(
            inquiry_id=inquiry.id, client_id=client.id, channel=req.channel,
            external_id=req.external_id, direction="in", subject=req.subject,
            body=req.text or "", meta=dict(req.meta), created_at=now,
        )
        s.add(message)
        inquiry.last_action_at = now
        await s.flush()
        for note in req.notes:
            s.add(InquiryEvent(inquiry_id=inquiry.id, at=now, kind="intake_note", note=note))
        s.add(TimelineEntry(
            client_id=client.id, at=now, kind="message_in", channel=req.channel,
            inquiry_id=inquiry.id, ref_id=message.id, summary=_summary(req),
        ))
        return IntakeResult(inquiry.id, client.id, message.id, new_inquiry, new_client, False)

    async def _identify(self, s: AsyncSession, req: IntakeRequest, now: datetime) -> tuple[Client, bool]:
        keys = self._contact_keys(req)
        for kind, value in keys:
            client = (
                await s.execute(
                    select(Client).join(Contact).where(Contact.kind == kind, Contact.value == value)
                )
            ).scalar_one_or_none()
            if client is not None:
                await self._add_missing_contacts(s, client, keys)
                return client, False
        client = Client(name=(req.name or "").strip()[:300], created_at=now)
        s.add(client)
        await s.flush()
        for kind, value in keys:
            s.add(Contact(client_id=client.id, kind=kind, value=value))
        await s.flush()  # a concurrent twin with the same phone fails here, and accept() re-reads
        s.add(TimelineEntry(client_id=client.id, at=now, kind="client_created", channel=req.channel,
                            summary=client.name))
        return client, True

    async def _add_missing_contacts(
        self, s: AsyncSession, client: Client, keys: list[tuple[ContactKind, str]]
    ) -> None:
        """A client known by email who now writes from Telegram with their phone: remember the new ways."""
        for kind, value in keys:
            taken = (
                await s.execute(select(Contact.id).where(Contact.kind == kind, Contact.value == value))
            ).first()
            if taken is None:
                async with s.begin_nested():
                    s.add(Contact(client_id=client.id, kind=kind, value=value))

    def _contact_keys(self, req: IntakeRequest) -> list[tuple[ContactKind, str]]:
        keys: list[tuple[ContactKind, str]] = []
        phone = try_normalize_phone(req.phone, self._region)
        if phone:
            keys.append((ContactKind.PHONE, phone))
        if req.email:
            with contextlib.suppress(ValueError):
                keys.append((ContactKind.EMAIL, normalize_email(req.email)))
        if req.telegram_id:
            keys.append((ContactKind.TELEGRAM, str(req.telegram_id)))
        keys.extend((ContactKind(kind), str(value)[:320]) for kind, value in req.identities if value)
        return keys

    async def _thread_inquiry(self, s: AsyncSession, req: IntakeRequest, client_id: int) -> Inquiry | None:
        """The open inquiry this message continues — only one of the same client (a forged reply can't
        attach a stranger's message to someone else's inquiry)."""
        keys = [k for k in req.reply_to if k]
        if not keys:
            return None
        by_message = select(Message.inquiry_id).where(
            Message.channel == req.channel, Message.external_id.in_(keys)
        )
        return (
            await s.execute(
                select(Inquiry)
                .where(
                    Inquiry.client_id == client_id,
                    Inquiry.status.in_(OPEN_STATUSES),
                    (Inquiry.thread_key.in_(keys)) | (Inquiry.id.in_(by_message)),
                )
                .order_by(Inquiry.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()

    async def _open_inquiry(self, s: AsyncSession, req: IntakeRequest, client: Client, now: datetime) -> Inquiry:
        department_id = None
        if client.owner_id is not None:
            department_id = (
                await s.execute(select(User.department_id).where(User.id == client.owner_id))
            ).scalar_one_or_none()
        inquiry = Inquiry(
            client_id=client.id, channel=req.channel, external_id=req.external_id,
            thread_key=req.thread_key or req.external_id, subject=(req.subject or "")[:500] or None,
            source=req.source, did=req.did, utm=dict(req.utm), department_id=department_id,
            created_at=now, updated_at=now, last_action_at=now,
        )
        if req.taken_by is not None:
            inquiry.owner_id, inquiry.status, inquiry.accepted_at = req.taken_by, InquiryStatus.IN_WORK, now
            if inquiry.department_id is None:
                inquiry.department_id = (await s.execute(
                    select(User.department_id).where(User.id == req.taken_by))).scalar_one_or_none()
        elif self.moderation_gate is not None and self.moderation_gate(req):
            inquiry.status = InquiryStatus.MODERATION
        s.add(inquiry)
        await s.flush()
        s.add(InquiryEvent(inquiry_id=inquiry.id, at=now, kind="opened",
                           data={"channel": str(req.channel), "source": req.source, "did": req.did}))
        s.add(TimelineEntry(client_id=client.id, at=now, kind="inquiry_opened", channel=req.channel,
                            inquiry_id=inquiry.id, ref_id=inquiry.id, summary=inquiry.subject or ""))
        return inquiry

    async def _publish(self, req: IntakeRequest, result: IntakeResult) -> None:
        if result.new_inquiry:
            await self._bus.publish(
                InquiryOpened(result.inquiry_id, result.client_id, str(req.channel), req.external_id,
                              owner_id=req.taken_by, routed=result.routed)
            )
        await self._bus.publish(
            MessageReceived(result.inquiry_id, result.client_id, result.message_id, str(req.channel),
                            req.external_id)
        )


def _link_lost(exc: BaseException) -> bool:
    """The connection died under the transaction: the whole group fails with this cause (nothing of it is
    committed), rather than one request failing and the commit after it with ``PendingRollbackError``."""
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def _summary(req: IntakeRequest) -> str:
    text = (req.subject or req.text or "").strip().replace("\n", " ")
    return text[:200]
