"""The SLA scheduler: runs the auction chain (routing/sla.py) over the stored inquiries, in working hours,
and closes team offers nobody claimed in time.

Nothing is remembered in memory between passes that the database does not also hold: each open
inquiry's next step and its deadline are recomputed from the inquiry's own timestamps whenever the
inquiry changes, and kept in ``routing_sla``; a pass carries out what is due with an update guarded by the
inquiry's ``updated_at`` (so a step happens once even if two schedulers ran), then recomputes. A restart
simply starts with a full recomputation. On PostgreSQL with several hub instances it runs under
leadership (``bus.leader.LedConnector``), so only one instance does the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bus.bus import EventBus
from bus.events import InquiryAssigned, Push
from crm_core.db import dialect_insert
from crm_core.models import Call, Inquiry, InquiryEvent, InquiryStatus, Pool, utcnow
from crm_core.models.routing import SlaDeadline, TeamOffer, offer_agents
from routing.calendar import WorkCalendar
from routing.department_time import DepartmentTime
from routing.department_time import refresh as refresh_department_time
from routing.queries import OPEN
from routing.rule_sla import rule_configs
from routing.service import RoutingService
from routing.sla import InquiryClock, SlaConfig, SlaStep, next_step

log = logging.getLogger("hub.sla")
REFRESH_CHUNK = 500  # inquiries recomputed per transaction: others' commits (intake's) go in between
OVERLAP = timedelta(seconds=5)  # re-read changes this close to the watermark (clock skew, late commits)
ACTION_POOL = {"to_department_pool": Pool.DEPARTMENT, "to_common_pool": Pool.COMMON, "to_archive": Pool.ARCHIVE}


@dataclass(frozen=True, slots=True)
class StepDone:
    inquiry_id: int
    action: str
    reason: str
    pool: str
    notified: tuple[int, ...]


def clock_of(i: Inquiry, person_at: datetime | None = None) -> InquiryClock:
    """The inquiry as the chain sees it; ``person_at``: the last action by a person of the agency
    (``person_actions``), since ``inquiries.last_action_at`` also moves with the client's messages."""
    return InquiryClock(
        i.id, str(i.channel), i.created_at, pool=str(i.pool), owner_id=i.owner_id,  # type: ignore[arg-type]
        accepted_at=i.accepted_at, planned_at=i.planned_at, last_action_at=person_at,
        pool_entered_at=i.pool_entered_at, refusals=i.refusals,
        closed=i.status not in OPEN,
    )


async def person_actions(s: AsyncSession, ids: list[int]) -> dict[int, datetime]:
    """The last action by a person of the agency on each inquiry: a history line with an actor (accepted,
    claimed, replied, noted, planned, refused, a deal step …) or a call an agent answered. The hub's own
    steps and the client's messages have no actor and do not count."""
    if not ids:
        return {}
    events = (select(InquiryEvent.inquiry_id, func.max(InquiryEvent.at))
              .where(InquiryEvent.inquiry_id.in_(ids), InquiryEvent.actor_id.is_not(None))
              .group_by(InquiryEvent.inquiry_id))
    calls = (select(Call.inquiry_id, func.max(Call.answered_at))
             .where(Call.inquiry_id.in_(ids), Call.answered_at.is_not(None), Call.agent_id.is_not(None))
             .group_by(Call.inquiry_id))
    out: dict[int, datetime] = {}
    for stmt in (events, calls):
        for inquiry_id, when in (await s.execute(stmt)).all():
            if when is not None and inquiry_id is not None:
                out[inquiry_id] = max(out.get(inquiry_id, when), when)
    return out


class SlaScheduler:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], bus: EventBus, routing: RoutingService, *,
                 work: WorkCalendar | None = None, config: SlaConfig | None = None,
                 clock: Callable[[], datetime] = utcnow, poll_s: float = 30.0) -> None:
        self.sessions, self.bus, self.routing = sessions, bus, routing
        self.work = work or routing.work
        self.times = DepartmentTime(self.work)  # a department in another city counts in its own zone and hours
        self.config = config or routing.sla
        self.clock = clock
        self.poll_s = poll_s
        self._watermark: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.state = "stopped"
        self.steps_done = 0

    async def start(self) -> None:
        if self._task is None:
            self._watermark = None  # a (re)start recomputes every open inquiry's deadline
            self._task = asyncio.create_task(self._run(), name="sla-scheduler")
            self.state = "running"

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self.state = "stopped"

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            wait = self.poll_s
            try:
                await self.run_once()
                upcoming = await self.next_deadline()
                if upcoming is not None:
                    wait = min(wait, max(0.05, (upcoming - self.clock()).total_seconds()))
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the loop must outlive a bad moment of the database
                log.exception("SLA pass failed; trying again in %.0fs", wait)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()

    async def run_once(self) -> list[StepDone]:
        """One pass: expire offers, recompute changed deadlines, carry out what is due."""
        now = self.clock()
        await self._expire_offers(now)
        await self.refresh()
        done: list[StepDone] = []
        async with self.sessions() as s:
            due = (await s.execute(select(SlaDeadline.inquiry_id).where(SlaDeadline.due_at <= now)
                                   .order_by(SlaDeadline.due_at).limit(500))).scalars().all()
        for inquiry_id in due:
            step = await self._carry_out(inquiry_id, now)
            if step is not None:
                done.append(step)
        return done

    async def next_deadline(self) -> datetime | None:
        async with self.sessions() as s:
            sla = (await s.execute(select(SlaDeadline.due_at).order_by(SlaDeadline.due_at).limit(1))).scalar()
            offer = (await s.execute(select(TeamOffer.deadline).where(TeamOffer.state == "open")
                                     .order_by(TeamOffer.deadline).limit(1))).scalar()
        found = [t for t in (sla, offer) if t is not None]
        return min(found) if found else None

    async def _expire_offers(self, now: datetime) -> None:
        async with self.sessions() as s:
            ids = (await s.execute(select(TeamOffer.id).where(TeamOffer.state == "open", TeamOffer.deadline <= now)
                                   .order_by(TeamOffer.deadline))).scalars().all()
        for offer_id in ids:
            await self.routing.expire_offer(offer_id)
        # an offer closed by a process that died before re-routing leaves the inquiry "offered" to nobody
        async with self.sessions() as s:
            open_offer = select(TeamOffer.id).where(TeamOffer.inquiry_id == Inquiry.id, TeamOffer.state == "open")
            orphans = (await s.execute(select(Inquiry.id).where(
                Inquiry.status == InquiryStatus.OFFERED, Inquiry.owner_id.is_(None),
                ~open_offer.exists()))).scalars().all()
        for inquiry_id in orphans:
            await self.routing.route(inquiry_id, why="offer_expired", offer_expired=True)

    async def refresh(self) -> int:
        """Recompute the next step of every inquiry changed since the last pass (all of them after a start, or
        after a department's zone or hours changed)."""
        async with self.sessions() as s:
            before = self.times.overrides()
            await refresh_department_time(s, self.times)
            if self.times.overrides() != before:
                self._watermark = None
            stmt = select(Inquiry)
            if self._watermark is not None:
                stmt = stmt.where(Inquiry.updated_at >= self._watermark - OVERLAP)
            else:
                stmt = stmt.where(Inquiry.status.in_(OPEN))
            changed = (await s.execute(stmt.order_by(Inquiry.updated_at))).scalars().all()
        if not changed:
            return 0
        now = self.clock()
        for at in range(0, len(changed), REFRESH_CHUNK):
            await self._store_next_many(changed[at:at + REFRESH_CHUNK], now)
        self._watermark = max(i.updated_at for i in changed)
        return len(changed)

    async def _store_next_many(self, inquiries: list[Inquiry], now: datetime) -> None:
        """The next steps of these inquiries in one short transaction of two statements. A burst of new
        inquiries used to be recomputed one ``get`` and one write each inside a single transaction that
        held SQLite's write lock for seconds, and the forms arriving meanwhile waited or were shed."""
        async with self.sessions() as s:
            person = await person_actions(s, [i.id for i in inquiries])
            own = await rule_configs(s, await self.routing.rules(s), self.config, [i.id for i in inquiries])
        steps = [(i.id, next_step(clock_of(i, person.get(i.id)), now, own.get(i.id, self.config),
                                  self.times.of(i.department_id))) for i in inquiries]
        done = [i for i, step in steps if step is None]
        rows = [{"inquiry_id": i, "due_at": step.deadline, "action": step.action, "reason": step.reason,
                 "computed_at": now} for i, step in steps if step is not None]
        async with self.sessions() as s, s.begin():
            if done:
                await s.execute(delete(SlaDeadline).where(SlaDeadline.inquiry_id.in_(done)))
            if rows:  # an upsert: another scheduler recomputing the same inquiries at once is no clash
                stmt = dialect_insert(s, SlaDeadline)
                await s.execute(stmt.on_conflict_do_update(index_elements=["inquiry_id"], set_={
                    c: stmt.excluded[c] for c in ("due_at", "action", "reason", "computed_at")}), rows)

    async def _config_of(self, s: AsyncSession, inquiry_id: int) -> SlaConfig:
        """The agency's SLA, or the one of the rule that routed the inquiry (routing/rule_sla.py)."""
        own = await rule_configs(s, await self.routing.rules(s), self.config, [inquiry_id])
        return own.get(inquiry_id, self.config)

    async def _store_next(self, s: AsyncSession, inquiry: Inquiry, now: datetime) -> SlaStep | None:
        person = (await person_actions(s, [inquiry.id])).get(inquiry.id)
        config = await self._config_of(s, inquiry.id)
        step = next_step(clock_of(inquiry, person), now, config, self.times.of(inquiry.department_id))
        row = await s.get(SlaDeadline, inquiry.id)
        if step is None:
            if row is not None:
                await s.delete(row)
            return None
        if row is None:
            s.add(SlaDeadline(inquiry_id=inquiry.id, due_at=step.deadline, action=step.action, reason=step.reason,
                              computed_at=now))
        else:
            row.due_at, row.action, row.reason, row.computed_at = step.deadline, step.action, step.reason, now
        return step

    async def _carry_out(self, inquiry_id: int, now: datetime) -> StepDone | None:
        async with self.sessions() as s, s.begin():
            inquiry = await s.get(Inquiry, inquiry_id)
            if inquiry is None:
                await s.execute(delete(SlaDeadline).where(SlaDeadline.inquiry_id == inquiry_id))
                return None
            person = (await person_actions(s, [inquiry_id])).get(inquiry_id)
            config = await self._config_of(s, inquiry_id)
            step = next_step(clock_of(inquiry, person), now, config, self.times.of(inquiry.department_id))
            if step is None or not step.due:
                await self._store_next(s, inquiry, now)
                return None
            pool = ACTION_POOL[step.action]
            if pool == Pool.DEPARTMENT and inquiry.department_id is None:
                pool = Pool.COMMON
            values: dict = {"pool": pool, "owner_id": None, "accepted_at": None, "planned_at": None,
                            "pool_entered_at": step.deadline, "updated_at": now}
            values["status"] = InquiryStatus.ARCHIVED if pool == Pool.ARCHIVE else InquiryStatus.NEW
            if pool == Pool.ARCHIVE:
                values["closed_at"] = now
            won = await s.execute(
                update(Inquiry).where(Inquiry.id == inquiry_id, Inquiry.updated_at == inquiry.updated_at,
                                      Inquiry.pool == step.from_pool)
                .values(**values).execution_options(synchronize_session=False))
            if won.rowcount != 1:
                return None  # changed meanwhile (or another scheduler did it): the next pass recomputes
            offered = (await s.execute(
                select(offer_agents.c.user_id).join(TeamOffer, TeamOffer.id == offer_agents.c.offer_id)
                .where(TeamOffer.inquiry_id == inquiry_id, TeamOffer.state == "open"))).scalars().all()
            await s.execute(update(TeamOffer).where(TeamOffer.inquiry_id == inquiry_id, TeamOffer.state == "open")
                            .values(state="withdrawn", closed_at=now, note=f"SLA: {step.reason}"))
            notify: set[int] = set()
            if "agent" in step.notify:
                notify.update([inquiry.owner_id] if inquiry.owner_id else offered)
            if "supervisor" in step.notify:
                notify.update(await self.routing.supervisors(s, inquiry.department_id))
            s.add(InquiryEvent(inquiry_id=inquiry_id, at=now, kind="sla", note=f"{step.reason}: {step.action}",
                               data={"action": step.action, "reason": step.reason, "from_pool": step.from_pool,
                                     "deadline": step.deadline.isoformat(), "owner_id": inquiry.owner_id,
                                     "notified": sorted(notify)}))
            await s.flush()
            fresh = await s.get(Inquiry, inquiry_id, populate_existing=True)
            await self._store_next(s, fresh, now)
        self.steps_done += 1
        done = StepDone(inquiry_id, step.action, step.reason, str(pool), tuple(sorted(notify)))
        if offered:
            await self.bus.publish(Push(tuple(sorted(offered)), "routing.offer_closed",
                                        {"offer_id": None, "inquiry_id": inquiry_id, "state": "withdrawn"}))
        log.info("SLA inquiry=%s %s (%s) → pool %s; notified %s", inquiry_id, step.action, step.reason, pool,
                 done.notified)
        await self.bus.publish(InquiryAssigned(inquiry_id, None, str(pool)))
        if notify:
            await self.bus.publish(Push(done.notified, "routing.sla", {
                "inquiry_id": inquiry_id, "action": step.action, "reason": step.reason, "pool": str(pool)}))
        return done
