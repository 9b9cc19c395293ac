"""Outgoing webhooks: an administrator's subscriptions and the outbox of deliveries (which is also their log).

A delivery row is written for every event a subscription asked for; the sender (one instance, the leader)
posts it, retries it with back-off, and keeps the last answer. ``event_key`` names the happening, so the
same event is queued once per subscription (a due task seen at every pass, a call seen twice)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base, utcnow


class WebhookSubscription(Base):
    """Where to post which events. The secret signs every body (HMAC-SHA256); it is shown once at creation."""

    __tablename__ = "webhook_subscriptions"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list] = mapped_column(default=list)
    secret: Mapped[str] = mapped_column(String(100))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column()


class WebhookDelivery(Base):
    """One event for one subscription: queued, sent (with retries), delivered or given up; the last answer kept.

    ``delivery_id`` is the id the receiver sees (stable across retries and re-sends: receivers de-duplicate
    by it); ``order_key`` (``inquiry:42``) keeps the events of one inquiry in order for one subscription."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_key"),
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_subscription_id_order_key", "subscription_id", "order_key"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(40), unique=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(40))
    event_key: Mapped[str] = mapped_column(String(200))
    order_key: Mapped[str | None] = mapped_column(String(100))
    occurred_at: Mapped[datetime] = mapped_column()
    body: Mapped[str] = mapped_column(Text)  # the JSON exactly as posted, the same at every attempt
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|retry|delivered|failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    last_attempt_at: Mapped[datetime | None] = mapped_column()
    response_status: Mapped[int | None] = mapped_column()
    response_excerpt: Mapped[str | None] = mapped_column(String(500))
    error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retry_since: Mapped[datetime] = mapped_column(default=utcnow)  # the 24 h of retries count from here (re-send)
    delivered_at: Mapped[datetime | None] = mapped_column()
