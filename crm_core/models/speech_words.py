"""Speech analytics' word lists as edited in the page (one row per list: rudeness, forbidden, competitors,
required); a list stored here wins over ``[speech.phrases]`` of the settings file."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base, utcnow


class SpeechWordList(Base):
    __tablename__ = "speech_word_lists"
    category: Mapped[str] = mapped_column(String(40), primary_key=True)
    phrases: Mapped[list] = mapped_column(default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
