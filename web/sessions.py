"""Server-side browser sessions: the cookie holds a random token, the database only its SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.models import WebSession, utcnow

COOKIE = "hub_sid"
ANONYMOUS_TTL = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class SessionInfo:
    token: str
    user_id: int | None
    csrf: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def load(sessions: async_sessionmaker[AsyncSession], token: str | None) -> SessionInfo | None:
    if not token or len(token) > 100:
        return None
    async with sessions() as s:
        row = (
            await s.execute(
                select(WebSession.user_id, WebSession.csrf_token).where(
                    WebSession.id_hash == _digest(token), WebSession.expires_at > utcnow()
                )
            )
        ).one_or_none()
    return SessionInfo(token, row.user_id, row.csrf_token) if row else None


async def create(
    sessions: async_sessionmaker[AsyncSession], user_id: int | None, ttl: timedelta, replaces: str | None = None
) -> SessionInfo:
    """A new session with a new id and CSRF token; the one it replaces is deleted (rotation on login)."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = utcnow()
    async with sessions() as s, s.begin():
        if replaces:
            await s.execute(delete(WebSession).where(WebSession.id_hash == _digest(replaces)))
        await s.execute(delete(WebSession).where(WebSession.expires_at < now))
        s.add(WebSession(id_hash=_digest(token), user_id=user_id, csrf_token=csrf, created_at=now,
                         expires_at=now + ttl))
    return SessionInfo(token, user_id, csrf)


async def destroy(sessions: async_sessionmaker[AsyncSession], token: str) -> None:
    async with sessions() as s, s.begin():
        await s.execute(delete(WebSession).where(WebSession.id_hash == _digest(token)))
