"""The advertising source of each dialed number (DID): what a call's inquiry shows as its source."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base, utcnow


class DidSource(Base):
    """One dialed number and the advertising it was printed in (ЦИАН, Авито, a billboard…).

    ``did`` is the number's digits as the PBX writes them (``7495…``); an admin edits the table on the
    «Источники звонков» page; the ``[dids]`` settings section seeds it on the first start."""

    __tablename__ = "did_sources"
    did: Mapped[str] = mapped_column(String(40), primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
