"""The settings journal: every change of the agency's setup (scripts, checklists, word lists, sources, queue
names, users and roles) with who, when and the value before and after, as JSON. The routing rules keep their own
versions (``routing_rule_versions``); the journal page shows those beside these rows, linked, not copied."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base, utcnow


class SettingChange(Base):
    __tablename__ = "settings_audit"
    __table_args__ = (Index("ix_settings_audit_at", "at"), Index("ix_settings_audit_kind_at", "kind", "at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(40))  # script | checklist | word_list | source | queue | user | …
    key: Mapped[str] = mapped_column(String(200))  # which one: "script:3", "queue:sales", "user:12"
    before: Mapped[Any] = mapped_column(JSON, nullable=True)  # None: created
    after: Mapped[Any] = mapped_column(JSON, nullable=True)  # None: deleted
