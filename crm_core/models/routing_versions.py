"""Every published version of the routing rules and the drafts being tried: the whole rule set as a dict,
who saved it and when, so a page can show the change against the previous version and put an old one back."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base, utcnow


class RuleVersion(Base):
    __tablename__ = "routing_rule_versions"
    __table_args__ = (Index("ix_routing_rule_versions_state_id", "state", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(String(20))  # published | draft
    kind: Mapped[str] = mapped_column(String(20))  # initial, save, import, rollback, publish, draft
    data: Mapped[dict] = mapped_column(default=dict)  # the rule set as load_rule_data gives it
    note: Mapped[str] = mapped_column(String(200), default="")
    based_on: Mapped[int | None] = mapped_column()  # the version a draft or a rollback started from
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
