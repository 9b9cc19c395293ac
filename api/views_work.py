"""``/api/v1/tasks``, ``/api/v1/deals`` (and their funnel's stages), ``/api/v1/properties`` and an inquiry's
routing decisions.

Tasks are reached by whom they are given to (``staff_scope``), deals and decisions through their inquiry
(``inquiry_scope``), properties by ``agency.property_access``; a deal's stage is set by
``agency.deals.set_stage``, as on the deal's page."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import select

from agency.deal_directories import stage_list_key, stages
from agency.deal_forms import DealError
from agency.deal_queries import get_deal
from agency.deals import set_stage
from agency.property_access import get_property, property_scope
from api.operations import Ctx, Input, Op, Unprocessable
from api.paging import PageQuery, cut, page
from api.shown import Numbers, numbers
from crm_core.access import get_inquiry, inquiry_scope, staff_scope
from crm_core.models import Inquiry, Property, RoutingDecision, Task
from crm_core.models.agency import Deal

ROW = 2**31 - 1


class TaskOut(BaseModel):
    id: int
    kind: str = Field(description="callback, meeting, viewing, cold_call")
    status: str
    assignee_id: int | None
    client_id: int | None
    inquiry_id: int | None
    call_id: int | None
    department_id: int | None
    due_at: datetime | None
    attempts: int
    phone: str | None
    note: str | None
    created_at: datetime


class TaskPage(BaseModel):
    items: list[TaskOut]
    next_cursor: str | None


class TaskQuery(PageQuery):
    status: str | None = Field(default=None, max_length=20, description="open, done, …")
    kind: Literal["callback", "meeting", "viewing", "cold_call"] | None = None
    assignee_id: int | None = Field(default=None, ge=0, le=ROW)
    due_before: AwareDatetime | None = None


class StageOut(BaseModel):
    id: int
    name: str
    position: int
    positive: bool


class StageList(BaseModel):
    items: list[StageOut]


class DealOut(BaseModel):
    id: int
    inquiry_id: int
    client_id: int
    department_id: int | None
    agent_id: int | None
    stage_id: int | None
    property_id: int | None
    status: str = Field(description="open, won or lost")
    created_at: datetime


class DealPage(BaseModel):
    items: list[DealOut]
    next_cursor: str | None


class DealQuery(PageQuery):
    status: Literal["open", "won", "lost"] | None = None
    stage_id: int | None = Field(default=None, ge=0, le=ROW)
    agent_id: int | None = Field(default=None, ge=0, le=ROW)


class StageIn(Input):
    stage_id: int = Field(ge=1, le=ROW)
    note: str | None = Field(default=None, max_length=2000)


class PropertyOut(BaseModel):
    id: int
    address: str
    district: str | None
    metro: str | None
    property_type: str | None
    deal_type: str | None = Field(description="sale or rent")
    price: float | None
    liquidity: str | None
    agent_id: int | None
    owner_client_id: int | None
    department_id: int | None
    archived: bool
    created_at: datetime


class PropertyPage(BaseModel):
    items: list[PropertyOut]
    next_cursor: str | None


class PropertyQuery(PageQuery):
    deal_type: Literal["sale", "rent"] | None = None
    district: str | None = Field(default=None, max_length=200)
    agent_id: int | None = Field(default=None, ge=0, le=ROW)
    archived: bool = False


class DecisionOut(BaseModel):
    id: int
    at: datetime
    agent_id: int | None
    pool: str | None
    rule: str | None
    strategy: str | None
    explanation: dict


class DecisionList(BaseModel):
    inquiry_id: int
    items: list[DecisionOut]


def _task(t: Task, shown: Numbers) -> TaskOut:
    return TaskOut(id=t.id, kind=t.kind, status=t.status, assignee_id=t.assignee_id, client_id=t.client_id,
                   inquiry_id=t.inquiry_id, call_id=t.call_id, department_id=t.department_id, due_at=t.due_at,
                   attempts=t.attempts, phone=shown(t.phone), note=t.note, created_at=t.created_at)


async def list_tasks(ctx: Ctx) -> TaskPage:
    q: TaskQuery = ctx.query
    stmt = select(Task).where(staff_scope(ctx.actor, Task.__table__.c.assignee_id))
    for col, value in ((Task.status, q.status), (Task.kind, q.kind), (Task.assignee_id, q.assignee_id)):
        if value is not None:
            stmt = stmt.where(col == value)
    if q.due_before is not None:
        stmt = stmt.where(Task.due_at < q.due_before)
    async with ctx.sessions() as s:
        rows, cursor = cut(list((await s.execute(page(stmt, Task.id, q))).scalars()), q)
    shown = numbers(ctx)
    return TaskPage(items=[_task(t, shown) for t in rows], next_cursor=cursor)


def _deal(d: Deal) -> DealOut:
    return DealOut(id=d.id, inquiry_id=d.inquiry_id, client_id=d.client_id, department_id=d.department_id,
                   agent_id=d.agent_id, stage_id=d.stage_id, property_id=d.property_id, status=d.status,
                   created_at=d.created_at)


async def list_deals(ctx: Ctx) -> DealPage:
    q: DealQuery = ctx.query
    stmt = select(Deal).join(Inquiry, Inquiry.id == Deal.inquiry_id).where(inquiry_scope(ctx.actor))
    for col, value in ((Deal.status, q.status), (Deal.stage_id, q.stage_id), (Deal.agent_id, q.agent_id)):
        if value is not None:
            stmt = stmt.where(col == value)
    async with ctx.sessions() as s:
        rows, cursor = cut(list((await s.execute(page(stmt, Deal.id, q))).scalars()), q)
    return DealPage(items=[_deal(d) for d in rows], next_cursor=cursor)


async def get_deal_one(ctx: Ctx) -> DealOut:
    async with ctx.sessions() as s:
        deal, _ = await get_deal(s, ctx.actor, ctx.id())
    return _deal(deal)


async def deal_stages(ctx: Ctx) -> StageList:
    """The stages this deal can move to: its department's funnel (or the default one)."""
    async with ctx.sessions() as s:
        deal, _ = await get_deal(s, ctx.actor, ctx.id())
        found = await stages(s, await stage_list_key(s, deal.department_id))
    return StageList(items=[StageOut(id=st.id, name=st.name, position=st.position, positive=st.positive)
                            for st in found])


async def set_deal_stage(ctx: Ctx) -> DealOut:
    body: StageIn = ctx.body
    try:
        await set_stage(ctx.sessions, ctx.actor, ctx.id(), body.stage_id, body.note, bus=ctx.hub.bus)
    except DealError as exc:
        raise Unprocessable(f"{exc.field}: {exc}") from None
    return await get_deal_one(ctx)


def _property(p: Property) -> PropertyOut:
    return PropertyOut(id=p.id, address=p.address, district=p.district, metro=p.metro,
                       property_type=p.property_type, deal_type=p.deal_type,
                       price=float(p.price) if p.price is not None else None, liquidity=p.liquidity,
                       agent_id=p.agent_id, owner_client_id=p.owner_client_id, department_id=p.department_id,
                       archived=p.archived, created_at=p.created_at)


async def list_properties(ctx: Ctx) -> PropertyPage:
    q: PropertyQuery = ctx.query
    stmt = select(Property).where(property_scope(ctx.actor), Property.archived.is_(q.archived))
    for col, value in ((Property.deal_type, q.deal_type), (Property.district, q.district),
                       (Property.agent_id, q.agent_id)):
        if value is not None:
            stmt = stmt.where(col == value)
    async with ctx.sessions() as s:
        rows, cursor = cut(list((await s.execute(page(stmt, Property.id, q))).scalars()), q)
    return PropertyPage(items=[_property(p) for p in rows], next_cursor=cursor)


async def get_property_one(ctx: Ctx) -> PropertyOut:
    async with ctx.sessions() as s:
        return _property(await get_property(s, ctx.actor, ctx.id()))


async def inquiry_decisions(ctx: Ctx) -> DecisionList:
    async with ctx.sessions() as s:
        inquiry = await get_inquiry(s, ctx.actor, ctx.id())
        rows = (await s.execute(select(RoutingDecision).where(RoutingDecision.inquiry_id == inquiry.id)
                                .order_by(RoutingDecision.id))).scalars()
        return DecisionList(inquiry_id=inquiry.id, items=[
            DecisionOut(id=d.id, at=d.at, agent_id=d.agent_id, pool=d.pool, rule=d.rule, strategy=d.strategy,
                        explanation=d.explanation or {}) for d in rows])


OPS = [
    Op("GET", "/api/v1/tasks", "Tasks (callbacks, meetings, viewings, cold calls) of the staff in reach", "tasks",
       list_tasks, query=TaskQuery, response=TaskPage),
    Op("GET", "/api/v1/deals", "Deals in reach (through their inquiry), newest first", "deals", list_deals,
       query=DealQuery, response=DealPage),
    Op("GET", "/api/v1/deals/{id}", "One deal", "deals", get_deal_one, response=DealOut),
    Op("GET", "/api/v1/deals/{id}/stages", "The funnel stages this deal can move to", "deals", deal_stages,
       response=StageList),
    Op("PUT", "/api/v1/deals/{id}/stage", "Move a deal to a stage of its funnel", "deals", set_deal_stage,
       write=True, body=StageIn, response=DealOut, errors=(422,)),
    Op("GET", "/api/v1/properties", "Properties in reach (the agency's objects), newest first", "properties",
       list_properties, query=PropertyQuery, response=PropertyPage),
    Op("GET", "/api/v1/properties/{id}", "One property", "properties", get_property_one, response=PropertyOut),
    Op("GET", "/api/v1/inquiries/{id}/decisions", "Who got the inquiry and why: the routing decisions",
       "inquiries", inquiry_decisions, response=DecisionList, tag="routing"),
]
