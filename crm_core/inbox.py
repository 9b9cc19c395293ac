"""The inbox an agent works from: tabs by role, counts per tab, search, filters, sort and pages.

Every read starts from ``inquiry_scope`` (crm_core.access); a tab, a filter or a search only narrows it. The
next action is red on its planned day and once overdue — the same rule as the head's «Контроль» — while the
inquiry is open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from crm_core.access import Actor, inquiry_scope
from crm_core.models import Channel, Client, Contact, ContactKind, Department, Inquiry, InquiryStatus, Pool, Role, User
from crm_core.phones import try_normalize_phone

BOXES = ("mine", "team", "department", "common", "all")
SORTS = ("created", "planned", "status")
OPEN = (InquiryStatus.NEW, InquiryStatus.OFFERED, InquiryStatus.IN_WORK)
STATUS_FILTERS = ("open", *(s.value for s in InquiryStatus))
PAGE_SIZE = 50
_STATUS_ORDER = {s: i for i, s in enumerate(("new", "offered", "in_work", "moderation", "done", "archived"))}


def boxes_for(actor: Actor) -> tuple[str, ...]:
    """The tabs a role works from, the landing one first."""
    if actor.manages_department:
        return ("team", "mine", "department", "common", "all")
    if actor.role == Role.DIRECTOR:
        return ("all", "common")
    return ("mine", "department", "common", "all")


def landing_box(actor: Actor) -> str:
    return boxes_for(actor)[0]


@dataclass(frozen=True, slots=True)
class InboxFilter:
    box: str = "mine"
    q: str = ""
    channel: str = ""
    status: str = ""
    source: str = ""
    department_id: int | None = None
    sort: str = "created"
    page: int = 1

    @classmethod
    def from_query(cls, actor: Actor, query: dict[str, str]) -> InboxFilter:
        """Whatever came in the address, made safe: unknown values fall back to the defaults."""
        box = query.get("box", "")
        dept = query.get("department", "")
        page = query.get("page", "")
        return cls(
            box=box if box in boxes_for(actor) else landing_box(actor),
            q=" ".join(query.get("q", "").split())[:100],
            channel=query.get("channel", "") if query.get("channel", "") in {c.value for c in Channel} else "",
            status=query.get("status", "") if query.get("status", "") in STATUS_FILTERS else "",
            source=query.get("source", "")[:200],
            department_id=int(dept) if dept.isdigit() and len(dept) < 10 else None,
            sort=query.get("sort", "") if query.get("sort", "") in SORTS else "created",
            page=max(1, min(int(page), 100_000)) if page.isdigit() and len(page) < 7 else 1,
        )

    def params(self, **change: object) -> dict[str, str]:
        """The address parameters of this filter (with ``change`` applied), defaults left out."""
        f = replace(self, **change)  # type: ignore[arg-type]
        raw = {"box": f.box, "q": f.q, "channel": f.channel, "status": f.status, "source": f.source,
               "department": str(f.department_id or ""), "sort": "" if f.sort == "created" else f.sort,
               "page": "" if f.page == 1 else str(f.page)}
        return {k: v for k, v in raw.items() if v}


@dataclass(frozen=True, slots=True)
class InboxRow:
    id: int
    client_id: int
    client_name: str
    channel: str
    subject: str | None
    source: str | None
    status: str
    pool: str
    owner_id: int | None
    owner_name: str | None
    created_at: datetime
    planned_action: str | None
    planned_at: datetime | None
    plan_state: str
    """"overdue", "today", "planned" or "none" (closed inquiries are never late)."""

    @property
    def late(self) -> bool:
        return self.plan_state in ("overdue", "today")


@dataclass(frozen=True, slots=True)
class InboxPage:
    filter: InboxFilter
    rows: list[InboxRow]
    counts: dict[str, int]
    total: int
    pages: int


def plan_state(status: str, planned_at: datetime | None, now: datetime, zone: ZoneInfo) -> str:
    """The «Контроль» rule: overdue once the planned moment passed, «today» on the planned day (agency's time)."""
    if planned_at is None or status not in OPEN:
        return "none" if planned_at is None else "planned"
    if planned_at < now:
        return "overdue"
    if planned_at.astimezone(zone).date() == now.astimezone(zone).date():
        return "today"
    return "planned"


def _box_filter(actor: Actor, box: str) -> ColumnElement[bool] | None:
    if box == "mine":
        return Inquiry.owner_id == actor.user_id
    if box == "team":
        ids = actor.department_ids
        staff = select(User.id).where(User.department_id.in_(ids))
        return or_(Inquiry.department_id.in_(ids), Inquiry.owner_id.in_(staff)) & (Inquiry.pool != Pool.COMMON)
    if box == "department":
        return (Inquiry.pool == Pool.DEPARTMENT) & (Inquiry.department_id == actor.department_id)
    if box == "common":
        return Inquiry.pool == Pool.COMMON
    return None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _search(q: str) -> ColumnElement[bool]:
    """By the client's name or company, the inquiry's number (№12), or the phone (whole or its digits)."""
    pattern = f"%{_escape_like(q)}%"
    found: list[ColumnElement[bool]] = [Client.name.ilike(pattern, escape="\\"),
                                        Client.company_name.ilike(pattern, escape="\\")]
    number = q.lstrip("№#").strip()
    if number.isdigit() and len(number) <= 9:
        found.append(Inquiry.id == int(number))
    digits = re.sub(r"\D", "", q)
    if len(digits) >= 4 and not re.search(r"[^\d\s()+\-.]", q):
        if len(digits) == 11 and digits[0] == "8":
            digits = "7" + digits[1:]
        phone = try_normalize_phone(q)
        phones = select(Contact.client_id).where(
            Contact.kind == ContactKind.PHONE,
            or_(Contact.value == phone if phone else False, Contact.value.like(f"%{digits}%")))
        found.append(Inquiry.client_id.in_(phones))
    return or_(*found)


def _narrowed(stmt: Select, actor: Actor, f: InboxFilter) -> Select:
    stmt = stmt.where(inquiry_scope(actor))
    if f.q:
        stmt = stmt.where(_search(f.q))
    if f.channel:
        stmt = stmt.where(Inquiry.channel == f.channel)
    if f.status == "open":
        stmt = stmt.where(Inquiry.status.in_(OPEN))
    elif f.status:
        stmt = stmt.where(Inquiry.status == f.status)
    if f.source:
        stmt = stmt.where(Inquiry.source == f.source)
    if f.department_id is not None:
        stmt = stmt.where(Inquiry.department_id == f.department_id)
    return stmt


def _order(sort: str) -> tuple:
    if sort == "planned":
        return (case((Inquiry.planned_at.is_(None), 1), else_=0), Inquiry.planned_at, Inquiry.id.desc())
    if sort == "status":
        return (case(_STATUS_ORDER, value=Inquiry.status, else_=9), Inquiry.id.desc())
    return (Inquiry.id.desc(),)


async def count_boxes(session: AsyncSession, actor: Actor, f: InboxFilter) -> dict[str, int]:
    counts = {}
    for box in boxes_for(actor):
        stmt = _narrowed(select(func.count(Inquiry.id)).join(Client, Client.id == Inquiry.client_id), actor, f)
        box_filter = _box_filter(actor, box)
        counts[box] = int((await session.execute(stmt if box_filter is None else stmt.where(box_filter))).scalar_one())
    return counts


async def inbox_page(session: AsyncSession, actor: Actor, f: InboxFilter, *, now: datetime,
                     zone: str = "Europe/Moscow", page_size: int = PAGE_SIZE) -> InboxPage:
    counts = await count_boxes(session, actor, f)
    total = counts.get(f.box, 0)
    pages = max(1, -(-total // page_size))
    f = replace(f, page=min(f.page, pages))
    rows = await inbox_rows(session, actor, f, now=now, zone=zone, limit=page_size,
                            offset=(f.page - 1) * page_size)
    return InboxPage(f, rows, counts, total, pages)


async def inbox_rows(session: AsyncSession, actor: Actor, f: InboxFilter, *, now: datetime,
                     zone: str = "Europe/Moscow", limit: int = PAGE_SIZE, offset: int = 0) -> list[InboxRow]:
    owner = aliased(User)
    stmt = _narrowed(
        select(Inquiry.id, Inquiry.client_id, Client.name.label("client_name"), Inquiry.channel, Inquiry.subject,
               Inquiry.source, Inquiry.status, Inquiry.pool, Inquiry.owner_id, owner.full_name.label("owner_name"),
               Inquiry.created_at, Inquiry.planned_action, Inquiry.planned_at)
        .join(Client, Client.id == Inquiry.client_id)
        .outerjoin(owner, owner.id == Inquiry.owner_id), actor, f)
    box_filter = _box_filter(actor, f.box)
    if box_filter is not None:
        stmt = stmt.where(box_filter)
    local = ZoneInfo(zone)
    result = await session.execute(stmt.order_by(*_order(f.sort)).limit(limit).offset(offset))
    return [InboxRow(**r._mapping, plan_state=plan_state(str(r.status), r.planned_at, now, local)) for r in result]


async def filter_choices(session: AsyncSession, actor: Actor) -> tuple[list[str], list[tuple[int, str]]]:
    """The sources seen in the actor's inquiries, and the departments a head, director or admin may filter by."""
    sources = (await session.execute(
        select(Inquiry.source).where(inquiry_scope(actor), Inquiry.source.is_not(None), Inquiry.source != "")
        .distinct().order_by(Inquiry.source).limit(100))).scalars().all()
    depts = select(Department.id, Department.name).order_by(Department.name)
    if actor.manages_department:
        depts = depts.where(Department.id.in_(actor.department_ids))
    elif actor.role == Role.DIRECTOR:
        depts = depts.where(Department.division_id == actor.division_id)
    elif not actor.is_admin:
        return [src for src in sources if src], []
    return [src for src in sources if src], [(r[0], r[1]) for r in await session.execute(depts)]
