"""The official production calendar files an administrator loaded (``hub calendar load``, the page
``/admin/routing/calendar``): every load is kept with its year, hash, who and when, and the file itself; the
latest of a year is the one in force (the years shipped with the hub need no row)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base, utcnow


class CalendarFile(Base):
    __tablename__ = "routing_calendar_files"
    __table_args__ = (Index("ix_routing_calendar_files_year_id", "year", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(300), default="")  # the file's name as loaded
    loaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    content: Mapped[str] = mapped_column(Text)
