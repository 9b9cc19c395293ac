"""Write to and read the audit log (``audit_log``): one row per deliberate action, with who and when.

``record`` joins the caller's transaction, so the row is there exactly when the action's own change is;
an action with no change of its own in the database (a listen, a queue pause sent to the PBX) commits
the row by itself before it is carried out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import utcnow
from crm_core.models.audit import AuditEntry


async def record(session: AsyncSession, actor_id: int | None, action: str, target: str,
                 details: dict[str, Any] | None = None, *, at: datetime | None = None) -> AuditEntry:
    """Add one entry to the session (the caller commits)."""
    entry = AuditEntry(actor_id=actor_id, action=action[:60], target=target[:200], details=dict(details or {}),
                       at=at or utcnow())
    session.add(entry)
    await session.flush()
    return entry


async def recent(session: AsyncSession, *, action_prefix: str | None = None, limit: int = 50) -> list[AuditEntry]:
    """The latest entries, newest first (optionally only actions starting with ``action_prefix``)."""
    stmt = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    if action_prefix:
        stmt = stmt.where(AuditEntry.action.startswith(action_prefix))
    return list((await session.execute(stmt)).scalars())
