"""Cold calls to owner leads: the caller's mark on a call (retry, give up, refused, or reached — which opens
the owner's inquiry with a «назначить просмотр» task), and the bus handler that hands that task and the
property to whoever gets the inquiry."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import false, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agency.deal_forms import DealError
from agency.settings import AgencySettings
from bus.events import InquiryAssigned, InquiryOpened
from crm_core.access import Actor, Forbidden, NotFound
from crm_core.models import Channel, Inquiry, InquiryEvent, Property, Role, Task, TimelineEntry, User, utcnow
from crm_core.models.agency import OwnerLead

log = logging.getLogger("hub.deals")

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
