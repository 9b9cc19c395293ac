"""What the wallboard reads from the database: agents with their load, SLA deadlines, flagged calls, today's
queue calls, and who watches (the supervisors and the departments each may see)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from crm_core.models import Call, Department, Inquiry, Role, User
from crm_core.models.agent_states import AgentStateSpan
from crm_core.models.routing import SlaDeadline
from crm_core.models.speech import SpeechFlag
from crm_core.models.staff import ServedDepartment
from routing.agents import AgentDirectory
from routing.calendar import WorkCalendar
from routing.queries import agent_directory
from wallboard.boards import AgentRow, HistoryRow, Scope, epoch

VIEW_ROLES = (Role.DEPT_MANAGER, Role.DEPT_HEAD, Role.DIRECTOR, Role.ADMIN)
"""Who may watch the wallboard and listen to a call."""
ACT_ROLES = (Role.DEPT_MANAGER, Role.DEPT_HEAD, Role.ADMIN)
"""Who may also pause an agent, whisper, barge and reassign an inquiry (a director reads, does not steer)."""
ROWS_PER_TURN = 200  # rows of a long reading handled per turn of the event loop


async def agents(session: AsyncSession, work: WorkCalendar | None = None,
                 directory: AgentDirectory | None = None) -> list[AgentRow]:
    """Agents (and anyone with an extension), with open inquiries and their capacity on other channels.
    ``directory``: routing's kept snapshot of the agents, when there is one (building one here for every
    reading cost the hub more than routing itself at 2,000 agents: a reading follows every assignment)."""
    if directory is None:
        directory = await agent_directory(session, work)
    result = await session.stream(
        select(User.id, User.full_name, User.extension, User.department_id, User.status, User.status_since)
        .where(User.is_active.is_(True), or_(User.role == Role.AGENT, User.extension.is_not(None)))
        .order_by(User.full_name, User.id))
    out = []
    async for part in result.partitions(ROWS_PER_TURN):  # 1,000 agents read in one go held the loop 10-19 ms
        for row in part:
            out.append(_agent_row(row, directory))
    return out


def _agent_row(row: Any, directory: AgentDirectory) -> AgentRow:
    snap = directory.get(row.id)
    load = capacity = None
    if snap is not None:
        load = sum(n for ch, n in snap.load.items() if ch != "call")
        capacity = sum(n for ch, n in snap.capacity.items() if ch != "call")
    return AgentRow(row.id, row.full_name, row.extension, row.department_id, str(row.status),
                    epoch(row.status_since) or 0.0, load, capacity)


async def break_reason(session: AsyncSession, user_id: int) -> str | None:
    return (await session.execute(
        select(AgentStateSpan.reason).where(AgentStateSpan.user_id == user_id, AgentStateSpan.ended_at.is_(None))
        .order_by(AgentStateSpan.id.desc()).limit(1))).scalar()


async def deadlines(session: AsyncSession, now: datetime, window: timedelta, limit: int) -> list[dict[str, Any]]:
    """Inquiries whose next SLA step is due (overdue) or falls within ``window`` (soon overdue)."""
    owner = aliased(User)
    rows = (await session.execute(
        select(SlaDeadline.due_at, SlaDeadline.action, SlaDeadline.reason, Inquiry.id, Inquiry.subject,
               Inquiry.channel, Inquiry.pool, Inquiry.department_id, Inquiry.owner_id, owner.full_name,
               owner.department_id.label("owner_department"))
        .join(Inquiry, Inquiry.id == SlaDeadline.inquiry_id)
        .outerjoin(owner, owner.id == Inquiry.owner_id)
        .where(SlaDeadline.due_at <= now + window)
        .order_by(SlaDeadline.due_at, Inquiry.id).limit(limit))).all()
    return [{
        "id": r.id, "subject": r.subject, "channel": str(r.channel), "pool": str(r.pool), "owner_id": r.owner_id,
        "owner": r.full_name, "due_at": epoch(r.due_at), "action": r.action, "reason": r.reason,
        "overdue": r.due_at <= now,
        "departments": sorted({d for d in (r.department_id, r.owner_department) if d is not None}),
    } for r in rows]


async def flagged_calls(session: AsyncSession, since: datetime, limit: int) -> list[dict[str, Any]]:
    """Today's calls that speech analytics flagged, newest first, one row per call."""
    calls = (await session.execute(
        select(Call.id, Call.started_at, Call.caller, Call.queue, User.full_name, User.department_id,
               func.count(SpeechFlag.id).label("n"), func.max(SpeechFlag.created_at).label("flagged_at"))
        .join(SpeechFlag, SpeechFlag.call_id == Call.id).outerjoin(User, User.id == Call.agent_id)
        .where(SpeechFlag.created_at >= since)
        .group_by(Call.id, Call.started_at, Call.caller, Call.queue, User.full_name, User.department_id)
        .order_by(func.max(SpeechFlag.created_at).desc(), Call.id.desc()).limit(limit))).all()
    if not calls:
        return []
    categories: dict[int, set[str]] = {}
    for call_id, category in (await session.execute(
            select(SpeechFlag.call_id, SpeechFlag.category).where(SpeechFlag.call_id.in_([c.id for c in calls])))):
        categories.setdefault(call_id, set()).add(category)
    return [{
        "call_id": c.id, "at": epoch(c.started_at or c.flagged_at), "caller": c.caller, "queue": c.queue,
        "agent": c.full_name, "flags": c.n, "categories": sorted(categories.get(c.id, ())),
        "departments": [c.department_id] if c.department_id is not None else [],
    } for c in calls]


async def queue_history(session: AsyncSession, since: datetime) -> list[HistoryRow]:
    """Today's stored calls that went through a queue and were answered or abandoned there."""
    rows = (await session.execute(
        select(Call.queue, Call.linkedid, Call.uniqueid, Call.outcome, Call.answered_at, Call.wait_s, Call.talk_s)
        .where(Call.queue.is_not(None), Call.started_at >= since,
               Call.outcome.in_(("answered", "transferred", "abandoned"))))).all()
    return [HistoryRow(r.queue, r.linkedid or r.uniqueid, r.outcome != "abandoned", float(r.wait_s or 0.0),
                       float(r.talk_s) if r.talk_s is not None and r.outcome != "abandoned" else None)
            for r in rows]


async def audience(session: AsyncSession) -> dict[int, Scope]:
    """Every supervisor and the departments they may see (None: all, the administrator)."""
    rows = (await session.execute(
        select(User.id, User.role, User.department_id, Department.division_id)
        .outerjoin(Department, Department.id == User.department_id)
        .where(User.is_active.is_(True), User.role.in_(VIEW_ROLES)))).all()
    served: dict[int, set[int]] = {}
    for user_id, dept in (await session.execute(select(ServedDepartment.user_id, ServedDepartment.department_id))):
        served.setdefault(user_id, set()).add(dept)
    divisions: dict[int, set[int]] = {}
    for dept_id, division_id in (await session.execute(select(Department.id, Department.division_id))):
        divisions.setdefault(division_id, set()).add(dept_id)
    out: dict[int, Scope] = {}
    for row in rows:
        if row.role == Role.ADMIN:
            out[row.id] = None
        elif row.role == Role.DIRECTOR:
            out[row.id] = frozenset(divisions.get(row.division_id, ()))
        else:
            own = {row.department_id} if row.department_id is not None else set()
            out[row.id] = frozenset(own | served.get(row.id, set()))
    return out


async def scope_for(session: AsyncSession, actor) -> Scope:  # noqa: ANN001 - crm_core.access.Actor
    """One actor's scope (the page handler registers its viewer with it at once)."""
    if actor.role == Role.ADMIN:
        return None
    if actor.role == Role.DIRECTOR:
        if actor.division_id is None:
            return frozenset()
        return frozenset((await session.execute(
            select(Department.id).where(Department.division_id == actor.division_id))).scalars())
    return frozenset(actor.department_ids)
