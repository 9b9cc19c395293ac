"""The PBX queues' names as the agency calls them (``sales`` → «Продажи»), set in a page; they win over
``[asterisk] queue_names`` of the settings file."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base, utcnow


class QueueName(Base):
    __tablename__ = "queue_names"
    queue: Mapped[str] = mapped_column(String(80), primary_key=True)  # the PBX's own name
    title: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
