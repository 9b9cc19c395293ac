"""A client's data erased on request: anonymised so that every report's figures stay the same.

The client's row, inquiries, calls, deals and tasks stay (reports count them, by department, agent, source and
outcome); what names or reaches the person goes: the name, company and note, the contacts, memorable dates,
message texts and attachments, recordings' files, transcripts, notes, timeline lines, self-service links.
The client's numbers on calls become one pseudonym each (``anon-…``), the same on both legs, so a missed call
and its call-back still pair and a number still counts once. The erasure itself is recorded (who, when, why,
how much) and so is the access log, which stays: it says who had read the data before.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import (
    Call,
    Client,
    Contact,
    ContactKind,
    Inquiry,
    InquiryEvent,
    MemorableDate,
    Message,
    Recording,
    Task,
    TimelineEntry,
    Transcript,
    utcnow,
)
from crm_core.models.callfeed import CallBin
from crm_core.models.notifications import Notification
from crm_core.models.privacy import Erasure
from crm_core.models.selfservice import SelfServiceLink, SelfServiceSession
from crm_core.models.speech import SpeechDocument, SpeechWord
from privacy.files import FileRoots, remove
from privacy.retention import attachment_files

log = logging.getLogger("hub.privacy")
ERASED_NAME = "Клиент удалён по запросу"


class AlreadyErased(ValueError):
    pass


@dataclass
class ErasureResult:
    erasure_id: int
    counts: dict[str, int] = field(default_factory=dict)


def pseudonym(number: str, salt: str) -> str:
    return "anon-" + hashlib.sha256(f"{salt}:{number}".encode()).hexdigest()[:16]


async def erase_client(s: AsyncSession, roots: FileRoots, client_id: int, *, actor_id: int,
                       reason: str) -> ErasureResult:
    """Anonymise one client in the caller's transaction; files are deleted once it commits (``delete_files``)."""
    if (await s.execute(select(Erasure.id).where(Erasure.client_id == client_id))).first() is not None:
        raise AlreadyErased(str(client_id))
    client = await s.get(Client, client_id)
    if client is None:
        raise LookupError("client")
    counts: dict[str, int] = {}
    phones = list((await s.execute(select(Contact.value).where(
        Contact.client_id == client_id, Contact.kind == ContactKind.PHONE))).scalars())
    salt = secrets.token_hex(8)
    inquiry_ids = list((await s.execute(select(Inquiry.id).where(Inquiry.client_id == client_id))).scalars())
    call_ids = list((await s.execute(select(Call.id).where(Call.client_id == client_id))).scalars())
    files: list[Path] = []

    rec_rows = (await s.execute(select(Recording.id, Recording.path).where(Recording.call_id.in_(call_ids)))).all() \
        if call_ids else []
    files += [p for p in (roots.recording(r.path) for r in rec_rows) if p is not None]
    call_paths = (await s.execute(select(Call.recording_path).where(Call.id.in_(call_ids)))).scalars().all() \
        if call_ids else []
    files += [p for p in (roots.recording(c) for c in call_paths) if p is not None and p not in files]
    messages = (await s.execute(select(Message.id, Message.meta).where(
        (Message.client_id == client_id) | Message.inquiry_id.in_(inquiry_ids)))).all()
    files += attachment_files(roots, [m.meta for m in messages])

    client.name, client.company_name, client.note = ERASED_NAME, None, None
    counts["contacts"] = len((await s.execute(delete(Contact).where(Contact.client_id == client_id)
                                              .returning(Contact.id))).all())
    counts["dates"] = len((await s.execute(delete(MemorableDate).where(MemorableDate.client_id == client_id)
                                           .returning(MemorableDate.id))).all())
    await s.execute(delete(SelfServiceSession).where(SelfServiceSession.client_id == client_id))
    await s.execute(delete(SelfServiceLink).where(SelfServiceLink.client_id == client_id))
    if messages:
        await s.execute(update(Message).where(Message.id.in_([m.id for m in messages]))
                        .values(body="", subject=None, meta={}))
    counts["messages"] = len(messages)
    if inquiry_ids:
        await s.execute(update(Inquiry).where(Inquiry.id.in_(inquiry_ids)).values(subject="", thread_key=None,
                                                                                   planned_action=None))
        await s.execute(update(InquiryEvent).where(InquiryEvent.inquiry_id.in_(inquiry_ids)).values(note=None))
    counts["inquiries"] = len(inquiry_ids)
    await s.execute(update(TimelineEntry).where(TimelineEntry.client_id == client_id).values(summary=""))
    await s.execute(update(Task).where(Task.client_id == client_id).values(phone=None, note=None))
    if call_ids:
        rec_ids = [r.id for r in rec_rows]
        await s.execute(update(Call).where(Call.id.in_(call_ids)).values(caller_name=None, recording_path=None))
        if rec_ids:
            await s.execute(update(Recording).where(Recording.id.in_(rec_ids)).values(path=""))
            tr_ids = list((await s.execute(select(Transcript.id).where(Transcript.recording_id.in_(rec_ids))))
                          .scalars())
            if tr_ids:
                await s.execute(update(Transcript).where(Transcript.id.in_(tr_ids)).values(text="", words=[]))
                await s.execute(delete(SpeechWord).where(SpeechWord.transcript_id.in_(tr_ids)))
                await s.execute(delete(SpeechDocument).where(SpeechDocument.transcript_id.in_(tr_ids)))
            counts["transcripts"] = len(tr_ids)
        counts["recordings"] = len(rec_ids)
    counts["calls"] = len(call_ids)
    for number in phones:  # the number on every call (this client's, and any other that carried it)
        alias = pseudonym(number, salt)
        await s.execute(update(Call).where(Call.caller == number).values(caller=alias, caller_name=None))
        await s.execute(update(Call).where(Call.callee == number).values(callee=alias))
        await s.execute(update(CallBin).where(CallBin.number == number).values(number=alias, caller_name=None))
    await s.execute(update(Notification).where((Notification.url == f"/clients/{client_id}")
                                                     | Notification.url.startswith(f"/clients/{client_id}/"))
                    .values(text="Клиент удалён по запросу"))
    counts["files"] = len(files)
    erasure = Erasure(client_id=client_id, at=utcnow(), actor_id=actor_id, reason=reason[:2000], counts=counts)
    s.add(erasure)
    await s.flush()
    s.info.setdefault("privacy_files", []).extend(files)
    log.info("client %s erased by user=%s erasure=%s counts=%s", client_id, actor_id, erasure.id, counts)
    return ErasureResult(erasure.id, counts)


async def delete_files(s: AsyncSession) -> int:
    """After the commit: the files the erasure named."""
    files = s.info.pop("privacy_files", [])
    return await asyncio.to_thread(remove, files) if files else 0
