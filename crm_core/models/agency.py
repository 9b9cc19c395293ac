"""The agency's own process: funnel stages per department, the results directory, deals grown out of
inquiries with their steps (viewings, contracts, actions), property links from calls and inquiries, and
owner leads imported for cold calling.

The core tables (``inquiries``, ``properties``, ``tasks``, ``timeline``) are read and written here; every
step also lands on the inquiry's history and the client's timeline.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base, CreatedAt, utcnow


class FunnelStage(CreatedAt, Base):
    """One stage of a department's funnel (``list_key`` 0: the default list for departments without one)."""

    __tablename__ = "agency_funnel_stages"
    __table_args__ = (UniqueConstraint("list_key", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    list_key: Mapped[int] = mapped_column(index=True)  # department id, or 0 for the default list
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column()
    positive: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)


class ResultKind(CreatedAt, Base):
    """An entry of the results directory (справочник результатов) agents pick when they close an action."""

    __tablename__ = "agency_results"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(150), unique=True)
    applies_to: Mapped[str] = mapped_column(String(20), default="any")  # any | action | viewing | contract | call
    positive: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class Deal(CreatedAt, Base):
    """A deal (сделка) grown out of one inquiry; it moves through its department's funnel stages."""

    __tablename__ = "agency_deals"
    id: Mapped[int] = mapped_column(primary_key=True)
    inquiry_id: Mapped[int] = mapped_column(ForeignKey("inquiries.id", ondelete="CASCADE"), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    stage_id: Mapped[int | None] = mapped_column(ForeignKey("agency_funnel_stages.id", ondelete="SET NULL"))
    property_id: Mapped[int | None] = mapped_column(ForeignKey("properties.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)  # open | won | lost
    reached_positive_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DealStep(CreatedAt, Base):
    """A step of a deal: a viewing (просмотр), a contract (договор), another action, or a stage change."""

    __tablename__ = "agency_deal_steps"
    __table_args__ = (Index("ix_agency_deal_steps_deal_at", "deal_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("agency_deals.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # viewing | contract | action | stage
    status: Mapped[str] = mapped_column(String(10), default="done")  # planned | done | cancelled
    at: Mapped[datetime] = mapped_column()
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    property_id: Mapped[int | None] = mapped_column(ForeignKey("properties.id", ondelete="SET NULL"), index=True)
    result_id: Mapped[int | None] = mapped_column(ForeignKey("agency_results.id", ondelete="SET NULL"))
    stage_id: Mapped[int | None] = mapped_column(ForeignKey("agency_funnel_stages.id", ondelete="SET NULL"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class PropertyLink(Base):
    """A property a call or an inquiry was about; per-property statistics count these."""

    __tablename__ = "agency_property_links"
    __table_args__ = (
        UniqueConstraint("property_id", "inquiry_id"),
        UniqueConstraint("property_id", "call_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id", ondelete="CASCADE"), index=True)
    inquiry_id: Mapped[int | None] = mapped_column(ForeignKey("inquiries.id", ondelete="CASCADE"), index=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    linked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class OwnerLead(CreatedAt, Base):
    """A property owner from a bulk source: one cold-call task until reached, then a viewing task.

    De-duplicated by (normalised address, owner phone) in the database.
    """

    __tablename__ = "agency_owner_leads"
    __table_args__ = (UniqueConstraint("address_key", "phone"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    address_key: Mapped[str] = mapped_column(String(500))
    phone: Mapped[str] = mapped_column(String(40))
    owner_name: Mapped[str | None] = mapped_column(String(300))
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="calling", index=True)  # calling|reached|refused|gave_up
    source: Mapped[str | None] = mapped_column(String(200))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    attempts: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
