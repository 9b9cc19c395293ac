"""Routing's own tables: the rules the administrator edits, agents' routing profiles and duty rotas, team
offers, the routing state (round-robin pointers), and the per-inquiry routing record (idempotency, the
excluded agents, the SLA deadline the scheduler waits for).

The core tables (``inquiries``, ``routing_decisions``, ``users``) are read and written, never restructured.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base, utcnow


class RoutingRule(Base):
    """One rule of the rule set: its id, place (priority), enabled flag, and the rest of its fields as the
    TOML file has them (``body``: name, when, target, strategy, ...). Validated as a whole before saving."""

    __tablename__ = "routing_rules"
    id: Mapped[int] = mapped_column(primary_key=True)
    rule_key: Mapped[str] = mapped_column(String(100), unique=True)
    priority: Mapped[int] = mapped_column(unique=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    body: Mapped[dict] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class RoutingTerritory(Base):
    """A named polygon (GeoJSON) that rules refer to by ``rule_key``."""

    __tablename__ = "routing_territories"
    id: Mapped[int] = mapped_column(primary_key=True)
    territory_key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    geojson: Mapped[dict] = mapped_column(default=dict)


class RoutingKV(Base):
    """Small routing records by key: ``default_rule`` (the catch-all rule), ``state`` (RoutingState)."""

    __tablename__ = "routing_kv"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[dict] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AgentRoutingProfile(Base):
    """What routing knows of an agent beyond ``users``: capacity per channel, languages, duty rota."""

    __tablename__ = "routing_agent_profiles"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    routable: Mapped[bool] = mapped_column(default=True)
    capacity: Mapped[dict] = mapped_column(default=dict)  # channel → open items allowed
    languages: Mapped[list] = mapped_column(default=lambda: ["ru"])
    duty_schedule: Mapped[str | None] = mapped_column(ForeignKey("routing_duty_schedules.id", ondelete="SET NULL"))


class DutyRota(Base):
    """A duty schedule (график дежурств): weekly intervals, dated exceptions, holidays off."""

    __tablename__ = "routing_duty_schedules"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    weekly: Mapped[dict] = mapped_column(default=dict)  # "mon" → [["09:00", "18:00"], ...]
    exceptions: Mapped[dict] = mapped_column(default=dict)  # "2025-03-08" → [] (off) or intervals
    holidays_off: Mapped[bool] = mapped_column(default=True)
    # a department's rota counts in that department's time zone (None: the agency's)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))


class RoutedInquiry(Base):
    """Routing's record of one inquiry: routed once (the primary key makes a replayed event harmless), who
    must not get it again (refused, went offline while it was offered)."""

    __tablename__ = "routing_inquiries"
    inquiry_id: Mapped[int] = mapped_column(ForeignKey("inquiries.id", ondelete="CASCADE"), primary_key=True)
    routed_at: Mapped[datetime] = mapped_column(default=utcnow)
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("routing_decisions.id", ondelete="SET NULL"))
    excluded: Mapped[dict] = mapped_column(default=dict)  # agent id (str) → reason


offer_agents = Table(
    "routing_offer_agents",
    Base.metadata,
    Column("offer_id", ForeignKey("routing_offers.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_routing_offer_agents_user_id", "user_id"),
)


class TeamOffer(Base):
    """"Беру работу на себя": an inquiry offered to a group until ``deadline``; the first claim wins."""

    __tablename__ = "routing_offers"
    __table_args__ = (
        UniqueConstraint("inquiry_id", "round"),
        Index("ix_routing_offers_state_deadline", "state", "deadline"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    inquiry_id: Mapped[int] = mapped_column(ForeignKey("inquiries.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(default=1)
    rule_key: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deadline: Mapped[datetime] = mapped_column()
    on_timeout: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20), default="open")  # open | claimed | expired | withdrawn
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    closed_at: Mapped[datetime | None] = mapped_column()
    note: Mapped[str | None] = mapped_column(Text)


class SlaDeadline(Base):
    """The next escalation step of an open inquiry and when it is due, as the SLA scheduler last computed it
    from the inquiry's stored timestamps (recomputed whenever the inquiry changes; survives restarts)."""

    __tablename__ = "routing_sla"
    inquiry_id: Mapped[int] = mapped_column(ForeignKey("inquiries.id", ondelete="CASCADE"), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(40))
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
