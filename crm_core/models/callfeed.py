"""The call bin: calls an agent threw out of the department call feed (spam, wrong number).

A binned call stays out of the cold list and the call reports; a supervisor can take it back out of the
bin (``restored_at``), which puts it back everywhere. One row per call (Linkedid): binning it again after
a restore reuses the row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base, utcnow


class CallBin(Base):
    __tablename__ = "call_bin"
    id: Mapped[int] = mapped_column(primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64), unique=True)
    number: Mapped[str | None] = mapped_column(String(40), index=True)
    caller_name: Mapped[str | None] = mapped_column(String(200))
    queue: Mapped[str | None] = mapped_column(String(80))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"), index=True)
    reason: Mapped[str] = mapped_column(String(20))  # spam | wrong_number
    binned_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    binned_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    restored_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    restored_at: Mapped[datetime | None] = mapped_column()
