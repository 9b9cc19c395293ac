"""Speech: transcription jobs, recognised words, analytics flags and the PostgreSQL search document.

The transcript itself (status, text, error) stays in ``transcripts`` (crm_core/models/telephony.py);
these tables hang off it. SQLite's FTS5 index lives in a file beside the database (speech/search.py says why).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from crm_core.models.base import Base, CreatedAt


class SearchVector(TypeDecorator[str]):
    """``tsvector`` on PostgreSQL; on SQLite an unused text column (FTS5 does the searching there)."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect):  # noqa: ANN001, ANN201
        if dialect.name == "postgresql":
            return dialect.type_descriptor(TSVECTOR())
        return dialect.type_descriptor(Text())


class SpeechJob(CreatedAt, Base):
    """One recording to transcribe: queued → running → done | failed (with the reason)."""

    __tablename__ = "speech_jobs"
    __table_args__ = (Index("ix_speech_jobs_status_lease", "status", "lease_until"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id", ondelete="CASCADE"), unique=True)
    transcript_id: Mapped[int] = mapped_column(ForeignKey("transcripts.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    worker: Mapped[str | None] = mapped_column(String(120))
    lease_until: Mapped[datetime | None] = mapped_column()
    reason: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()


class SpeechWord(Base):
    """A recognised word with its time in the recording, the recogniser's confidence and the speaker."""

    __tablename__ = "speech_words"
    __table_args__ = (UniqueConstraint("transcript_id", "position"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    transcript_id: Mapped[int] = mapped_column(ForeignKey("transcripts.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(20))  # agent | client | speaker (one mixed channel)
    word: Mapped[str] = mapped_column(String(200))
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    conf: Mapped[float] = mapped_column(Float)


class SpeechFlag(CreatedAt, Base):
    """A phrase from an analytics list heard in a call (or a required phrase never said: ``at_s`` is None)."""

    __tablename__ = "speech_flags"
    id: Mapped[int] = mapped_column(primary_key=True)
    transcript_id: Mapped[int] = mapped_column(ForeignKey("transcripts.id", ondelete="CASCADE"), index=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    category: Mapped[str] = mapped_column(String(30))  # rudeness | forbidden | competitors | missing_script
    phrase: Mapped[str] = mapped_column(String(300))
    heard: Mapped[str | None] = mapped_column(String(300))
    at_s: Mapped[float | None] = mapped_column(Float)
    speaker: Mapped[str | None] = mapped_column(String(20))


class SpeechDocument(Base):
    """What full-text search reads: the transcript's text and, on PostgreSQL, its 'russian' tsvector."""

    __tablename__ = "speech_documents"
    __table_args__ = (Index("ix_speech_documents_tsv", "tsv", postgresql_using="gin"),)
    transcript_id: Mapped[int] = mapped_column(ForeignKey("transcripts.id", ondelete="CASCADE"), primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)
    tsv: Mapped[str | None] = mapped_column(SearchVector())
