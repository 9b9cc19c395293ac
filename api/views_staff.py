"""``/api/v1/me``, ``/api/v1/users`` (the staff in reach and their status: set it, pause) and
``/api/v1/departments``. An agent sees themself; a manager their departments' people; the administrator
everybody (``crm_core.access.staff_scope``, as the wallboard)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import or_, select

from api.operations import Ctx, Input, Op
from crm_core import audit
from crm_core.access import Forbidden, NotFound, staff_scope
from crm_core.agent_states import BREAK_REASONS, set_status
from crm_core.models import AgentStatus, Department, Role, User

SUPERVISORS = frozenset({Role.DEPT_MANAGER, Role.DEPT_HEAD, Role.ADMIN})


class UserOut(BaseModel):
    id: int
    login: str
    full_name: str
    role: str
    department_id: int | None
    extension: str | None
    status: str
    status_since: datetime
    is_active: bool


class UserList(BaseModel):
    items: list[UserOut]


class StatusIn(Input):
    status: Literal["available", "break", "wrap_up", "offline"]
    reason: Literal["lunch", "meeting", "training", "technical", "other"] | None = Field(
        default=None, description="Of a break")


class DepartmentOut(BaseModel):
    id: int
    name: str
    division_id: int | None


class DepartmentList(BaseModel):
    items: list[DepartmentOut]


def _out(u: User) -> UserOut:
    return UserOut(id=u.id, login=u.login, full_name=u.full_name, role=str(u.role), department_id=u.department_id,
                   extension=u.extension, status=str(u.status), status_since=u.status_since, is_active=u.is_active)


def _reach(ctx: Ctx):  # noqa: ANN202
    user_id = User.__table__.c.id  # the column itself, as staff_scope takes it
    return or_(User.id == ctx.actor.user_id, staff_scope(ctx.actor, user_id))


async def me(ctx: Ctx) -> UserOut:
    async with ctx.sessions() as s:
        user = await s.get(User, ctx.principal.user_id)
    assert user is not None
    return _out(user)


async def list_users(ctx: Ctx) -> UserList:
    async with ctx.sessions() as s:
        rows = (await s.execute(select(User).where(_reach(ctx)).order_by(User.full_name, User.id))).scalars()
        return UserList(items=[_out(u) for u in rows])


async def _user(ctx: Ctx) -> User:
    async with ctx.sessions() as s:
        user = (await s.execute(select(User).where(User.id == ctx.id(), _reach(ctx)))).scalar_one_or_none()
    if user is None:
        raise NotFound("user")
    return user


async def get_user(ctx: Ctx) -> UserOut:
    return _out(await _user(ctx))


async def set_user_status(ctx: Ctx) -> UserOut:
    """One's own status, or (supervisors) one of their staff's, as the status switch and the wallboard do:
    in the hub, and on the PBX as a queue pause when a break or offline begins or ends."""
    user = await _user(ctx)
    body: StatusIn = ctx.body
    if user.id != ctx.actor.user_id and ctx.actor.role not in SUPERVISORS:
        raise Forbidden("user")
    status = AgentStatus(body.status)
    reason = (body.reason or "other") if status == AgentStatus.BREAK else None
    assert reason is None or reason in BREAK_REASONS
    change = await set_status(ctx.sessions, ctx.hub.bus, user.id, status, reason=reason, source="api")
    if user.id != ctx.actor.user_id:
        async with ctx.sessions() as s, s.begin():
            await audit.record(s, ctx.actor.user_id, "api.user_status", f"user:{user.id}",
                               {"status": status.value, "reason": reason})
    telephony = ctx.hub.telephony
    if change is not None and telephony is not None and user.extension:
        paused = status in (AgentStatus.BREAK, AgentStatus.OFFLINE)
        if paused != (change.previous in (AgentStatus.BREAK, AgentStatus.OFFLINE)) or status == AgentStatus.BREAK:
            await telephony.pause(user.extension, paused, reason or status.value)
    return _out(await _user(ctx))


async def list_departments(ctx: Ctx) -> DepartmentList:
    async with ctx.sessions() as s:
        rows = (await s.execute(select(Department).order_by(Department.name))).scalars()
        return DepartmentList(items=[DepartmentOut(id=d.id, name=d.name, division_id=d.division_id) for d in rows])


async def get_department(ctx: Ctx) -> DepartmentOut:
    async with ctx.sessions() as s:
        d = await s.get(Department, ctx.id())
    if d is None:
        raise NotFound("department")
    return DepartmentOut(id=d.id, name=d.name, division_id=d.division_id)


OPS = [
    Op("GET", "/api/v1/me", "Who the token or the login acts as", "users", me, response=UserOut),
    Op("GET", "/api/v1/users", "The staff in reach with their status", "users", list_users, response=UserList),
    Op("GET", "/api/v1/users/{id}", "One person of the staff", "users", get_user, response=UserOut),
    Op("PUT", "/api/v1/users/{id}/status", "Set a status: available, break (a pause, with its reason), wrap_up, "
       "offline", "users", set_user_status, write=True, body=StatusIn, response=UserOut),
    Op("GET", "/api/v1/departments", "The agency's departments", "departments", list_departments,
       response=DepartmentList),
    Op("GET", "/api/v1/departments/{id}", "One department", "departments", get_department, response=DepartmentOut),
]
