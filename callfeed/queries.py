"""The feed's database side: who watches which departments, the settings' department names, the bin."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.access import Actor
from crm_core.lookup import find_client_by_phone
from crm_core.models import Department, Role, User, utcnow
from crm_core.models.callfeed import CallBin
from crm_core.models.staff import ServedDepartment

WATCHERS = (Role.AGENT, Role.DEPT_MANAGER, Role.DEPT_HEAD)
SUPERVISORS = frozenset({Role.DEPT_MANAGER, Role.DEPT_HEAD, Role.ADMIN})
REASONS = ("spam", "wrong_number")


def scope_of(actor: Actor) -> frozenset[int]:
    """The departments whose calls an actor watches: an agent their own, a manager or head their own and
    the departments they serve (``served_departments``); nobody else has a feed."""
    if actor.role == Role.AGENT:
        return frozenset({actor.department_id}) if actor.department_id is not None else frozenset()
    if actor.manages_department:
        return frozenset(actor.department_ids)
    return frozenset()


async def audience(s: AsyncSession) -> dict[int, frozenset[int]]:
    """Every watcher and their departments (the same rule as scope_of, for all at once)."""
    rows = (await s.execute(select(User.id, User.role, User.department_id).where(
        User.is_active.is_(True), User.role.in_(WATCHERS)))).all()
    served: dict[int, set[int]] = {}
    for user_id, dept in await s.execute(select(ServedDepartment.user_id, ServedDepartment.department_id)):
        served.setdefault(user_id, set()).add(dept)
    out: dict[int, frozenset[int]] = {}
    for row in rows:
        depts = {row.department_id} if row.department_id is not None else set()
        if row.role != Role.AGENT:
            depts |= served.get(row.id, set())
        if depts:
            out[row.id] = frozenset(depts)
    return out


async def department_ids(s: AsyncSession, names: Iterable[str]) -> dict[str, int]:
    """Settings name departments by name or id: both resolve to the id (unknown ones are left out)."""
    wanted = set(names)
    rows = (await s.execute(select(Department.id, Department.name))).all()
    out = {}
    for dept_id, name in rows:
        if name in wanted:
            out[name] = dept_id
        if str(dept_id) in wanted:
            out[str(dept_id)] = dept_id
    return out


async def binned_among(s: AsyncSession, linkedids: Iterable[str]) -> set[str]:
    ids = list(linkedids)
    if not ids:
        return set()
    return set((await s.execute(select(CallBin.linkedid).where(
        CallBin.linkedid.in_(ids), CallBin.restored_at.is_(None)))).scalars())


@dataclass(frozen=True, slots=True)
class CallerInfo:
    client_id: int | None
    name: str | None
    owner: str | None
    binned: str | None  # the reason this number is in the bin already (an earlier call of it)

    def payload(self) -> dict[str, object]:
        out: dict[str, object] = {"client_id": self.client_id, "owner": self.owner, "binned": self.binned}
        if self.name:
            out["name"] = self.name
        return out


async def caller_info(s: AsyncSession, number: str, region: str = "RU") -> CallerInfo:
    """The card's client, its owner, and whether the number's earlier calls went to the bin."""
    card = await find_client_by_phone(s, number, region) if number else None
    owner = None
    if card is not None and card.owner_id is not None:
        owner = (await s.execute(select(User.full_name).where(User.id == card.owner_id))).scalar()
    binned = (await s.execute(select(CallBin.reason).where(
        CallBin.number == number, CallBin.restored_at.is_(None)).order_by(CallBin.binned_at.desc()).limit(1)
    )).scalar() if number else None
    if card is None:
        return CallerInfo(None, None, None, binned)
    return CallerInfo(card.client_id, card.name or card.company_name, owner, binned)


# --- the bin --------------------------------------------------------------------------------------------

async def put_in_bin(s: AsyncSession, actor: Actor, *, linkedid: str, number: str | None, caller_name: str | None,
                     queue: str | None, department_id: int | None, reason: str, now: datetime | None = None,
                     ) -> CallBin:
    """The call goes to the bin (again, if a supervisor had taken it out)."""
    now = now or utcnow()
    row = (await s.execute(select(CallBin).where(CallBin.linkedid == linkedid))).scalar_one_or_none()
    if row is None:
        row = CallBin(linkedid=linkedid)
        s.add(row)
    row.number, row.caller_name, row.queue = number or row.number, caller_name or row.caller_name, queue or row.queue
    row.department_id = department_id if department_id is not None else row.department_id
    row.reason, row.binned_by, row.binned_at = reason, actor.user_id, now
    row.restored_by, row.restored_at = None, None
    await s.flush()
    return row


def bin_scope(actor: Actor):  # noqa: ANN201 - a SQL condition
    """The bin rows an actor sees: the administrator all, others their feed's departments."""
    if actor.is_admin:
        return CallBin.id.is_not(None)
    scope = scope_of(actor)
    if actor.role == Role.DIRECTOR and actor.division_id is not None:
        return CallBin.department_id.in_(select(Department.id).where(Department.division_id == actor.division_id))
    if not scope:
        return CallBin.binned_by == actor.user_id
    return CallBin.department_id.in_(scope) | (CallBin.binned_by == actor.user_id)


@dataclass(frozen=True, slots=True)
class BinRow:
    id: int
    linkedid: str
    number: str
    caller_name: str
    queue: str
    department: str
    reason: str
    binned_by: str
    binned_at: datetime
    restored_by: str | None
    restored_at: datetime | None
    binned_by_id: int | None = None


async def bin_rows(s: AsyncSession, actor: Actor, *, restored: bool = False, limit: int = 300) -> list[BinRow]:
    from sqlalchemy.orm import aliased

    who, back = aliased(User), aliased(User)
    stmt = (select(CallBin, Department.name, who.full_name, back.full_name)
            .outerjoin(Department, Department.id == CallBin.department_id)
            .outerjoin(who, who.id == CallBin.binned_by).outerjoin(back, back.id == CallBin.restored_by)
            .where(bin_scope(actor),
                   CallBin.restored_at.is_not(None) if restored else CallBin.restored_at.is_(None))
            .order_by(CallBin.binned_at.desc(), CallBin.id.desc()).limit(limit))
    return [BinRow(b.id, b.linkedid, b.number or "", b.caller_name or "", b.queue or "", dept or "", b.reason,
                   by or "", b.binned_at, back_by, b.restored_at, b.binned_by)
            for b, dept, by, back_by in (await s.execute(stmt)).all()]


UNDO_S = 600.0
"""How long whoever binned a call may take it back out themselves («Вернуть»)."""


async def undo(s: AsyncSession, actor: Actor, bin_id: int, now: datetime | None = None) -> CallBin | None:
    """Whoever binned a call takes it back out within UNDO_S (None: not theirs, too late, or already out)."""
    now = now or utcnow()
    row = (await s.execute(select(CallBin).where(
        CallBin.id == bin_id, CallBin.binned_by == actor.user_id, CallBin.restored_at.is_(None),
        CallBin.binned_at >= now - timedelta(seconds=UNDO_S)))).scalar_one_or_none()
    if row is None:
        return None
    row.restored_by, row.restored_at = actor.user_id, now
    return row


async def restore(s: AsyncSession, actor: Actor, bin_id: int, now: datetime | None = None) -> CallBin | None:
    """A supervisor takes a call back out of the bin (None: not there, or out of their reach)."""
    row = (await s.execute(select(CallBin).where(CallBin.id == bin_id, bin_scope(actor),
                                                 CallBin.restored_at.is_(None)))).scalar_one_or_none()
    if row is None:
        return None
    row.restored_by, row.restored_at = actor.user_id, now or utcnow()
    return row
