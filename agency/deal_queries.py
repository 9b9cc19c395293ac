"""Reads of deals, within the actor's reach through the inquiry: one deal (for a read or a write), a deal's
page with its steps, the deals list and the received → deals → positive funnel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agency.deal_directories import results, stage_list_key, stages
from agency.property_access import get_property
from crm_core.access import Actor, Forbidden, NotFound, check_inquiry_write, get_inquiry, inquiry_scope
from crm_core.models import Client, Inquiry, Property, User
from crm_core.models.agency import Deal, DealStep, FunnelStage, ResultKind


async def get_deal(session: AsyncSession, actor: Actor, deal_id: int, *, write: bool = False) -> tuple[Deal, Inquiry]:
    row = (await session.execute(
        select(Deal, Inquiry).join(Inquiry, Inquiry.id == Deal.inquiry_id)
        .where(Deal.id == deal_id, inquiry_scope(actor))
    )).one_or_none()
    if row is None:
        raise NotFound("deal")
    deal, inquiry = row
    if write:
        check_inquiry_write(actor, inquiry)
    return deal, inquiry


async def deal_of_inquiry(session: AsyncSession, actor: Actor, inquiry_id: int) -> Deal | None:
    await get_inquiry(session, actor, inquiry_id)
    return (await session.execute(select(Deal).where(Deal.inquiry_id == inquiry_id))).scalar_one_or_none()


@dataclass(frozen=True, slots=True)
class StepRow:
    id: int
    kind: str
    status: str
    at: datetime
    agent_name: str | None
    property_id: int | None
    address: str | None
    result: str | None
    result_positive: bool
    stage: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class DealView:
    deal: Deal
    inquiry: Inquiry
    client: Client
    stage: FunnelStage | None
    stages: list[FunnelStage]
    steps: list[StepRow]
    results: list[ResultKind]
    property: Property | None
    can_write: bool


async def deal_view(session: AsyncSession, actor: Actor, deal_id: int) -> DealView:
    deal, inquiry = await get_deal(session, actor, deal_id)
    client = await session.get(Client, deal.client_id)
    assert client is not None
    list_stages = await stages(session, await stage_list_key(session, deal.department_id))
    stage = await session.get(FunnelStage, deal.stage_id) if deal.stage_id else None
    rows = (await session.execute(
        select(DealStep, User.full_name, Property.address, ResultKind.name, ResultKind.positive, FunnelStage.name)
        .outerjoin(User, User.id == DealStep.agent_id)
        .outerjoin(Property, Property.id == DealStep.property_id)
        .outerjoin(ResultKind, ResultKind.id == DealStep.result_id)
        .outerjoin(FunnelStage, FunnelStage.id == DealStep.stage_id)
        .where(DealStep.deal_id == deal.id)
        .order_by(DealStep.at.desc(), DealStep.id.desc())
    )).all()
    steps = [StepRow(st.id, st.kind, st.status, st.at, agent, st.property_id, address, rname, bool(rpos), sname,
                     st.note) for st, agent, address, rname, rpos, sname in rows]
    prop = None
    if deal.property_id is not None:
        try:
            prop = await get_property(session, actor, deal.property_id)
        except NotFound:
            prop = None
    try:
        check_inquiry_write(actor, inquiry)
        can_write = True
    except Forbidden:
        can_write = False
    return DealView(deal, inquiry, client, stage, list_stages, steps, await results(session), prop, can_write)


@dataclass(frozen=True, slots=True)
class DealRow:
    id: int
    inquiry_id: int
    client_name: str
    stage: str | None
    status: str
    agent_name: str | None
    updated_at: datetime


async def list_deals(session: AsyncSession, actor: Actor, limit: int = 300) -> list[DealRow]:
    rows = await session.execute(
        select(Deal.id, Deal.inquiry_id, Client.name, FunnelStage.name, Deal.status, User.full_name,
               Deal.updated_at)
        .join(Inquiry, Inquiry.id == Deal.inquiry_id)
        .join(Client, Client.id == Deal.client_id)
        .outerjoin(FunnelStage, FunnelStage.id == Deal.stage_id)
        .outerjoin(User, User.id == Deal.agent_id)
        .where(inquiry_scope(actor))
        .order_by(Deal.updated_at.desc(), Deal.id.desc())
        .limit(limit)
    )
    return [DealRow(*r) for r in rows]


@dataclass(frozen=True, slots=True)
class Funnel:
    received: int
    deals: int
    positive: int
    by_stage: list[tuple[str, bool, int]]


async def funnel(session: AsyncSession, actor: Actor, *, department_id: int | None = None,
                 since: datetime | None = None, until: datetime | None = None) -> Funnel:
    """Received inquiries → deals → deals that reached a positive stage, within the actor's reach.

    The supervisors' funnel report reads this; ``by_stage`` counts the deals now at each stage.
    """
    inq = select(func.count(Inquiry.id)).where(inquiry_scope(actor))
    deals_q = select(func.count(Deal.id)).join(Inquiry, Inquiry.id == Deal.inquiry_id).where(inquiry_scope(actor))
    if department_id is not None:
        inq = inq.where(Inquiry.department_id == department_id)
        deals_q = deals_q.where(Deal.department_id == department_id)
    if since is not None:
        inq, deals_q = inq.where(Inquiry.created_at >= since), deals_q.where(Inquiry.created_at >= since)
    if until is not None:
        inq, deals_q = inq.where(Inquiry.created_at < until), deals_q.where(Inquiry.created_at < until)
    received = (await session.execute(inq)).scalar_one()
    deals = (await session.execute(deals_q)).scalar_one()
    positive = (await session.execute(deals_q.where(Deal.reached_positive_at.is_not(None)))).scalar_one()
    by_stage_q = (
        select(FunnelStage.name, FunnelStage.positive, func.count(Deal.id))
        .join(Deal, Deal.stage_id == FunnelStage.id).join(Inquiry, Inquiry.id == Deal.inquiry_id)
        .where(inquiry_scope(actor))
        .group_by(FunnelStage.name, FunnelStage.positive, FunnelStage.position)
        .order_by(FunnelStage.position)
    )
    if department_id is not None:
        by_stage_q = by_stage_q.where(Deal.department_id == department_id)
    by_stage = [(n, bool(p), c) for n, p, c in await session.execute(by_stage_q)]
    return Funnel(received, deals, positive, by_stage)
