"""Calls, their recordings and transcripts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base, CreatedAt


class Call(CreatedAt, Base):
    __tablename__ = "calls"
    id: Mapped[int] = mapped_column(primary_key=True)
    uniqueid: Mapped[str] = mapped_column(String(64), unique=True)
    linkedid: Mapped[str | None] = mapped_column(String(64), index=True)
    direction: Mapped[str] = mapped_column(String(10))  # inbound | outbound | internal
    caller: Mapped[str | None] = mapped_column(String(40), index=True)
    callee: Mapped[str | None] = mapped_column(String(40))
    caller_name: Mapped[str | None] = mapped_column(String(200))
    did: Mapped[str | None] = mapped_column(String(40))
    queue: Mapped[str | None] = mapped_column(String(80))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    agents_rung: Mapped[list] = mapped_column(default=list)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), index=True)
    inquiry_id: Mapped[int | None] = mapped_column(ForeignKey("inquiries.id"), index=True)
    started_at: Mapped[datetime | None] = mapped_column(index=True)
    queued_at: Mapped[datetime | None] = mapped_column()
    answered_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    wait_s: Mapped[float | None] = mapped_column()
    talk_s: Mapped[float | None] = mapped_column()
    outcome: Mapped[str | None] = mapped_column(String(30), index=True)
    recording_path: Mapped[str | None] = mapped_column(String(500))
    # the PBX cut it short: pbx_restart | pbx_down (killed, came back) | link_lost (outcome is what was known)
    cut_by: Mapped[str | None] = mapped_column(String(20))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", use_alter=True), index=True)
    """The callback task a click-to-call was an attempt of."""


class Recording(CreatedAt, Base):
    __tablename__ = "recordings"
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(String(500))
    channels: Mapped[int] = mapped_column(default=1)
    duration_s: Mapped[float | None] = mapped_column()


class Transcript(CreatedAt, Base):
    __tablename__ = "transcripts"
    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued|running|done|failed
    text: Mapped[str] = mapped_column(Text, default="")
    words: Mapped[list] = mapped_column(default=list)
    error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column()
