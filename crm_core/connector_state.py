"""Connectors' memory across restarts, kept in the database (so another instance can take over)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.models import ConnectorState, utcnow


class DbCheckpoint:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def load(self, key: str) -> dict | None:
        async with self._sessions() as s:
            row = await s.get(ConnectorState, key)
            return dict(row.value) if row else None

    async def save(self, key: str, value: dict) -> None:
        async with self._sessions() as s, s.begin():
            await s.merge(ConnectorState(key=key, value=dict(value), updated_at=utcnow()))
