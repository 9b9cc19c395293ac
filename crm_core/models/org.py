"""People who work in the agency: divisions, departments, teams, users."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_core.models.base import AgentStatus, Base, CreatedAt, Role, utcnow


class Division(CreatedAt, Base):
    __tablename__ = "divisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class Department(CreatedAt, Base):
    __tablename__ = "departments"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    division_id: Mapped[int | None] = mapped_column(ForeignKey("divisions.id"), index=True)
    division: Mapped[Division | None] = relationship(lazy="raise")
    # a department in another city: its own zone and hours ("09:00-13:00, 14:00-18:00"); None: the agency's
    time_zone: Mapped[str | None] = mapped_column(String(64))
    work_hours: Mapped[str | None] = mapped_column(String(200))


team_members = Table(
    "team_members",
    Base.metadata,
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)


class Team(CreatedAt, Base):
    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)


class User(CreatedAt, Base):
    """A person who logs in: an agent, a manager, a director or an administrator."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(100), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(String(20), default=Role.AGENT)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    extension: Mapped[str | None] = mapped_column(String(40), unique=True)
    status: Mapped[AgentStatus] = mapped_column(String(20), default=AgentStatus.OFFLINE)
    status_since: Mapped[datetime] = mapped_column(default=utcnow)
    skills: Mapped[list] = mapped_column(default=list)
    locale: Mapped[str] = mapped_column(String(5), default="ru")
    is_active: Mapped[bool] = mapped_column(default=True)
    telegram_chat_id: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(320))
    note: Mapped[str | None] = mapped_column(Text)

    department: Mapped[Department | None] = relationship(lazy="raise")
    teams: Mapped[list[Team]] = relationship(secondary=team_members, lazy="raise")


class WebSession(Base):
    """A browser session kept server-side, so any hub instance can serve it and logout really ends it."""

    __tablename__ = "web_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ConnectorState(Base):
    """What a connector must remember across restarts (IMAP last UID and UIDVALIDITY, Telegram update_id)."""

    __tablename__ = "connector_state"
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    value: Mapped[dict] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
