"""Who may see and change which records — the one place every read and write goes through.

The agency's rules: an agent sees their own clients and inquiries, their
department's pool and the common pool; a department manager or head sees
their department (a manager-administrator also the departments they serve,
``served_departments``); a director reads everything in their division; an
administrator sees everything (and so does the data-protection officer, ``dpo``, who only reads, exports and
erases on a client's request); a service engineer sees no client records. A record out of reach is reported as
"not found", never as "forbidden", so ids cannot be probed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Call, Client, Department, Inquiry, Pool, Role, User
from crm_core.models.staff import ServedDepartment


class NotFound(LookupError):
    """The record does not exist or is out of the actor's reach."""


class Forbidden(PermissionError):
    """The actor may see the record but not do this to it."""


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int
    role: Role
    department_id: int | None
    division_id: int | None = None
    served: tuple[int, ...] = ()
    """Departments a manager serves besides their own."""

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def department_ids(self) -> tuple[int, ...]:
        """The departments this actor manages (their own first), empty for those who manage none."""
        if not self.manages_department:
            return ()
        own = (self.department_id,) if self.department_id is not None else ()
        return own + tuple(d for d in self.served if d != self.department_id)

    def manages(self, department_id: int | None) -> bool:
        return department_id is not None and department_id in self.department_ids

    @property
    def manages_department(self) -> bool:
        return self.role in (Role.DEPT_MANAGER, Role.DEPT_HEAD)

    @property
    def reads_everything(self) -> bool:
        """The administrator, and the data-protection officer (read only: answers clients' requests)."""
        return self.role in (Role.ADMIN, Role.DPO)


async def actor_for(session: AsyncSession, user_id: int) -> Actor:
    row = (
        await session.execute(
            select(User.id, User.role, User.department_id, Department.division_id)
            .outerjoin(Department, Department.id == User.department_id)
            .where(User.id == user_id, User.is_active.is_(True))
        )
    ).one_or_none()
    if row is None:
        raise NotFound("user")
    served: tuple[int, ...] = ()
    if row.role in (Role.DEPT_MANAGER, Role.DEPT_HEAD):
        served = tuple((await session.execute(
            select(ServedDepartment.department_id).where(ServedDepartment.user_id == row.id)
            .order_by(ServedDepartment.department_id))).scalars())
    return Actor(row.id, Role(row.role), row.department_id, row.division_id, served)


def _in_division(actor: Actor, department_col: ColumnElement) -> ColumnElement[bool]:
    if actor.division_id is None:
        return false()
    return department_col.in_(select(Department.id).where(Department.division_id == actor.division_id))


def _user_in_departments(user_col: ColumnElement, department_ids: tuple[int, ...]) -> ColumnElement[bool]:
    if not department_ids:
        return false()
    return user_col.in_(select(User.id).where(User.department_id.in_(department_ids)))


def _in_departments(department_col: ColumnElement, department_ids: tuple[int, ...]) -> ColumnElement[bool]:
    return department_col.in_(department_ids) if department_ids else false()


def staff_scope(actor: Actor, user_col: ColumnElement) -> ColumnElement[bool]:
    """Records that belong to a member of staff (calls they took, tasks given to them): an agent their own,
    a department's manager or head their departments' people, a director the division's, the administrator all."""
    if actor.reads_everything:
        return true()
    if actor.role == Role.AGENT:
        return user_col == actor.user_id
    if actor.manages_department:
        return _user_in_departments(user_col, actor.department_ids)
    if actor.role == Role.DIRECTOR and actor.division_id is not None:
        staff = select(User.id).join(Department, Department.id == User.department_id)
        return user_col.in_(staff.where(Department.division_id == actor.division_id))
    return false()


def call_scope(actor: Actor) -> ColumnElement[bool]:
    """The calls an actor may read: by who took or made them (see staff_scope)."""
    return staff_scope(actor, Call.agent_id)


def inquiry_scope(actor: Actor) -> ColumnElement[bool]:
    """A WHERE clause selecting the inquiries the actor may read."""
    if actor.reads_everything:
        return true()
    common = Inquiry.pool == Pool.COMMON
    if actor.role == Role.AGENT:
        own_pool = and_(Inquiry.pool == Pool.DEPARTMENT, Inquiry.department_id == actor.department_id)
        return or_(Inquiry.owner_id == actor.user_id, own_pool, common)
    if actor.manages_department:
        return or_(
            _in_departments(Inquiry.department_id, actor.department_ids),
            _user_in_departments(Inquiry.owner_id, actor.department_ids),
            common,
        )
    if actor.role == Role.DIRECTOR:
        return or_(_in_division(actor, Inquiry.department_id), common)
    return false()


def client_scope(actor: Actor) -> ColumnElement[bool]:
    """A WHERE clause selecting the clients the actor may read: owned, or behind an inquiry they may read."""
    if actor.reads_everything:
        return true()
    via_inquiry = exists(select(Inquiry.id).where(Inquiry.client_id == Client.id, inquiry_scope(actor)))
    if actor.role == Role.AGENT:
        return or_(Client.owner_id == actor.user_id, via_inquiry)
    if actor.manages_department:
        return or_(
            _in_departments(Client.department_id, actor.department_ids),
            _user_in_departments(Client.owner_id, actor.department_ids),
            via_inquiry,
        )
    if actor.role == Role.DIRECTOR:
        return or_(_in_division(actor, Client.department_id), via_inquiry)
    return false()


def scoped_inquiries(actor: Actor) -> Select:
    return select(Inquiry).where(inquiry_scope(actor))


def scoped_clients(actor: Actor) -> Select:
    return select(Client).where(client_scope(actor))


async def get_inquiry(session: AsyncSession, actor: Actor, inquiry_id: int, *, write: bool = False) -> Inquiry:
    inquiry = (await session.execute(scoped_inquiries(actor).where(Inquiry.id == inquiry_id))).scalar_one_or_none()
    if inquiry is None:
        raise NotFound("inquiry")
    if write:
        check_inquiry_write(actor, inquiry)
    return inquiry


async def get_client(session: AsyncSession, actor: Actor, client_id: int, *, write: bool = False) -> Client:
    client = (await session.execute(scoped_clients(actor).where(Client.id == client_id))).scalar_one_or_none()
    if client is None:
        raise NotFound("client")
    if write and not can_write_client(actor, client):
        raise Forbidden("client")
    return client


def check_inquiry_write(actor: Actor, inquiry: Inquiry) -> None:
    """Writes beyond reading: the owner, the department's managers and the administrator; directors only read.

    Pool inquiries are visible to agents, but the only write allowed on them is a claim (see claim_inquiry).
    """
    if actor.is_admin:
        return
    if actor.role == Role.AGENT and inquiry.owner_id == actor.user_id:
        return
    if actor.manages(inquiry.department_id):
        return
    raise Forbidden("inquiry")


def can_claim(actor: Actor, inquiry: Inquiry) -> bool:
    if inquiry.owner_id is not None:
        return False
    if inquiry.pool == Pool.COMMON:
        return actor.role not in (Role.DIRECTOR, Role.DPO)
    if inquiry.pool == Pool.DEPARTMENT:
        return actor.is_admin or inquiry.department_id == actor.department_id
    return actor.is_admin or actor.manages(inquiry.department_id)


def can_write_client(actor: Actor, client: Client) -> bool:
    if actor.is_admin:
        return True
    if actor.role == Role.AGENT:
        return client.owner_id == actor.user_id
    if actor.manages_department:
        return actor.manages(client.department_id)
    return False


def can_admin(actor: Actor) -> bool:
    return actor.is_admin


def can_handle_personal_data(actor: Actor) -> bool:
    """A client's export and erasure, the access log: the administrator and the data-protection officer."""
    return actor.role in (Role.ADMIN, Role.DPO)
