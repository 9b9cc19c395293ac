"""Notices to the hub's people (browser, their Telegram chat, email) and the memorable dates' reminders and
greetings. Every "sent once" is a unique key here, so two hub instances cannot send the same thing twice."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base, CreatedAt, utcnow


class Notification(Base):
    """One notice for one user; ``dedup_key`` names the happening (e.g. ``offer:12``) so it is stored once."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("user_id", "dedup_key"),
                      Index("ix_notifications_user_id_created_at", "user_id", "created_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))  # routing | sla | callback | dates | analytics
    text: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(500))
    dedup_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column()


class NoticeDelivery(Base):
    """A notice or a client's greeting on its way out by Telegram or email: queued, retried on a temporary
    failure, ``failed`` with the reason on a permanent one. ``source`` + ``channel`` is sent once."""

    __tablename__ = "notice_deliveries"
    __table_args__ = (UniqueConstraint("source", "channel"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(120))  # notice:<id> | greeting:<memorable_send id>
    channel: Mapped[str] = mapped_column(String(20))  # telegram | email
    to: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300), default="")
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)  # queued|retry|sending|sent|failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()


class NotificationPrefs(Base):
    """Which kinds of notice a user gets on which channel: ``{"sla": ["browser", "telegram"], ...}``."""

    __tablename__ = "notification_prefs"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    channels: Mapped[dict] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TelegramLinkCode(Base):
    """A one-time code an agent sends to the bot as ``/link CODE`` to get notices in their own chat."""

    __tablename__ = "telegram_link_codes"
    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column()


class GreetingTemplate(CreatedAt, Base):
    """A greeting text with ``{name}``, ``{title}``, ``{date}``, ``{agency}`` placeholders."""

    __tablename__ = "greeting_templates"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(default=True)


class DateReminder(Base):
    """How a client's memorable date (``memorable_dates``) is reminded and greeted. A date without a row
    here is reminded with the defaults and not greeted."""

    __tablename__ = "date_reminders"
    date_id: Mapped[int] = mapped_column(ForeignKey("memorable_dates.id", ondelete="CASCADE"), primary_key=True)
    title: Mapped[str | None] = mapped_column(String(200))
    lead_days: Mapped[int] = mapped_column(default=3)
    repeat_yearly: Mapped[bool] = mapped_column(default=True)
    greet_by: Mapped[str | None] = mapped_column(String(20))  # telegram | email | None
    template_id: Mapped[int | None] = mapped_column(ForeignKey("greeting_templates.id", ondelete="SET NULL"))


class GreetingSent(Base):
    """A greeting for one occurrence of a date: the row is the proof it went (or was queued) once."""

    __tablename__ = "greetings_sent"
    __table_args__ = (UniqueConstraint("date_id", "occurrence"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    date_id: Mapped[int] = mapped_column(ForeignKey("memorable_dates.id", ondelete="CASCADE"))
    occurrence: Mapped[date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(default=utcnow)
