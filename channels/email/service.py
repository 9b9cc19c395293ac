"""Mail that the email connector read becomes an intake request; attachments go to disk, safely.

``MailIntake`` is the mailbox's handler: a message is stored, or attached where it belongs when it is
automatic mail, or quarantined raw when it cannot be stored, so one message never stops the mailbox.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import logging
from pathlib import Path

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.email import queries
from connectors.email.imap import MailRef
from connectors.email.parse import Attachment, IncomingEmail, parse_email
from crm_core.intake import IntakeRequest, IntakeService
from crm_core.intake_limits import id_ref
from crm_core.models import Channel

log = logging.getLogger("hub.email")


def store_attachments(root: Path, message_id: str, attachments: tuple[Attachment, ...]) -> list[dict]:
    """Write kept attachments under root/<hash of the message id>/; a name can never leave that folder."""
    folder = (root / hashlib.sha256(message_id.encode()).hexdigest()[:24]).resolve()
    refs = []
    for n, att in enumerate(attachments):
        ref = {"filename": att.filename, "content_type": att.content_type, "size": att.size, "kept": False}
        if att.data is not None:
            target = (folder / f"{n:02d}-{att.filename}").resolve()
            if not target.is_relative_to(folder):  # belt and braces: safe_filename already strips paths
                raise ValueError(f"attachment name escapes its folder: {att.filename!r}")
            folder.mkdir(parents=True, exist_ok=True)
            target.write_bytes(att.data)
            ref.update(kept=True, path=str(target.relative_to(root.resolve())))
        refs.append(ref)
    return refs


def email_request(mail: IncomingEmail, attachment_refs: list[dict]) -> IntakeRequest:
    return IntakeRequest(
        channel=Channel.EMAIL, external_id=mail.message_id, email=mail.from_address, name=mail.from_name,
        subject=mail.subject or None, text=mail.text, thread_key=mail.message_id,
        reply_to=tuple(x for x in (mail.in_reply_to, *mail.references) if x), source="email",
        notes=mail.notes, meta={"automatic": mail.automatic, "attachments": attachment_refs,
                                "generated_id": mail.generated_id},
    )


SYSTEM_KINDS = frozenset({"bounce", "feedback", "auto_reply", "receipt"})
TRANSIENT = (OperationalError, InterfaceError, OSError, TimeoutError)  # the database or disk, not this message
TRANSIENT_TRIES = 3  # after these a message failing even so is quarantined: it must not stop the mailbox
RAW_IN_TABLE_CAP = 32 * 1024 * 1024  # bigger raw mail is kept in a file under var/quarantine/


def failure_reason(exc: BaseException) -> str:
    """The error's type, and for a disk or socket error its errno name (``OSError ENOSPC``: the disk is full);
    never its text, which may quote the message or name an attachment."""
    code = errno.errorcode.get(exc.errno) if isinstance(exc, OSError) and exc.errno else None
    return f"{type(exc).__name__} {code}" if code else type(exc).__name__


class MailNotStored(Exception):
    """A message was neither stored nor quarantined; the mailbox reads it again. Names only the error type
    (and its errno name), never its text."""


class MailIntake:
    """Mail in: parse off the event loop, keep attachments on disk, then the intake, or for automatic mail
    the conversation it answers. A message that cannot be stored is quarantined, raw, so the mailbox moves
    on; an admin retries or deletes it. Logs name UIDs, hashes and ids, never content."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], intake: IntakeService, var_dir: Path) -> None:
        self._sessions = sessions
        self._intake = intake
        self.var_dir = var_dir
        self.quarantined: int | None = None  # for /healthz; None until first counted
        self.system_waiting: int | None = None
        self._failures: dict[str, int] = {}
        self._counting = asyncio.Lock()  # recounts in turn: the last one written is the newest

    async def receive(self, raw: bytes, ref: MailRef) -> None:
        key = hashlib.sha256(raw).hexdigest()
        try:
            await self.take_in(raw, ref)
            self._failures.pop(key, None)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever the message does, the mailbox must go on
            reason = failure_reason(exc)
            tries = self._failures[key] = self._failures.get(key, 0) + 1
            if isinstance(exc, TRANSIENT) and tries < TRANSIENT_TRIES:
                log.warning("mail uid=%s not stored (%s), try %d; the mailbox reads it again", ref.uid, reason, tries)
                raise MailNotStored(reason) from None
        try:
            item = await self.quarantine(raw, ref, reason)
        except Exception as exc:  # noqa: BLE001 - nothing kept: the UID must be read again
            log.error("mail uid=%s could not be quarantined (%s); the mailbox reads it again", ref.uid,
                      type(exc).__name__)
            raise MailNotStored(type(exc).__name__) from None
        self._failures.pop(key, None)
        log.warning("mail uid=%s sha=%s quarantined as item=%s (%s); the mailbox goes on", ref.uid, key[:12],
                    item, reason)

    async def take_in(self, raw: bytes, ref: MailRef | None) -> None:
        mail = await asyncio.to_thread(parse_email, raw)
        uid = ref.uid if ref else None
        if mail.automatic in SYSTEM_KINDS:
            async with self._sessions() as s, s.begin():
                filed = await queries.file_automatic(s, mail, ref.mailbox if ref else None, uid)
            if filed.system_mail_id is not None and not filed.duplicate:
                await self.refresh()  # a recount, not an increment: mail is taken in side by side
            log.info("mail uid=%s ref=%s automatic=%s inquiry=%s system_mail=%s duplicate=%s", uid,
                     id_ref(mail.message_id), mail.automatic, filed.inquiry_id, filed.system_mail_id, filed.duplicate)
            return
        refs = await asyncio.to_thread(store_attachments, self.var_dir / "attachments", mail.message_id,
                                       mail.attachments)
        result = await self._intake.accept(email_request(mail, refs))
        log.info("mail uid=%s ref=%s inquiry=%s automatic=%s duplicate=%s", uid, id_ref(mail.message_id),
                 result.inquiry_id, mail.automatic, result.duplicate)

    async def quarantine(self, raw: bytes, ref: MailRef, reason: str) -> int:
        sha = hashlib.sha256(raw).hexdigest()
        kept: bytes | None = raw
        path: str | None = None
        if len(raw) > RAW_IN_TABLE_CAP:
            path = f"quarantine/{sha}.eml"
            await asyncio.to_thread(_write, self.var_dir / path, raw)
            kept = None
        async with self._sessions() as s, s.begin():
            item = await queries.quarantine(s, sha256=sha, size=len(raw), raw=kept, raw_path=path,
                                            mailbox=ref.mailbox, uidvalidity=ref.uidvalidity, uid=ref.uid,
                                            reason=reason)
        await self.refresh()
        return item

    async def retry(self, item_id: int) -> bool:
        """Take a quarantined message in again; on success it leaves the quarantine."""
        async with self._sessions() as s:
            row = await queries.quarantined(s, item_id)
            if row is None:
                return False
            raw = row.raw if row.raw is not None else await asyncio.to_thread(
                (self.var_dir / str(row.raw_path)).read_bytes)
            ref = MailRef(row.mailbox, row.uidvalidity, row.uid)
        try:
            await self.take_in(raw, ref)
        except Exception as exc:  # noqa: BLE001 - it stays quarantined, with the new reason
            async with self._sessions() as s, s.begin():
                await queries.retry_failed(s, item_id, failure_reason(exc))
            log.warning("quarantined item=%s retried, failed again (%s)", item_id, failure_reason(exc))
            return False
        await self.delete(item_id)
        log.info("quarantined item=%s retried and taken in", item_id)
        return True

    async def delete(self, item_id: int) -> None:
        async with self._sessions() as s, s.begin():
            path = await queries.drop_quarantined(s, item_id)
        if path:
            (self.var_dir / path).unlink(missing_ok=True)
        await self.refresh()

    async def dismiss_system_mail(self, item_id: int) -> None:
        async with self._sessions() as s, s.begin():
            await queries.drop_system_mail(s, item_id)
        await self.refresh()

    async def refresh(self) -> None:
        """Count again after a change. In turn, so a count read before another message's commit is never
        written after the count that saw it (an increment raced a recount: one bounce counted twice)."""
        async with self._counting, self._sessions() as s:
            self.quarantined, self.system_waiting = await queries.counts(s)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
