"""Clients (people and companies), their contacts, segments and memorable dates."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Column, Date, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_core.models.base import Base, ContactKind, CreatedAt

client_segments = Table(
    "client_segments",
    Base.metadata,
    Column("client_id", ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True),
    Column("segment_id", ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True),
)


class Segment(CreatedAt, Base):
    __tablename__ = "segments"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class Client(CreatedAt, Base):
    __tablename__ = "clients"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), default="person")  # person | company
    name: Mapped[str] = mapped_column(String(300), default="")
    company_name: Mapped[str | None] = mapped_column(String(300))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    note: Mapped[str | None] = mapped_column(Text)

    contacts: Mapped[list[Contact]] = relationship(
        back_populates="client", lazy="raise", cascade="all, delete-orphan"
    )
    segments: Mapped[list[Segment]] = relationship(secondary=client_segments, lazy="raise")


class Contact(CreatedAt, Base):
    """A phone (E.164), an email (lower-cased) or a Telegram user id; one value belongs to one client."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("kind", "value"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    kind: Mapped[ContactKind] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(320))
    label: Mapped[str | None] = mapped_column(String(100))

    client: Mapped[Client] = relationship(back_populates="contacts", lazy="raise")


class MemorableDate(CreatedAt, Base):
    __tablename__ = "memorable_dates"
    __table_args__ = (Index("ix_memorable_dates_month_day", "month", "day"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(50))  # birthday, deal anniversary, ...
    on: Mapped[date] = mapped_column(Date)
    month: Mapped[int] = mapped_column()
    day: Mapped[int] = mapped_column()
    note: Mapped[str | None] = mapped_column(Text)
