"""The email channel's own records: quarantined mail (kept raw) and system mail (automatic mail).

Each function takes an ``AsyncSession``. What is stored is cut to its columns and cleaned of what
PostgreSQL refuses (NUL, lone surrogates), the same on both backends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.email.parse import IncomingEmail
from crm_core.intake_limits import clean, fit_id
from crm_core.models import Channel, Inquiry, InquiryEvent, Message, utcnow
from crm_core.models.quarantine import QuarantinedMail, SystemMail

KIND_NOTES = {
    "bounce": "возврат: письмо не доставлено / bounce: a message was not delivered",
    "feedback": "жалоба почтового сервиса (ARF) / abuse feedback report",
    "auto_reply": "автоответ / automatic reply",
    "receipt": "уведомление о прочтении / read receipt",
}


def _cut(value: str | None, column: object) -> str | None:
    if value is None:
        return None
    n = column.type.length  # type: ignore[attr-defined]
    return clean(value)[:n] if n else clean(value)


@dataclass(frozen=True, slots=True)
class Filed:
    """Where a piece of automatic mail went: an inquiry's conversation, or the system mail list."""

    inquiry_id: int | None
    system_mail_id: int | None
    duplicate: bool = False


async def file_automatic(s: AsyncSession, mail: IncomingEmail, mailbox: str | None, uid: int | None) -> Filed:
    """Attach a bounce, report, auto-reply or receipt to the conversation it answers (by In-Reply-To,
    References or the original's Message-ID inside it); else keep it in the system mail list. It never
    opens an inquiry, never enters a pool, never changes who owns what. A bounce of our reply marks that
    reply undelivered."""
    own = fit_id(clean(mail.message_id))
    seen = (await s.execute(select(Message.inquiry_id).where(
        Message.channel == Channel.EMAIL, Message.external_id == own))).scalar()
    if seen is not None:
        return Filed(seen, None, duplicate=True)
    held = (await s.execute(select(SystemMail.id).where(SystemMail.message_id == own))).scalar()
    if held is not None:
        return Filed(None, held, duplicate=True)
    ids = [fit_id(clean(x)) for x in (mail.in_reply_to, *mail.references, *mail.original_ids) if x]
    answered = (await s.execute(
        select(Message.id, Message.inquiry_id, Message.direction)
        .where(Message.channel == Channel.EMAIL, Message.external_id.in_(ids))
        .order_by(Message.id.desc()).limit(1))).first() if ids else None
    kind = mail.automatic or "auto_reply"
    if answered is None:
        row = SystemMail(kind=kind, message_id=own, sender=_cut(mail.from_address, SystemMail.sender),
                         subject=_cut(mail.subject, SystemMail.subject), body=clean(mail.text),
                         original_ids=[clean(x) for x in mail.original_ids], mailbox=mailbox, uid=uid)
        s.add(row)
        await s.flush()
        return Filed(None, row.id)
    inquiry = await s.get(Inquiry, answered.inquiry_id)
    assert inquiry is not None
    now = utcnow()
    message = Message(
        inquiry_id=inquiry.id, client_id=inquiry.client_id, channel=Channel.EMAIL, external_id=own, direction="in",
        subject=_cut(mail.subject, Message.subject), body=clean(mail.text), created_at=now,
        meta={"automatic": kind, "system": True, "notes": [clean(n) for n in mail.notes],
              "original_ids": [clean(x) for x in mail.original_ids], "attachments": []},
    )
    s.add(message)
    await s.flush()
    s.add(InquiryEvent(inquiry_id=inquiry.id, at=now, kind="system_mail", note=KIND_NOTES.get(kind, kind),
                       data={"message_id": message.id, "kind": kind, "answers": answered.id}))
    if kind == "bounce" and answered.direction == "out":
        await s.execute(update(Message).where(Message.id == answered.id).values(
            delivery="undelivered", delivery_note="возврат почты / the mail bounced", next_attempt_at=None)
            .execution_options(synchronize_session=False))
    return Filed(inquiry.id, None)


async def quarantine(s: AsyncSession, *, sha256: str, size: int, raw: bytes | None, raw_path: str | None,
                     mailbox: str, uidvalidity: int, uid: int, reason: str) -> int:
    """Keep a message that could not be stored; the same message again only counts another attempt."""
    row = (await s.execute(select(QuarantinedMail).where(QuarantinedMail.sha256 == sha256))).scalar_one_or_none()
    now = utcnow()
    if row is not None:
        row.attempts += 1
        row.reason, row.tried_at = reason[:200], now
        return row.id
    row = QuarantinedMail(mailbox=mailbox[:200], uidvalidity=uidvalidity, uid=uid, sha256=sha256, size=size,
                          raw=raw, raw_path=raw_path, reason=reason[:200], attempts=1, created_at=now, tried_at=now)
    s.add(row)
    await s.flush()
    return row.id


async def quarantined(s: AsyncSession, item_id: int) -> QuarantinedMail | None:
    return await s.get(QuarantinedMail, item_id)


async def retry_failed(s: AsyncSession, item_id: int, reason: str) -> None:
    await s.execute(update(QuarantinedMail).where(QuarantinedMail.id == item_id).values(
        attempts=QuarantinedMail.attempts + 1, reason=reason[:200], tried_at=utcnow()))


async def drop_quarantined(s: AsyncSession, item_id: int) -> str | None:
    """Delete one; returns the file that held its raw bytes (to remove after the commit), if any."""
    path = (await s.execute(select(QuarantinedMail.raw_path).where(QuarantinedMail.id == item_id))).scalar()
    await s.execute(delete(QuarantinedMail).where(QuarantinedMail.id == item_id))
    return path


async def drop_system_mail(s: AsyncSession, item_id: int) -> None:
    await s.execute(delete(SystemMail).where(SystemMail.id == item_id))


async def counts(s: AsyncSession) -> tuple[int, int]:
    """(quarantined, system mail waiting)."""
    q = (await s.execute(select(func.count()).select_from(QuarantinedMail))).scalar_one()
    m = (await s.execute(select(func.count()).select_from(SystemMail))).scalar_one()
    return int(q), int(m)


@dataclass(frozen=True, slots=True)
class QuarantineRow:
    id: int
    mailbox: str
    uid: int
    size: int
    reason: str
    attempts: int
    created_at: datetime
    tried_at: datetime


async def list_quarantine(s: AsyncSession, limit: int = 200) -> list[QuarantineRow]:
    q = QuarantinedMail
    rows = (await s.execute(select(q.id, q.mailbox, q.uid, q.size, q.reason, q.attempts, q.created_at, q.tried_at)
                            .order_by(q.id.desc()).limit(limit))).all()
    return [QuarantineRow(*r) for r in rows]


async def list_system_mail(s: AsyncSession, limit: int = 200) -> list[SystemMail]:
    return list((await s.execute(select(SystemMail).order_by(SystemMail.id.desc()).limit(limit))).scalars())
