"""Workflow: request moderation, quality control (checklists, the re-check queue, reviews), call scripts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base, CreatedAt, utcnow


class WorkflowSetting(Base):
    """Settings an administrator edits in the workspace (which sources need moderation, the QC sampling rule)."""

    __tablename__ = "workflow_settings"
    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[dict] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModerationDecision(Base):
    """A moderator's accept or reject of a request; a rejected one stays (archived) and is searchable by this."""

    __tablename__ = "moderation_decisions"
    __table_args__ = (Index("ix_moderation_decisions_decision_at", "decision", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    inquiry_id: Mapped[int] = mapped_column(ForeignKey("inquiries.id", ondelete="CASCADE"), index=True)
    decision: Mapped[str] = mapped_column(String(20))  # accepted | rejected
    reason: Mapped[str] = mapped_column(Text, default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class QcChecklist(CreatedAt, Base):
    """An administrator's checklist: items with weights (``[{"key", "text", "weight"}]``)."""

    __tablename__ = "qc_checklists"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    items: Mapped[list] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(default=True)


class QcItem(CreatedAt, Base):
    """A closed inquiry or a call to re-check (sampled by the rule, flagged by speech analytics, or by hand),
    and, once reviewed, the review: marks per checklist item and the weighted score (0..1)."""

    __tablename__ = "qc_items"
    __table_args__ = (Index("ix_qc_items_status_created", "status", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # inquiry | call
    inquiry_id: Mapped[int | None] = mapped_column(ForeignKey("inquiries.id", ondelete="CASCADE"), unique=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), unique=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    reason: Mapped[str] = mapped_column(String(40))  # sample | speech | manual
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | reviewed
    checklist_id: Mapped[int | None] = mapped_column(ForeignKey("qc_checklists.id", ondelete="SET NULL"))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    marks: Mapped[dict] = mapped_column(default=dict)
    score: Mapped[float | None] = mapped_column()
    comment: Mapped[str] = mapped_column(Text, default="")
    reopened: Mapped[bool] = mapped_column(default=False)
    reviewed_at: Mapped[datetime | None] = mapped_column(index=True)


class CallScript(CreatedAt, Base):
    """A branching call script: steps ``[{"id", "question", "fields": [..], "answers": [{"text", "next"}]}]``,
    shown for the listed queues (first) or inquiry channels."""

    __tablename__ = "call_scripts"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    queues: Mapped[list] = mapped_column(default=list)
    channels: Mapped[list] = mapped_column(default=list)
    steps: Mapped[list] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScriptRun(CreatedAt, Base):
    """An agent's way through a script during a call: the answers and filled fields, stored on the inquiry
    (a call's inquiry is opened when the call ends: until then the run waits by the call's linkedid)."""

    __tablename__ = "script_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    script_id: Mapped[int | None] = mapped_column(ForeignKey("call_scripts.id", ondelete="SET NULL"))
    script_name: Mapped[str] = mapped_column(String(200), default="")
    inquiry_id: Mapped[int | None] = mapped_column(ForeignKey("inquiries.id", ondelete="CASCADE"), index=True)
    linkedid: Mapped[str | None] = mapped_column(String(64), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answers: Mapped[list] = mapped_column(default=list)
    attached_at: Mapped[datetime | None] = mapped_column()
