from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import JSON, DateTime, MetaData
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite would otherwise hand back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(AsyncAttrs, DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict: JSON, list: JSON}


class CreatedAt:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Role(StrEnum):
    AGENT = "agent"
    DEPT_MANAGER = "dept_manager"
    DEPT_HEAD = "dept_head"
    DIRECTOR = "director"
    ADMIN = "admin"
    SERVICE_ENGINEER = "service_engineer"  # keeps the phones running: reads duty schedules, no client records
    DPO = "dpo"  # data-protection officer (152-ФЗ): reads every client's data, exports and erases it on request


class AgentStatus(StrEnum):
    AVAILABLE = "available"
    BREAK = "break"
    WRAP_UP = "wrap_up"
    ON_CALL = "on_call"
    OFFLINE = "offline"


class Channel(StrEnum):
    CALL = "call"
    EMAIL = "email"
    TELEGRAM = "telegram"
    WEBFORM = "webform"
    VISIT = "visit"
    MANUAL = "manual"
    VK = "vk"
    WHATSAPP = "whatsapp"
    AVITO = "avito"
    SMS = "sms"  # outgoing only (reminders, notifications)


class InquiryStatus(StrEnum):
    MODERATION = "moderation"  # waits for a moderator (per-source setting) before routing sees it
    NEW = "new"
    OFFERED = "offered"
    IN_WORK = "in_work"
    DONE = "done"
    ARCHIVED = "archived"


class Pool(StrEnum):
    """Where an inquiry without an owner waits: the department's auction or the common one."""

    NONE = "none"
    DEPARTMENT = "department"
    COMMON = "common"
    ARCHIVE = "archive"


class ContactKind(StrEnum):
    """How a client is known: each value belongs to one client (``contacts``, unique by kind and value).
    A messenger's identity is its own kind (a VK user id, a WhatsApp number), never a phone."""

    PHONE = "phone"
    EMAIL = "email"
    TELEGRAM = "telegram"
    VK = "vk"
    WHATSAPP = "whatsapp"
    AVITO = "avito"
