"""Deals and the funnel: a deal grows out of an inquiry and moves through its department's stages; viewings,
contracts and other actions are its steps, each closed with a result from the directory.

Every step is written three times in one transaction: the step itself, a line of the inquiry's history and a
line of the client's timeline. Access follows the inquiry: whoever may read the inquiry reads its deal;
whoever may change the inquiry (its owner, the department's managers, the administrator) changes the deal.
The administrator edits the stages (per department, with a default list) and the results directory.
"""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import case, false, func, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from agency.properties import get_property
from agency.settings import AgencySettings
from bus.events import InquiryAssigned, InquiryOpened
from crm_core.access import Actor, Forbidden, NotFound, check_inquiry_write, get_inquiry, inquiry_scope
from crm_core.forms import blank_to_none
from crm_core.intake import OPEN_STATUSES
from crm_core.models import Channel, Client, Inquiry, InquiryEvent, Property, Role, Task, TimelineEntry, User, utcnow
from crm_core.models.agency import Deal, DealStep, FunnelStage, OwnerLead, ResultKind

log = logging.getLogger("hub.deals")

DEFAULT_LIST = 0
DEFAULT_STAGES: tuple[tuple[str, bool], ...] = (
    ("Новая", False), ("Подбор вариантов", False), ("Просмотры", False), ("Договор", True),
    ("Сделка закрыта", True),
)
DEFAULT_RESULTS: tuple[tuple[str, str, bool], ...] = (
    ("Клиент заинтересован", "any", False), ("Просмотр проведён", "viewing", True),
    ("Просмотр не состоялся", "viewing", False), ("Договор подписан", "contract", True),
    ("Клиент отказался", "any", False), ("Перезвонить позже", "action", False),
)
STEP_KINDS = ("viewing", "contract", "action")
RESULT_SCOPES = ("any", "action", "viewing", "contract", "call")
TASK_KIND = {"viewing": "viewing", "contract": "meeting", "action": "meeting"}


class DealError(ValueError):
    """A value the records refuse, named by its form field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# ---------------------------------------------------------------- directories (administrator)

async def ensure_defaults(sessions: async_sessionmaker[AsyncSession]) -> None:
    """The default stage list and results directory, created once when missing (safe to run concurrently)."""
    async with sessions() as s:
        has_stages = (await s.execute(select(FunnelStage.id).where(FunnelStage.list_key == DEFAULT_LIST)
                                      .limit(1))).first()
        has_results = (await s.execute(select(ResultKind.id).limit(1))).first()
    if has_stages and has_results:
        return
    try:
        async with sessions() as s, s.begin():
            if not has_stages:
                for pos, (name, positive) in enumerate(DEFAULT_STAGES):
                    s.add(FunnelStage(list_key=DEFAULT_LIST, name=name, position=pos, positive=positive))
            if not has_results:
                for pos, (name, applies_to, positive) in enumerate(DEFAULT_RESULTS):
                    s.add(ResultKind(name=name, applies_to=applies_to, positive=positive, position=pos))
    except IntegrityError:
        pass  # another request created them a moment before


async def stage_list_key(session: AsyncSession, department_id: int | None) -> int:
    """The department's own list when it has one, else the default list."""
    if department_id is None:
        return DEFAULT_LIST
    own = (await session.execute(select(FunnelStage.id).where(FunnelStage.list_key == department_id)
                                 .limit(1))).first()
    return department_id if own else DEFAULT_LIST


async def stages(session: AsyncSession, list_key: int, *, active_only: bool = True) -> list[FunnelStage]:
    stmt = select(FunnelStage).where(FunnelStage.list_key == list_key)
    if active_only:
        stmt = stmt.where(FunnelStage.active.is_(True))
    return list((await session.execute(stmt.order_by(FunnelStage.position, FunnelStage.id))).scalars())


async def results(session: AsyncSession, *, active_only: bool = True) -> list[ResultKind]:
    stmt = select(ResultKind)
    if active_only:
        stmt = stmt.where(ResultKind.active.is_(True))
    return list((await session.execute(stmt.order_by(ResultKind.position, ResultKind.id))).scalars())


def _admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise Forbidden("directory")


def _name(value: str, limit: int) -> str:
    name = " ".join((value or "").split())
    if not name:
        raise DealError("name", "a name is required")
    if len(name) > limit:
        raise DealError("name", f"at most {limit} characters")
    return name


async def add_stage(sessions: async_sessionmaker[AsyncSession], actor: Actor, list_key: int, name: str,
                    positive: bool) -> int:
    _admin(actor)
    name = _name(name, 100)
    try:
        async with sessions() as s, s.begin():
            last = (await s.execute(select(func.max(FunnelStage.position))
                                    .where(FunnelStage.list_key == list_key))).scalar()
            stage = FunnelStage(list_key=list_key, name=name, position=(last or 0) + 1, positive=positive)
            s.add(stage)
            await s.flush()
            log.info("stage=%s %r added to list=%s by admin=%s", stage.id, name, list_key, actor.user_id)
            return stage.id
    except IntegrityError:
        raise DealError("name", "this list already has a stage with this name") from None


async def copy_default_stages(sessions: async_sessionmaker[AsyncSession], actor: Actor, department_id: int) -> None:
    """Give a department its own list, starting as a copy of the default one."""
    _admin(actor)
    async with sessions() as s, s.begin():
        if (await s.execute(select(FunnelStage.id).where(FunnelStage.list_key == department_id).limit(1))).first():
            raise DealError("department", "the department already has its own list")
        for st in await stages(s, DEFAULT_LIST, active_only=False):
            s.add(FunnelStage(list_key=department_id, name=st.name, position=st.position, positive=st.positive,
                              active=st.active))


async def update_stage(sessions: async_sessionmaker[AsyncSession], actor: Actor, stage_id: int, *,
                       name: str | None = None, positive: bool | None = None, active: bool | None = None,
                       move: str | None = None) -> None:
    _admin(actor)
    try:
        async with sessions() as s, s.begin():
            stage = await s.get(FunnelStage, stage_id)
            if stage is None:
                raise NotFound("stage")
            if name is not None:
                stage.name = _name(name, 100)
            if positive is not None:
                stage.positive = positive
            if active is not None:
                stage.active = active
            if move in ("up", "down"):
                ordered = await stages(s, stage.list_key, active_only=False)
                i = next(n for n, st in enumerate(ordered) if st.id == stage.id)
                j = i - 1 if move == "up" else i + 1
                if 0 <= j < len(ordered):
                    ordered[i], ordered[j] = ordered[j], ordered[i]
                for pos, st in enumerate(ordered):
                    st.position = pos
            await s.flush()
    except IntegrityError:
        raise DealError("name", "this list already has a stage with this name") from None
    log.info("stage=%s changed by admin=%s", stage_id, actor.user_id)


class ResultInput(BaseModel):
    name: str = Field(min_length=1, max_length=150)
    applies_to: str = "any"
    positive: bool = False
    active: bool = True

    @field_validator("name", mode="before")
    @classmethod
    def _trim(cls, v: object) -> object:
        return " ".join(v.split()) if isinstance(v, str) else v

    @field_validator("applies_to")
    @classmethod
    def _scope(cls, v: str) -> str:
        if v not in RESULT_SCOPES:
            raise ValueError(f"one of {', '.join(RESULT_SCOPES)}")
        return v


async def save_result(sessions: async_sessionmaker[AsyncSession], actor: Actor, data: ResultInput,
                      result_id: int | None = None) -> int:
    _admin(actor)
    try:
        async with sessions() as s, s.begin():
            if result_id is None:
                last = (await s.execute(select(func.max(ResultKind.position)))).scalar()
                item = ResultKind(position=(last or 0) + 1)
                s.add(item)
            else:
                item = await s.get(ResultKind, result_id)
                if item is None:
                    raise NotFound("result")
            item.name, item.applies_to, item.positive, item.active = (data.name, data.applies_to, data.positive,
                                                                      data.active)
            await s.flush()
            return item.id
    except IntegrityError:
        raise DealError("name", "the directory already has this result") from None


# ---------------------------------------------------------------- deals

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


def _history(s: AsyncSession, inquiry: Inquiry, actor: Actor, at: datetime, kind: str, summary: str,
             data: dict, ref_id: int | None) -> None:
    s.add(InquiryEvent(inquiry_id=inquiry.id, at=at, actor_id=actor.user_id, kind=kind, note=summary or None,
                       data=data))
    s.add(TimelineEntry(client_id=inquiry.client_id, at=at, kind=kind, inquiry_id=inquiry.id, ref_id=ref_id,
                        actor_id=actor.user_id, summary=summary[:200]))
    inquiry.last_action_at = max(inquiry.last_action_at or at, at)


async def open_deal(sessions: async_sessionmaker[AsyncSession], actor: Actor, inquiry_id: int) -> int:
    """The inquiry's deal, opened at the first stage of its department's funnel; the same deal when it exists."""
    await ensure_defaults(sessions)
    now = utcnow()
    try:
        async with sessions() as s, s.begin():
            inquiry = await get_inquiry(s, actor, inquiry_id, write=True)
            existing = (await s.execute(select(Deal.id).where(Deal.inquiry_id == inquiry.id))).scalar()
            if existing is not None:
                return existing
            department_id = inquiry.department_id or actor.department_id
            first = (await stages(s, await stage_list_key(s, department_id)))[:1]
            deal = Deal(inquiry_id=inquiry.id, client_id=inquiry.client_id, department_id=department_id,
                        agent_id=inquiry.owner_id or actor.user_id, stage_id=first[0].id if first else None,
                        property_id=inquiry.property_id, created_at=now, updated_at=now)
            if first and first[0].positive:
                deal.reached_positive_at = now
            s.add(deal)
            await s.flush()
            _history(s, inquiry, actor, now, "deal_opened", first[0].name if first else "",
                     {"deal_id": deal.id}, deal.id)
            log.info("deal=%s opened from inquiry=%s by user=%s", deal.id, inquiry.id, actor.user_id)
            return deal.id
    except IntegrityError:
        async with sessions() as s:  # opened by a simultaneous request: that one stands
            deal_id = (await s.execute(select(Deal.id).where(Deal.inquiry_id == inquiry_id))).scalar()
        if deal_id is None:
            raise
        return deal_id


async def set_stage(sessions: async_sessionmaker[AsyncSession], actor: Actor, deal_id: int, stage_id: int,
                    note: str | None = None) -> None:
    now = utcnow()
    async with sessions() as s, s.begin():
        deal, inquiry = await get_deal(s, actor, deal_id, write=True)
        allowed = {st.id: st for st in await stages(s, await stage_list_key(s, deal.department_id))}
        stage = allowed.get(stage_id)
        if stage is None:
            raise DealError("stage_id", "not a stage of this department's funnel")
        if deal.stage_id == stage.id:
            return
        deal.stage_id = stage.id
        if stage.positive and deal.reached_positive_at is None:
            deal.reached_positive_at = now
        note = (note or "").strip()[:2000] or None
        s.add(DealStep(deal_id=deal.id, kind="stage", at=now, agent_id=actor.user_id, stage_id=stage.id,
                       note=note, created_by=actor.user_id, created_at=now))
        _history(s, inquiry, actor, now, "deal_stage", stage.name + (f" — {note}" if note else ""),
                 {"deal_id": deal.id, "stage_id": stage.id, "positive": stage.positive}, deal.id)
    log.info("deal=%s stage=%s by user=%s", deal_id, stage_id, actor.user_id)


class StepInput(BaseModel):
    kind: str
    at: datetime
    planned: bool = False
    property_id: int | None = None
    result_id: int | None = None
    agent_id: int | None = None
    note: str | None = Field(default=None, max_length=5000)

    @field_validator("property_id", "result_id", "agent_id", "note", mode="before")
    @classmethod
    def _blank(cls, v: object) -> object:
        return blank_to_none(v)

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if v not in STEP_KINDS:
            raise ValueError("viewing, contract or action")
        return v

    @field_validator("at")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("the date needs a time zone")
        return v


async def _check_result(s: AsyncSession, result_id: int | None, kind: str) -> ResultKind:
    if result_id is None:
        raise DealError("result_id", "pick the result from the directory")
    result = await s.get(ResultKind, result_id)
    if result is None or not result.active or result.applies_to not in ("any", kind):
        raise DealError("result_id", "not a result for this kind of step")
    return result


async def _check_agent(s: AsyncSession, actor: Actor, agent_id: int | None, deal: Deal) -> int:
    if agent_id is None or agent_id == actor.user_id:
        return actor.user_id
    if actor.role == Role.AGENT:
        raise DealError("agent_id", "an agent records their own steps")
    user = await s.get(User, agent_id)
    if user is None or not user.is_active or (not actor.is_admin and user.department_id != actor.department_id):
        raise DealError("agent_id", "no such agent in your department")
    return user.id


def _step_summary(kind: str, prop: Property | None, result: ResultKind | None, note: str | None) -> str:
    parts = [p for p in (prop.address if prop else None, result.name if result else None) if p]
    text = " · ".join(parts)
    if note:
        text = f"{text} — {note}" if text else note
    return text


async def record_step(sessions: async_sessionmaker[AsyncSession], actor: Actor, deal_id: int,
                      data: StepInput) -> int:
    """A viewing, contract or action: done now with a result, or planned (a task for its agent)."""
    now = utcnow()
    async with sessions() as s, s.begin():
        deal, inquiry = await get_deal(s, actor, deal_id, write=True)
        prop = None
        if data.property_id is not None:
            try:
                prop = await get_property(s, actor, data.property_id)
            except NotFound:
                raise DealError("property_id", "no such property") from None
        elif data.kind == "viewing":
            if deal.property_id is None:
                raise DealError("property_id", "a viewing needs the property")
            prop = await s.get(Property, deal.property_id)
        result = None if data.planned else await _check_result(s, data.result_id, data.kind)
        agent_id = await _check_agent(s, actor, data.agent_id, deal)
        step = DealStep(deal_id=deal.id, kind=data.kind, status="planned" if data.planned else "done", at=data.at,
                        agent_id=agent_id, property_id=prop.id if prop else None,
                        result_id=result.id if result else None, note=data.note, created_by=actor.user_id,
                        created_at=now)
        s.add(step)
        if data.planned:
            task = Task(kind=TASK_KIND[data.kind], client_id=inquiry.client_id, inquiry_id=inquiry.id,
                        assignee_id=agent_id, department_id=deal.department_id, due_at=data.at,
                        note=_step_summary(data.kind, prop, None, data.note)[:2000] or None, created_at=now)
            s.add(task)
            await s.flush()
            step.task_id = task.id
        await s.flush()
        if prop is not None and deal.property_id is None:
            deal.property_id = prop.id
        kind = f"{data.kind}_planned" if data.planned else data.kind
        _history(s, inquiry, actor, now, kind, _step_summary(data.kind, prop, result, data.note),
                 {"deal_id": deal.id, "step_id": step.id, "at": data.at.isoformat(),
                  "result_id": result.id if result else None}, step.id)
        log.info("deal=%s step=%s kind=%s planned=%s by user=%s", deal.id, step.id, data.kind, data.planned,
                 actor.user_id)
        return step.id


async def close_step(sessions: async_sessionmaker[AsyncSession], actor: Actor, step_id: int, result_id: int | None,
                     note: str | None = None, at: datetime | None = None) -> None:
    """Close a planned step with a result from the directory; its task is done."""
    now = utcnow()
    async with sessions() as s, s.begin():
        step = await s.get(DealStep, step_id)
        if step is None:
            raise NotFound("step")
        deal, inquiry = await get_deal(s, actor, step.deal_id, write=True)
        if step.status != "planned":
            raise DealError("result_id", "this step is already closed")
        result = await _check_result(s, result_id, step.kind)
        note = (note or "").strip()[:5000] or None
        step.status, step.result_id = "done", result.id
        step.at = at or step.at
        if note:
            step.note = f"{step.note}\n{note}" if step.note else note
        if step.task_id is not None:
            task = await s.get(Task, step.task_id)
            if task is not None:
                task.status = "done"
        prop = await s.get(Property, step.property_id) if step.property_id else None
        _history(s, inquiry, actor, now, step.kind, _step_summary(step.kind, prop, result, note),
                 {"deal_id": deal.id, "step_id": step.id, "result_id": result.id}, step.id)
    log.info("step=%s closed with result=%s by user=%s", step_id, result_id, actor.user_id)


# ---------------------------------------------------------------- reads

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


# ---------------------------------------------------------------- cold calls to owner leads

ColdCallSettings = AgencySettings


COLD_OUTCOMES = ("no_answer", "busy", "refused", "reached")


@dataclass(frozen=True, slots=True)
class ColdCallOutcome:
    lead_id: int
    status: str  # calling | gave_up | refused | reached
    retry_at: datetime | None = None
    inquiry_id: int | None = None
    agent_id: int | None = None
    viewing_task_id: int | None = None


def cold_task_scope(actor: Actor):  # noqa: ANN201 - a WHERE clause
    """Cold-call tasks: the call-center department's (any of its people), one's own, or all (administrator)."""
    if actor.is_admin:
        return true()
    if actor.role == Role.DIRECTOR:
        return false()
    mine = Task.assignee_id == actor.user_id
    if actor.department_id is None:
        return mine
    return or_(mine, Task.department_id == actor.department_id)


async def cold_call_result(sessions: async_sessionmaker[AsyncSession], bus, actor: Actor, task_id: int,  # noqa: ANN001
                           outcome: str, *, settings: ColdCallSettings | None = None, note: str | None = None,
                           now: datetime | None = None) -> ColdCallOutcome:
    """The caller's mark on a cold call. No answer / busy: the same task comes back after the set time, until
    the tries run out. Refused: closed. Reached and willing: the owner's inquiry about the property is opened
    and goes through routing (territory, type, price… or a claim offered to all agents); the agent it reaches
    gets a «назначить просмотр» task with the property and the owner attached."""
    settings = settings or ColdCallSettings()
    if outcome not in COLD_OUTCOMES:
        raise DealError("outcome", "no_answer, busy, refused or reached")
    now = now or utcnow()
    note = (note or "").strip()[:2000] or None
    async with sessions() as s, s.begin():
        task = (await s.execute(select(Task).where(Task.id == task_id, Task.kind == "cold_call",
                                                   cold_task_scope(actor)))).scalar_one_or_none()
        if task is None:
            raise NotFound("task")
        lead = (await s.execute(select(OwnerLead).where(OwnerLead.task_id == task.id))).scalar_one_or_none()
        if lead is None:
            raise NotFound("lead")
        if actor.role == Role.DIRECTOR:
            raise Forbidden("task")
        attempts = task.attempts + 1
        if outcome in ("no_answer", "busy"):
            gave_up = attempts >= settings.max_attempts
            retry_at = None if gave_up else now + timedelta(minutes=settings.retry_after_minutes)
            won = await s.execute(update(Task).where(Task.id == task.id, Task.status == "open",
                                                     Task.attempts == task.attempts)
                                  .values(attempts=attempts, status="failed" if gave_up else "open",
                                          due_at=retry_at or task.due_at, assignee_id=None)
                                  .execution_options(synchronize_session=False))
            if won.rowcount != 1:
                raise DealError("outcome", "this call was already marked")
            lead.attempts, lead.status, lead.updated_at = attempts, "gave_up" if gave_up else "calling", now
            log.info("cold call task=%s %s attempt=%s retry_at=%s by user=%s", task.id, outcome, attempts, retry_at,
                     actor.user_id)
            return ColdCallOutcome(lead.id, lead.status, retry_at)
        won = await s.execute(update(Task).where(Task.id == task.id, Task.status == "open")
                              .values(attempts=attempts, status="done", assignee_id=actor.user_id)
                              .execution_options(synchronize_session=False))
        if won.rowcount != 1:
            raise DealError("outcome", "this call was already marked")
        lead.attempts, lead.updated_at = attempts, now
        if outcome == "refused":
            lead.status = "refused"
            if note:
                s.add(TimelineEntry(client_id=task.client_id, at=now, kind="cold_call", actor_id=actor.user_id,
                                    summary=f"Отказ: {note}"[:200]))
            return ColdCallOutcome(lead.id, "refused")
        lead.status = "reached"
        prop = await s.get(Property, lead.property_id)
        assert prop is not None
        inquiry = Inquiry(client_id=task.client_id, channel=Channel.MANUAL, external_id=f"owner-lead:{lead.id}",
                          thread_key=f"owner-lead:{lead.id}", subject=f"Собственник: {prop.address}"[:500],
                          source=lead.source or settings.lead_source, property_id=prop.id, created_at=now,
                          updated_at=now, last_action_at=now)
        s.add(inquiry)
        await s.flush()
        s.add(InquiryEvent(inquiry_id=inquiry.id, at=now, actor_id=actor.user_id, kind="opened", note=note,
                           data={"channel": "manual", "source": inquiry.source, "owner_lead": lead.id}))
        s.add(TimelineEntry(client_id=task.client_id, at=now, kind="inquiry_opened", channel="manual",
                            inquiry_id=inquiry.id, ref_id=inquiry.id, actor_id=actor.user_id,
                            summary=inquiry.subject or ""))
        # The «назначить просмотр» task exists before routing hears of the inquiry; whoever gets the inquiry —
        # now, or later by claiming an offer — gets the task (follow_owner_inquiry, in either order).
        viewing = Task(kind="viewing", status="open", client_id=task.client_id, inquiry_id=inquiry.id,
                       department_id=lead.department_id, due_at=now + timedelta(hours=settings.viewing_due_hours),
                       note=f"Назначить просмотр: {prop.address}"[:2000], created_at=now)
        s.add(viewing)
        await s.flush()
        s.add(TimelineEntry(client_id=task.client_id, at=now, kind="viewing_task", inquiry_id=inquiry.id,
                            ref_id=viewing.id, actor_id=actor.user_id, summary=viewing.note[:200]))
        inquiry_id, client_id, lead_id, viewing_id = inquiry.id, task.client_id, lead.id, viewing.id
    await bus.publish(InquiryOpened(inquiry_id, client_id or 0, "manual", f"owner-lead:{lead_id}"))
    agent_id = await follow_owner_inquiry(sessions, inquiry_id)
    log.info("cold call task=%s reached: inquiry=%s agent=%s viewing task=%s", task_id, inquiry_id, agent_id,
             viewing_id)
    return ColdCallOutcome(lead_id, "reached", None, inquiry_id, agent_id, viewing_id)


async def follow_owner_inquiry(sessions: async_sessionmaker[AsyncSession], inquiry_id: int) -> int | None:
    """An owner's inquiry has an agent (routed, or claimed from an offer): its open «назначить просмотр» task
    and its property (while nobody's) become theirs. Idempotent; returns the agent."""
    async with sessions() as s, s.begin():
        inquiry = await s.get(Inquiry, inquiry_id)
        if inquiry is None or inquiry.owner_id is None or not inquiry.external_id.startswith("owner-lead:"):
            return None
        agent_id = inquiry.owner_id
        department_id = (await s.execute(select(User.department_id).where(User.id == agent_id))).scalar()
        await s.execute(update(Task).where(Task.inquiry_id == inquiry_id, Task.kind == "viewing",
                                           Task.status == "open", Task.assignee_id.is_(None))
                        .values(assignee_id=agent_id, department_id=department_id)
                        .execution_options(synchronize_session=False))
        if inquiry.property_id is not None:
            await s.execute(update(Property).where(Property.id == inquiry.property_id, Property.agent_id.is_(None))
                            .values(agent_id=agent_id, department_id=department_id)
                            .execution_options(synchronize_session=False))
        return agent_id


def subscribe(bus, sessions: async_sessionmaker[AsyncSession]) -> None:  # noqa: ANN001 - bus.bus.EventBus
    """Wire the agency's bus handlers (bootstrap): a claimed owner's inquiry takes its viewing task along."""
    async def on_assigned(event: InquiryAssigned) -> None:
        if event.owner_id is not None and event.channel in ("", "manual"):  # owners' leads are manual ones
            await follow_owner_inquiry(sessions, event.inquiry_id)

    bus.subscribe(InquiryAssigned, on_assigned)


# ---------------------------------------------------------------- «Контроль»: the department head's view

CONTROL_ROLES = (Role.DEPT_HEAD, Role.DEPT_MANAGER, Role.ADMIN)


@dataclass(frozen=True, slots=True)
class ControlRow:
    id: int
    client_name: str
    owner_name: str | None
    status: str
    planned_action: str | None
    planned_at: datetime | None
    last_action_at: datetime | None
    overdue: bool
    today: bool


def add_months(when: datetime, months: int) -> datetime:
    """The same day ``months`` later (the last day of a shorter month)."""
    month0 = when.month - 1 + months
    year, month = when.year + month0 // 12, month0 % 12 + 1
    return when.replace(year=year, month=month, day=min(when.day, calendar.monthrange(year, month)[1]))


async def control_rows(session: AsyncSession, actor: Actor, *, now: datetime, zone: str = "Europe/Moscow",
                       department_id: int | None = None, limit: int = 500) -> list[ControlRow]:
    """Open inquiries of the department with their next action: overdue first, then none planned, then by date."""
    if actor.role not in CONTROL_ROLES:
        raise Forbidden("control")
    department = actor.department_id if not actor.is_admin else department_id
    owner = aliased(User)
    stmt = (
        select(Inquiry.id, Client.name, owner.full_name, Inquiry.status, Inquiry.planned_action, Inquiry.planned_at,
               Inquiry.last_action_at)
        .join(Client, Client.id == Inquiry.client_id)
        .outerjoin(owner, owner.id == Inquiry.owner_id)
        .where(inquiry_scope(actor), Inquiry.status.in_(OPEN_STATUSES))
        .order_by(case((Inquiry.planned_at < now, 0), (Inquiry.planned_at.is_(None), 1), else_=2),
                  Inquiry.planned_at, Inquiry.id)
        .limit(limit)
    )
    if department is not None:
        stmt = stmt.where(Inquiry.department_id == department)
    local = ZoneInfo(zone)
    today = now.astimezone(local).date()
    return [ControlRow(r[0], r[1], r[2], str(r[3]), r[4], r[5], r[6], r[5] is not None and r[5] < now,
                       r[5] is not None and r[5].astimezone(local).date() == today)
            for r in await session.execute(stmt)]


async def set_next_action(sessions: async_sessionmaker[AsyncSession], actor: Actor, inquiry_id: int, action: str,
                          when: datetime, *, now: datetime | None = None) -> None:
    """The head sets the next action by hand, up to 2 months ahead (further is refused, as is the past)."""
    now = now or utcnow()
    if actor.role not in CONTROL_ROLES:
        raise Forbidden("control")
    action = " ".join((action or "").split())[:300]
    if not action:
        raise DealError("planned_action", "say what is to be done")
    if when.tzinfo is None:
        raise DealError("planned_at", "the date needs a time zone")
    if when < now:
        raise DealError("planned_at", "the date is in the past")
    if when > add_months(now, 2):
        raise DealError("planned_at", "at most 2 months ahead")
    async with sessions() as s, s.begin():
        inquiry = await get_inquiry(s, actor, inquiry_id, write=True)
        inquiry.planned_action, inquiry.planned_at = action, when
        s.add(InquiryEvent(inquiry_id=inquiry.id, at=now, actor_id=actor.user_id, kind="planned", note=action,
                           data={"at": when.isoformat(), "control": True}))
        s.add(TimelineEntry(client_id=inquiry.client_id, at=now, kind="planned", inquiry_id=inquiry.id,
                            actor_id=actor.user_id, summary=action[:200]))
    log.info("inquiry=%s next action set to %s by head user=%s", inquiry_id, when.isoformat(), actor.user_id)
