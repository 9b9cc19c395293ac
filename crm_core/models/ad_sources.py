"""Advertising sources of web forms: a UTM label's source name, and what each source costs a month.

The «Источники звонков» page edits both; a web form's inquiry takes its source from ``utm_sources`` (the DID
map, ``did_sources``, does the same for calls), and the sources report divides ``source_costs`` by the
inquiries and deals of each source."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base, utcnow


class UtmSource(Base):
    """``utm_source`` (and, when given, ``utm_campaign``) → the source name an inquiry gets.

    Both labels are kept lower-case and trimmed; ``utm_campaign`` is ``""`` for «any campaign» (a row with the
    campaign wins over the row without it)."""

    __tablename__ = "utm_sources"
    __table_args__ = (UniqueConstraint("utm_source", "utm_campaign"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    utm_source: Mapped[str] = mapped_column(String(200))
    utm_campaign: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class SourceCost(Base):
    """What one advertising source cost in one calendar month (``month`` as ``YYYY-MM``), in kopecks."""

    __tablename__ = "source_costs"
    __table_args__ = (UniqueConstraint("source", "month"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    month: Mapped[str] = mapped_column(String(7))
    amount_kop: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
