"""Mail the hub kept aside: quarantined mail it could not store, and automatic mail answering nothing.

A quarantined message is kept raw (in the table up to a cap, else in a file under var/) with its
mailbox, UID and the reason (an exception's type, never its text), until an admin retries it with
success or deletes it. System mail (bounces, feedback reports, auto-replies, read receipts) that
names no conversation of ours waits here for an admin instead of opening a client's inquiry.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base, utcnow


class QuarantinedMail(Base):
    __tablename__ = "mail_quarantine"
    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(200))
    uidvalidity: Mapped[int] = mapped_column(BigInteger, default=0)
    uid: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)  # the raw message's: the same mail is kept once
    size: Mapped[int] = mapped_column(Integer)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)  # up to the cap; over it the file below holds it
    raw_path: Mapped[str | None] = mapped_column(String(500))
    reason: Mapped[str] = mapped_column(String(200))  # an exception's type, never message content
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    tried_at: Mapped[datetime] = mapped_column(default=utcnow)


class SystemMail(Base):
    __tablename__ = "system_mail"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)  # bounce | feedback | auto_reply | receipt
    message_id: Mapped[str] = mapped_column(String(300), unique=True)
    sender: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text, default="")
    original_ids: Mapped[list] = mapped_column(default=list)
    mailbox: Mapped[str | None] = mapped_column(String(200))
    uid: Mapped[int | None] = mapped_column(BigInteger)
    inquiry_id: Mapped[int | None] = mapped_column(ForeignKey("inquiries.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
