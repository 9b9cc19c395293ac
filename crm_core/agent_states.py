"""Agent states: available, break (with a reason), wrap-up, on a call, offline — set by the agent in the
workspace, by the phone (a queue pause on the device) or by the calls themselves, with time in each kept.

A change is one conditional UPDATE of the user's status plus the span log, so two sources changing the
same agent at once leave one consistent story; a change to the state already held is not a change.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bus.bus import EventBus
from bus.events import AgentStatusChanged
from crm_core.models import AgentStatus, User, utcnow
from crm_core.models.agent_states import AgentStateSpan

log = logging.getLogger("hub.agents")

BREAK_REASONS = ("lunch", "meeting", "training", "technical", "other")
MANUAL = frozenset({AgentStatus.AVAILABLE, AgentStatus.BREAK, AgentStatus.WRAP_UP, AgentStatus.OFFLINE})


@dataclass(frozen=True, slots=True)
class StateChange:
    user_id: int
    previous: str
    status: str
    reason: str | None
    at: datetime


async def set_status(
    sessions: async_sessionmaker[AsyncSession], bus: EventBus | None, user_id: int, status: AgentStatus | str, *,
    reason: str | None = None, source: str = "hub", only_from: frozenset[str] | None = None,
) -> StateChange | None:
    """Move the agent to ``status``; ``only_from`` limits the change to agents in those states (a call
    ending puts an agent back to available only if the call had made them busy, never out of a break)."""
    status = AgentStatus(status)
    reason = (reason or None) if status == AgentStatus.BREAK else None
    now = utcnow()
    async with sessions() as s, s.begin():
        previous = (await s.execute(select(User.status).where(User.id == user_id))).scalar()
        if previous is None or previous == status:
            return None
        if only_from is not None and previous not in only_from:
            return None
        changed = await s.execute(
            update(User).where(User.id == user_id, User.status == previous).values(status=status, status_since=now)
        )
        if changed.rowcount != 1:
            return None  # someone else changed it a moment ago; theirs stands
        await s.execute(update(AgentStateSpan).where(AgentStateSpan.user_id == user_id,
                                                     AgentStateSpan.ended_at.is_(None)).values(ended_at=now))
        s.add(AgentStateSpan(user_id=user_id, status=status, reason=reason, source=source, started_at=now))
    change = StateChange(user_id, str(previous), str(status), reason, now)
    log.info("agent state user=%s %s -> %s reason=%s source=%s", user_id, previous, status, reason, source)
    if bus is not None:
        await bus.publish(AgentStatusChanged(user_id, str(status), now))
    return change


async def time_in_states(
    session: AsyncSession, user_id: int, since: datetime, until: datetime | None = None,
) -> dict[str, timedelta]:
    """Seconds spent in each state between ``since`` and ``until`` (now), spans cut at the edges."""
    until = until or utcnow()
    rows = await session.execute(
        select(AgentStateSpan.status, AgentStateSpan.started_at, AgentStateSpan.ended_at).where(
            AgentStateSpan.user_id == user_id, AgentStateSpan.started_at < until,
            func.coalesce(AgentStateSpan.ended_at, until) > since)
    )
    totals: dict[str, timedelta] = {}
    for status, started, ended in rows:
        span = min(ended or until, until) - max(started, since)
        totals[status] = totals.get(status, timedelta()) + max(span, timedelta())
    return totals
