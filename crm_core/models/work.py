"""What the agency works on: properties, inquiries, messages, tasks, routing decisions, the timeline."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base, Channel, CreatedAt, InquiryStatus, Pool, utcnow


class Property(CreatedAt, Base):
    """An object (объект) that calls and inquiries are about."""

    __tablename__ = "properties"
    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(500))
    district: Mapped[str | None] = mapped_column(String(200), index=True)
    metro: Mapped[str | None] = mapped_column(String(200))
    lat: Mapped[float | None] = mapped_column()
    lon: Mapped[float | None] = mapped_column()
    property_type: Mapped[str | None] = mapped_column(String(50))  # flat, house, office, land...
    deal_type: Mapped[str | None] = mapped_column(String(10))  # sale | rent
    price: Mapped[float | None] = mapped_column(Numeric(14, 2))
    owner_client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    archived: Mapped[bool] = mapped_column(default=False)
    liquidity: Mapped[str | None] = mapped_column(String(10))  # high | medium | low (агентская оценка)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    address_key: Mapped[str | None] = mapped_column(String(500), index=True)  # lower-cased, ё→е: for search
    # the property's listing on Avito: a chat under it is a lead on this property (channels/avito)
    avito_item_id: Mapped[str | None] = mapped_column(String(40), index=True, unique=True)


class Inquiry(CreatedAt, Base):
    """One request of a client (обращение), from any channel."""

    __tablename__ = "inquiries"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        Index("ix_inquiries_pool_department", "pool", "department_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    channel: Mapped[Channel] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(300))
    thread_key: Mapped[str | None] = mapped_column(String(300), index=True)
    subject: Mapped[str | None] = mapped_column(String(500))
    source: Mapped[str | None] = mapped_column(String(200))
    did: Mapped[str | None] = mapped_column(String(40))
    utm: Mapped[dict] = mapped_column(default=dict)
    status: Mapped[InquiryStatus] = mapped_column(String(20), default=InquiryStatus.NEW, index=True)
    pool: Mapped[Pool] = mapped_column(String(20), default=Pool.NONE)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    property_id: Mapped[int | None] = mapped_column(ForeignKey("properties.id"), index=True)
    planned_action: Mapped[str | None] = mapped_column(String(300))
    planned_at: Mapped[datetime | None] = mapped_column()
    refusals: Mapped[int] = mapped_column(default=0)
    accepted_at: Mapped[datetime | None] = mapped_column()
    last_action_at: Mapped[datetime | None] = mapped_column()
    pool_entered_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class InquiryEvent(Base):
    """The history of an inquiry: every change with who made it and why."""

    __tablename__ = "inquiry_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    inquiry_id: Mapped[int] = mapped_column(ForeignKey("inquiries.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(50))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(default=dict)


class Message(CreatedAt, Base):
    """A message in an inquiry's thread: an email, a Telegram message, a form, a note about a call."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    inquiry_id: Mapped[int] = mapped_column(ForeignKey("inquiries.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), index=True)
    channel: Mapped[Channel] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(300))
    direction: Mapped[str] = mapped_column(String(3), default="in")  # in | out
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    subject: Mapped[str | None] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text, default="")
    delivery: Mapped[str | None] = mapped_column(String(40), index=True)  # queued|retry|sending|sent|undelivered
    delivery_note: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    meta: Mapped[dict] = mapped_column(default=dict)


class Task(CreatedAt, Base):
    """A callback, meeting, viewing or cold call that someone must do by a time."""

    __tablename__ = "tasks"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # callback | meeting | viewing | cold_call
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), index=True)
    inquiry_id: Mapped[int | None] = mapped_column(ForeignKey("inquiries.id"), index=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    phone: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)


class RoutingDecision(Base):
    """Who got an inquiry and why: the rule, the strategy, the load seen, who else was eligible."""

    __tablename__ = "routing_decisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    inquiry_id: Mapped[int] = mapped_column(ForeignKey("inquiries.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    pool: Mapped[str | None] = mapped_column(String(20))
    rule: Mapped[str | None] = mapped_column(String(200))
    strategy: Mapped[str | None] = mapped_column(String(50))
    explanation: Mapped[dict] = mapped_column(default=dict)


class TimelineEntry(Base):
    """One line in a client's timeline across all channels."""

    __tablename__ = "timeline"
    __table_args__ = (Index("ix_timeline_client_at", "client_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))  # inquiry_opened, message_in, call, task, ...
    channel: Mapped[str | None] = mapped_column(String(20))
    inquiry_id: Mapped[int | None] = mapped_column(ForeignKey("inquiries.id", ondelete="SET NULL"))
    ref_id: Mapped[int | None] = mapped_column()
    summary: Mapped[str] = mapped_column(Text, default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
