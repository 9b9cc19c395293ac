"""API tokens (an integration's key to ``/api/v1``) and the answers kept for ``Idempotency-Key``.

A token is stored only as the SHA-256 of its text: the text is 256 random bits, so the digest cannot be
reversed or guessed, a stolen table yields no usable key, and checking a request costs one hash and one
indexed read (a slow password hash such as argon2 would cost tens of milliseconds on every request).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base, CreatedAt


class ApiToken(CreatedAt, Base):
    """Acts as ``user_id`` (whose role and reach the access rules judge), narrowed to ``scopes``
    (``clients:read``, ``inquiries:write``, …), from ``allowed_ips`` (networks; empty: anywhere)."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # the first characters, to tell tokens apart in lists
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    scopes: Mapped[list] = mapped_column(default=list)
    allowed_ips: Mapped[list] = mapped_column(default=list)
    rate_per_minute: Mapped[int] = mapped_column(default=120)
    expires_at: Mapped[datetime | None] = mapped_column()
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()
    last_used_ip: Mapped[str | None] = mapped_column(String(64))


class ApiIdempotency(Base):
    """The first answer to a write sent with an ``Idempotency-Key``, replayed to a repeat of it."""

    __tablename__ = "api_idempotency"
    __table_args__ = (UniqueConstraint("principal", "key"), Index("ix_api_idempotency_created_at", "created_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    principal: Mapped[str] = mapped_column(String(40))  # token:<id> or user:<id>
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column()
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()
