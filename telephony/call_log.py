"""What the CRM keeps of a call: the call row, its inquiry and client, the recording, callback tasks.

Everything here is idempotent by the call's Uniqueid, so a replayed trace or a rebuilt PBX state never
doubles a call, an inquiry or a callback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.intake import IntakeRequest, IntakeService
from crm_core.models import Call, Channel, Client, Recording, Task, TimelineEntry, User
from crm_core.phones import try_normalize_phone
from speech.queries import enqueue_call
from telephony.conversations import conversation_to_join, joined_event
from telephony.did_sources import seed_once as seed_did_sources
from telephony.did_sources import source_of
from telephony.model import CallRecord

log = logging.getLogger("hub.calls")

MISSED = frozenset({"abandoned", "no_answer"})
CALLBACK_FAILED = frozenset({"failed", "no_answer", "abandoned"})


@dataclass(frozen=True, slots=True)
class Agent:
    user_id: int
    extension: str
    name: str
    locale: str
    department_id: int | None


@dataclass(frozen=True, slots=True)
class StoredCall:
    call_id: int
    inquiry_id: int | None
    client_id: int | None
    duplicate: bool


def _at(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts else None


async def load_agents(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Agent]:
    """Extension → agent, for pop-ups and for naming who answered."""
    async with sessions() as s:
        rows = await s.execute(
            select(User.id, User.extension, User.full_name, User.locale, User.department_id)
            .where(User.extension.is_not(None), User.is_active.is_(True))
        )
        return {ext: Agent(uid, ext, name, locale or "ru", dep) for uid, ext, name, locale, dep in rows}


class CallLog:
    """Stores finished calls and their consequences (inquiry, timeline, recording, callback task)."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], intake: IntakeService, *, region: str = "RU",
        recordings_dir: str = "", callback_delay_s: float = 900.0, callback_attempts: int = 3,
        transcribe: bool = False, transcribe_attempts: int = 3,
        transcription_queued: Callable[[], None] | None = None,
        join_window_days: float = 30.0, dids: Mapping[str, str] | None = None,
    ) -> None:
        self.join_window_days = join_window_days
        """A call joins the caller's open inquiry active within this many days (``telephony/conversations.py``)."""
        self.dids = dict(dids or {})
        """The ``[dids]`` settings: seed the DID → source table once (``telephony/did_sources.py``)."""
        self._dids_seeded = False
        self.transcribe = transcribe
        self.transcribe_attempts = transcribe_attempts
        self.transcription_queued = transcription_queued
        """Told after the commit when a call's recordings were queued (the speech service looks at once)."""
        self.sessions = sessions
        self.intake = intake
        self.region = region
        self.recordings_dir = recordings_dir
        self.callback_delay = timedelta(seconds=callback_delay_s)
        self.callback_attempts = callback_attempts

    async def store(self, record: CallRecord, agents: dict[str, Agent], task_id: int | None = None) -> StoredCall:
        uniqueid = record.uniqueid or f"failed-{record.started:.6f}-{record.callee or ''}"
        async with self.sessions() as s:
            found = (await s.execute(select(Call.id, Call.inquiry_id, Call.client_id)
                                     .where(Call.uniqueid == uniqueid))).first()
        if found is not None:
            return StoredCall(found[0], found[1], found[2], duplicate=True)
        agent = agents.get(record.answered_by or "") or (
            agents.get(record.caller or "") if record.direction == "outbound" else None)
        inquiry_id, client_id = await self._inquiry_for(record, agent, agents)
        queued: list = []
        try:
            async with self.sessions() as s, s.begin():
                call = Call(
                    uniqueid=uniqueid, linkedid=record.linkedid or None, direction=record.direction,
                    caller=self._number(record.caller), callee=self._number(record.callee),
                    caller_name=(record.caller_name or "")[:200] or None,
                    did=record.did, queue=record.queue, agent_id=agent.user_id if agent else None,
                    agents_rung=list(record.agents_rung), client_id=client_id, inquiry_id=inquiry_id,
                    started_at=_at(record.started), queued_at=_at(record.queued), answered_at=_at(record.answered),
                    ended_at=_at(record.ended), wait_s=record.wait_s, talk_s=record.talk_s, outcome=record.outcome,
                    recording_path=self._recording_path(record.recording), cut_by=record.cut,
                    task_id=task_id if task_id is not None and await s.get(Task, task_id) is not None else None,
                )
                s.add(call)
                await s.flush()
                if call.recording_path:
                    s.add(Recording(call_id=call.id, path=call.recording_path))
                    if self.transcribe:
                        await s.flush()
                        queued = await enqueue_call(s, call.id, max_attempts=self.transcribe_attempts)
                if client_id is not None:
                    s.add(TimelineEntry(client_id=client_id, at=call.ended_at or call.created_at, kind="call",
                                        channel=Channel.CALL, inquiry_id=inquiry_id, ref_id=call.id,
                                        summary=_summary(record), actor_id=agent.user_id if agent else None))
                if record.direction == "inbound" and record.outcome in MISSED and record.caller \
                        and record.caller not in agents:  # an agent's own channel is never a client to call back
                    await self._open_callback(s, call, record, client_id, inquiry_id, agents)
                if task_id is not None:
                    await self._callback_attempt_done(s, task_id, call)
        except IntegrityError:
            async with self.sessions() as s:
                row = (await s.execute(select(Call.id, Call.inquiry_id, Call.client_id)
                                       .where(Call.uniqueid == uniqueid))).one()
            return StoredCall(row[0], row[1], row[2], duplicate=True)
        log.info("call stored uniqueid=%s linkedid=%s call=%s inquiry=%s outcome=%s agent=%s", uniqueid,
                 record.linkedid, call.id, inquiry_id, record.outcome, record.answered_by)
        if queued and self.transcription_queued is not None:
            self.transcription_queued()
        return StoredCall(call.id, inquiry_id, client_id, duplicate=False)

    def _number(self, raw: str | None) -> str | None:
        """A phone number as +E.164 (so a missed call and the callback to it match whatever form the PBX
        wrote each in); an extension or anything else not a phone number stays as the PBX wrote it."""
        return try_normalize_phone(raw, self.region) or raw if raw else raw

    async def _inquiry_for(self, record: CallRecord, agent: Agent | None,
                           agents: dict[str, Agent]) -> tuple[int | None, int | None]:
        """An inbound call from a number is an inquiry of that client (a new client for an unknown number);
        answered, it is the answering agent's (or the one it was transferred to) and in work: routing has
        nothing left to decide."""
        taker = agents.get(record.transferred_to or "") or agent
        if record.inquiry_id and record.inquiry_id.isdigit():
            return await self._linked_inquiry(int(record.inquiry_id))
        if record.direction != "inbound" or not record.caller:
            return None, await self._client_of(record.client_id)  # click-to-call from the client's card
        phone = try_normalize_phone(record.caller, self.region)
        if phone is None:
            return None, None
        return await self._conversation(record, phone, taker, agents)

    async def _conversation(self, record: CallRecord, phone: str, taker: Agent | None,
                            agents: dict[str, Agent]) -> tuple[int | None, int | None]:
        """The call joins the caller's open inquiry or opens one (the rule: ``conversation_to_join``); a
        call that opens one takes its advertising source from its DID."""
        at = _at(record.started) or datetime.now(UTC)
        rung = [agents[x] for x in record.agents_rung if x in agents]
        who = taker or (rung[0] if rung else None)
        department_id = who.department_id if who is not None else None
        if self.dids and not self._dids_seeded:
            await seed_did_sources(self.sessions, self.dids)
            self._dids_seeded = True
        async with self.sessions() as s:
            joined = await conversation_to_join(s, phone, department_id, at, timedelta(days=self.join_window_days))
            source = await source_of(s, record.did)
        result = await self.intake.accept(IntakeRequest(
            channel=Channel.CALL, external_id=record.linkedid or record.uniqueid, phone=phone,
            name=record.caller_name, subject=_summary(record), source=source or record.did, did=record.did,
            received_at=at, reply_to=(joined.thread_key,) if joined else (),
            meta={"queue": record.queue, "outcome": record.outcome, "recording": record.recording,
                  "talk_s": record.talk_s, "wait_s": record.wait_s, "answered_by": record.answered_by},
            taken_by=taker.user_id if taker is not None and record.answered else None,
        ))
        if joined is not None and result.inquiry_id == joined.inquiry_id and not result.duplicate:
            async with self.sessions() as s, s.begin():
                s.add(joined_event(joined.inquiry_id, record.uniqueid, at, self.join_window_days))
            log.info("call joined inquiry=%s linkedid=%s", joined.inquiry_id, record.linkedid)
        return result.inquiry_id, result.client_id

    async def _client_of(self, client_id: str | None) -> int | None:
        if not client_id or not client_id.isdigit():
            return None
        async with self.sessions() as s:
            return (await s.execute(select(Client.id).where(Client.id == int(client_id)))).scalar()

    async def _linked_inquiry(self, inquiry_id: int) -> tuple[int | None, int | None]:
        from crm_core.models import Inquiry

        async with self.sessions() as s:
            row = (await s.execute(select(Inquiry.id, Inquiry.client_id).where(Inquiry.id == inquiry_id))).first()
        return (row[0], row[1]) if row else (None, None)

    def _recording_path(self, name: str | None) -> str | None:
        if not name:
            return None
        if "/" in name or not self.recordings_dir:
            return name
        return f"{self.recordings_dir.rstrip('/')}/{name}"

    async def _open_callback(self, s: AsyncSession, call: Call, record: CallRecord, client_id: int | None,
                             inquiry_id: int | None, agents: dict[str, Agent]) -> None:
        """A missed call becomes a callback for the client's owner, else the queue's people."""
        open_one = (await s.execute(select(Task.id).where(
            Task.kind == "callback", Task.status == "open", Task.phone == record.caller))).first()
        if open_one is not None:
            return  # one open callback per number: a second missed call does not make a second task
        owner_id = None
        if client_id is not None:
            owner_id = (await s.execute(select(Client.owner_id).where(Client.id == client_id))).scalar()
        rung = [agents[x] for x in record.agents_rung if x in agents]
        department_id = rung[0].department_id if rung else None
        s.add(Task(kind="callback", status="open", client_id=client_id, inquiry_id=inquiry_id, call_id=call.id,
                   assignee_id=owner_id, department_id=department_id, due_at=call.ended_at, phone=record.caller,
                   note=f"Пропущенный звонок ({record.outcome}), ожидание {record.wait_s:.0f} с"))
        log.info("callback task opened phone=%s call=%s owner=%s", record.caller, call.id, owner_id)

    async def _callback_attempt_done(self, s: AsyncSession, task_id: int, call: Call) -> None:
        task = await s.get(Task, task_id)
        if task is None or task.status != "open":
            return
        task.attempts += 1
        if call.outcome not in CALLBACK_FAILED:
            task.status = "done"
        elif task.attempts >= self.callback_attempts:
            task.status = "unreachable"
        else:
            task.due_at = (call.ended_at or datetime.now(UTC)) + self.callback_delay
        log.info("callback attempt task=%s call=%s outcome=%s attempts=%s status=%s", task_id, call.id,
                 call.outcome, task.attempts, task.status)


def _summary(record: CallRecord) -> str:
    kind = {"inbound": "Входящий звонок", "outbound": "Исходящий звонок"}.get(record.direction, "Звонок")
    outcome = {
        "answered": "принят", "abandoned": "клиент не дождался", "no_answer": "без ответа", "failed": "не состоялся",
        "transferred": "переведён", "lost_track": "связь с АТС терялась",
    }.get(record.outcome, record.outcome)
    who = f", агент {record.answered_by}" if record.answered_by else ""
    cut = {"pbx_restart": " (прерван перезапуском АТС)", "pbx_down": " (прерван: АТС остановилась)",
           "link_lost": " (связь с АТС прерывалась)"}.get(record.cut or "", "")
    return f"{kind}: {outcome}{who}{cut}"


@dataclass(frozen=True, slots=True)
class Owner:
    user_id: int
    extension: str | None
    status: str
    active: bool


async def owner_of_caller(sessions: async_sessionmaker[AsyncSession], number: str, region: str = "RU") -> Owner | None:
    """The agent who owns the client calling from this number (owner-first routing)."""
    phone = try_normalize_phone(number, region)
    if phone is None:
        return None
    from crm_core.models import Contact, ContactKind

    async with sessions() as s:
        row = (await s.execute(
            select(User.id, User.extension, User.status, User.is_active)
            .join(Client, Client.owner_id == User.id)
            .join(Contact, Contact.client_id == Client.id)
            .where(Contact.kind == ContactKind.PHONE, Contact.value == phone)
        )).first()
    return Owner(row[0], row[1], str(row[2]), bool(row[3])) if row else None
