"""Deals and the funnel: a deal grows out of an inquiry and moves through its department's stages; viewings,
contracts and other actions are its steps, each closed with a result from the directory. This module owns the
writes: opening a deal, moving its stage, recording and closing its steps.

Every step is written three times in one transaction: the step itself, a line of the inquiry's history and a
line of the client's timeline. Access follows the inquiry: whoever may read the inquiry reads its deal;
whoever may change the inquiry (its owner, the department's managers, the administrator) changes the deal.
The administrator edits the stages (per department, with a default list) and the results directory
(agency.deal_directories); the reads are in agency.deal_queries, the forms in agency.deal_forms.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agency.deal_directories import ensure_defaults, stage_list_key, stages
from agency.deal_forms import DealError, StepInput
from agency.deal_queries import get_deal
from agency.property_access import get_property
from bus.bus import EventBus
from bus.events import DealStageChanged
from crm_core.access import Actor, NotFound, get_inquiry
from crm_core.models import Inquiry, InquiryEvent, Property, Role, Task, TimelineEntry, User, utcnow
from crm_core.models.agency import Deal, DealStep, ResultKind

log = logging.getLogger("hub.deals")

TASK_KIND = {"viewing": "viewing", "contract": "meeting", "action": "meeting"}


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
                    note: str | None = None, bus: EventBus | None = None) -> None:
    now = utcnow()
    async with sessions() as s, s.begin():
        deal, inquiry = await get_deal(s, actor, deal_id, write=True)
        inquiry_id = inquiry.id
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
    if bus is not None:  # outgoing webhooks (deal.stage_changed), after the commit
        await bus.publish(DealStageChanged(deal_id, inquiry_id, stage_id, actor.user_id))


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
