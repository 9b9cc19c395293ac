"""Reading calls and callbacks with the same record access as everything else.

An agent sees the calls they took or made and the callbacks for them or their department's open ones;
a department manager or head their department's; a director the division's; an administrator all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from crm_core.access import Actor, NotFound, call_scope, staff_scope
from crm_core.models import Call, Client, Role, Task, User

PAGE = 100


def callback_scope(actor: Actor) -> ColumnElement[bool]:
    if actor.is_admin:
        return true()
    mine = staff_scope(actor, Task.assignee_id)
    if actor.department_id is None:
        return mine
    if actor.role == Role.DIRECTOR:
        return mine
    return or_(mine, and_(Task.assignee_id.is_(None), Task.department_id == actor.department_id))


@dataclass(frozen=True, slots=True)
class CallRow:
    id: int
    started_at: datetime | None
    direction: str
    caller: str | None
    callee: str | None
    caller_name: str | None
    client_id: int | None
    client_name: str | None
    agent_name: str | None
    outcome: str | None
    wait_s: float | None
    talk_s: float | None
    inquiry_id: int | None
    did: str | None
    queue: str | None
    cut_by: str | None = None


async def recent_calls(session: AsyncSession, actor: Actor, limit: int = PAGE) -> list[CallRow]:
    agent = aliased(User)
    rows = await session.execute(
        select(Call.id, Call.started_at, Call.direction, Call.caller, Call.callee, Call.caller_name, Call.client_id,
               Client.name, agent.full_name, Call.outcome, Call.wait_s, Call.talk_s, Call.inquiry_id, Call.did,
               Call.queue, Call.cut_by)
        .outerjoin(Client, Client.id == Call.client_id)
        .outerjoin(agent, agent.id == Call.agent_id)
        .where(call_scope(actor))
        .order_by(Call.started_at.desc(), Call.id.desc())
        .limit(limit)
    )
    return [CallRow(*row) for row in rows]


async def open_callbacks(session: AsyncSession, actor: Actor) -> list[tuple[Task, str | None]]:
    rows = await session.execute(
        select(Task, Client.name).outerjoin(Client, Client.id == Task.client_id)
        .where(Task.kind == "callback", Task.status == "open", callback_scope(actor))
        .order_by(Task.due_at)
    )
    return [(task, name) for task, name in rows]


async def get_callback(session: AsyncSession, actor: Actor, task_id: int) -> Task:
    task = (await session.execute(
        select(Task).where(Task.id == task_id, Task.kind == "callback", callback_scope(actor))
    )).scalar_one_or_none()
    if task is None:
        raise NotFound("callback")
    return task
