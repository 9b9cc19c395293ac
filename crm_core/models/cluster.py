"""Tables several hub instances share: what a leader hands to its successor (with the fencing epoch), and
failed logins (so N instances behind a load balancer do not give an attacker N times the attempts)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base, utcnow


class LeaderState(Base):
    """One row per leadership (``hub:asterisk``…): ``epoch`` grows at every election (a fencing token: a
    write guarded by ``epoch = mine`` fails once a newer leader exists), ``data`` is the hand-off."""

    __tablename__ = "cluster_leader_state"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    epoch: Mapped[int] = mapped_column(BigInteger, default=0)
    holder: Mapped[str] = mapped_column(String(200), default="")
    data: Mapped[dict] = mapped_column(default=dict)
    saved_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginFailure(Base):
    """One failed login, under two keys (``ip:…`` and ``login:…``); rows older than the window are deleted."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column()
