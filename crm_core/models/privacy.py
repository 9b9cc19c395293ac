"""Personal data (152-ФЗ): clients' consents, the log of who read a client's data, erasures and retention runs.

Consents are kept as a history (a new row for every grant or withdrawal); a client's consent to a purpose is
the latest row. The access log has no foreign keys: it must outlive an erased client or a removed user, and
its rows are written in batches from the web process.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base, utcnow


class ClientConsent(Base):
    __tablename__ = "privacy_consents"
    __table_args__ = (Index("ix_privacy_consents_client_purpose", "client_id", "purpose", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(20))  # processing | recording | marketing
    granted: Mapped[bool] = mapped_column()
    source: Mapped[str] = mapped_column(String(20))  # webform | bot | agent | import | api
    source_ref: Mapped[str | None] = mapped_column(String(300))  # the site, the file, the chat
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class AccessLogEntry(Base):
    __tablename__ = "privacy_access_log"
    __table_args__ = (
        Index("ix_privacy_access_log_at", "at"),
        Index("ix_privacy_access_log_client_at", "client_id", "at"),
        Index("ix_privacy_access_log_user_at", "user_id", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column()
    kind: Mapped[str] = mapped_column(String(30))  # card | recording_play | recording_download | transcript | …
    client_id: Mapped[int | None] = mapped_column()
    ref: Mapped[str | None] = mapped_column(String(200))  # call:12, recording:3, report:calls.csv


class Erasure(Base):
    """A client's data erased on request: who did it, why, and what was removed (counts only)."""

    __tablename__ = "privacy_erasures"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text)
    counts: Mapped[dict] = mapped_column(default=dict)


class RetentionRun(Base):
    __tablename__ = "privacy_retention_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column()
    dry_run: Mapped[bool] = mapped_column(default=False)
    counts: Mapped[dict] = mapped_column(default=dict)
    instance: Mapped[str | None] = mapped_column(String(200))
