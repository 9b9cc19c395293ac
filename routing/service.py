"""Routing wired to the database and the bus: ``RoutingService`` routes each new inquiry (its lifecycle,
bus handlers, the compiled rules, and the routing transaction), and takes claims, refusals and status
changes through its parts: team offers (routing/offers.py) and the owner's answer (routing/owner_answers.py).
The tables it reads are in routing/queries.py, the agents' snapshot it decides over in
routing/directory_cache.py, and how a decision is written in routing/assign.py.

``decide`` (routing/decide.py) stays pure; this module reads what it needs, calls it, and writes the
result in one transaction that starts with a write to the routing-state row. That first write serialises
routing transactions (SQLite's write lock, a row lock on PostgreSQL, so two hub processes never move the
round-robin pointer past each other) and is where the state is read back, so a restart keeps fairness.

Where intake is wired to it (``IntakeService.routing``), the inquiries a group of messages opens are
routed inside intake's transaction (``within``) and announced after it commits.

An inquiry is routed once when it opens (``routing_inquiries`` has its id as primary key: a replayed
``InquiryOpened`` finds the row and does nothing), and again only on purpose: a team offer nobody claimed,
a refusal, its agent going offline before accepting it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bus.bus import EventBus
from bus.events import AgentStatusChanged, InquiryAssigned, InquiryOpened, Push
from crm_core.db import dialect_insert
from crm_core.group_commit import ALONE, GroupCommit
from crm_core.models import Inquiry, InquiryStatus, Pool, Role, User, utcnow
from crm_core.models.routing import RoutedInquiry, RoutingKV
from routing.assign import Abort, Routed, write_decisions
from routing.calendar import WorkCalendar
from routing.directory_cache import DirectoryCache, decide_checked, decide_many_checked
from routing.model import Decision
from routing.offers import TeamOffers
from routing.owner_answers import OwnerAnswers
from routing.queries import (
    DIRECTORY_KEY,
    OPEN,
    STATE_KEY,
    VERSION_KEY,
    inquiry_facts,
    inquiry_facts_many,
    load_rule_data,
    remember_kv,
    rules_version,
)
from routing.rules import RuleSet, RuleSetError, compile_rules
from routing.sla import SlaConfig
from routing.strategies import RoutingState

log = logging.getLogger("hub.routing")
SUPERVISOR_ROLES = (Role.DEPT_HEAD, Role.DEPT_MANAGER)
CATCH_UP_BATCH = 64


class RoutingService(TeamOffers, OwnerAnswers):
    """Routes each new inquiry; claims, refusals and status changes go through it too."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], bus: EventBus, *,
                 work: WorkCalendar | None = None, sla: SlaConfig | None = None,
                 clock: Callable[[], datetime] = utcnow, directory_ttl_s: float = 0.0) -> None:
        self.sessions, self.bus = sessions, bus
        self.work = work or WorkCalendar()
        self.sla = sla or SlaConfig()
        self.clock = clock
        # 0: the agents' snapshot is read from the database for every decision; > 0: kept (DirectoryCache)
        self.cache = DirectoryCache(self.work, directory_ttl_s) if directory_ttl_s > 0 else None
        self.state = "stopped"
        self._lock = asyncio.Lock()
        self._rules: RuleSet | None = None
        self._rules_version = -1
        self._subscribed = False
        self._catch_up: asyncio.Task[int] | None = None
        self._opened: GroupCommit[int, Routed | None] = GroupCommit(
            self._route_opened_batch, self._route_opened_alone, name="routing-group")
        self.routed = 0

    # lifecycle ------------------------------------------------------------------------------------------
    async def start(self) -> None:
        async with self.sessions() as s, s.begin():
            await _ensure_state_row(s, utcnow())
        if not self._subscribed:
            self.bus.subscribe(InquiryOpened, self.on_inquiry_opened)
            self.bus.subscribe(AgentStatusChanged, self.on_agent_status)
            self.bus.subscribe(InquiryAssigned, self.on_inquiry_assigned)
            self._subscribed = True
        self.state = "running"
        if self._catch_up is None:
            self._catch_up = asyncio.create_task(self.catch_up(), name="routing-catch-up")

    async def stop(self) -> None:
        self.state = "stopped"  # the bus has no unsubscribe; a stopped service ignores events
        if self._catch_up is not None:
            self._catch_up.cancel()
            await asyncio.gather(self._catch_up, return_exceptions=True)
            self._catch_up = None
        async with self._lock:
            pass

    async def caught_up(self) -> int:
        """Wait for the start-up catch-up (tests, and callers that route by hand right after a start)."""
        return await self._catch_up if self._catch_up is not None else 0

    async def catch_up(self) -> int:
        """Route what opened while no routing service listened (the hub was starting, or down), from the
        last ``max_idle_days``: new, ownerless, in no pool, and never routed."""
        since = self.clock() - timedelta(days=self.sla.max_idle_days)
        async with self.sessions() as s:
            ids = (await s.execute(
                select(Inquiry.id).outerjoin(RoutedInquiry, RoutedInquiry.inquiry_id == Inquiry.id)
                .where(RoutedInquiry.inquiry_id.is_(None), Inquiry.status == InquiryStatus.NEW,
                       Inquiry.owner_id.is_(None), Inquiry.pool == Pool.NONE, Inquiry.created_at >= since)
                .order_by(Inquiry.id))).scalars().all()
        done = 0
        for at in range(0, len(ids), CATCH_UP_BATCH):
            if self.state != "running":
                break
            chunk = ids[at:at + CATCH_UP_BATCH]
            results = await asyncio.gather(*(self.route_opened(i) for i in chunk), return_exceptions=True)
            for inquiry_id, result in zip(chunk, results, strict=True):
                if isinstance(result, Exception):  # one bad inquiry must not stop the others
                    log.error("catch-up routing of inquiry=%s failed", inquiry_id, exc_info=result)
                done += isinstance(result, Routed)
        if done:
            log.info("routed %d inquiries that opened while routing was not running", done)
        return done

    # bus handlers ---------------------------------------------------------------------------------------
    async def on_inquiry_opened(self, event: InquiryOpened) -> None:
        if event.routed:  # already, inside intake's transaction (``within``), and announced
            return
        if self.state == "running" and event.owner_id is None:  # an owner already: taken (an answered call)
            await self.route_opened(event.inquiry_id)

    async def on_agent_status(self, event: AgentStatusChanged) -> None:
        if self.cache is not None:
            self.cache.touch(event.user_id)
        if self.state == "running" and event.status in ("offline", "break"):
            await self.agent_unavailable(event.user_id, event.status)

    async def on_inquiry_assigned(self, event: InquiryAssigned) -> None:
        """Someone else gave an inquiry to an agent (a claim, a supervisor, the inbox): re-read their load.
        The routing service's own assignments (no actor) are already in its snapshot."""
        if self.cache is not None and event.actor_id is not None:
            self.cache.touch(event.owner_id, event.actor_id)

    def agents_changed(self) -> None:
        """Profiles or rotas were saved in this process (other processes see ``directory_version``)."""
        if self.cache is not None:
            self.cache.invalidate()

    # rules ----------------------------------------------------------------------------------------------
    async def rules(self, s: AsyncSession) -> RuleSet:
        version = await rules_version(s)
        if self._rules is None or version != self._rules_version:
            data = await load_rule_data(s)
            try:
                self._rules = compile_rules(data)
            except RuleSetError:
                if self._rules is None:
                    raise
                log.exception("stored routing rules do not compile; the running rules stay")
            self._rules_version = version
        return self._rules

    # routing --------------------------------------------------------------------------------------------
    async def route(self, inquiry_id: int, *, why: str = "opened", offer_expired: bool = False) -> Routed | None:
        """Decide and assign. ``why``: opened (once per inquiry), or a re-route (offer_expired, refused,
        offline). Returns None when there was nothing to do (already routed, taken meanwhile, closed)."""
        async with self._lock:
            try:
                result = await self._route(inquiry_id, why, offer_expired)
            except Abort:
                return None
        if result is None:
            return None
        routed, decision = result
        self.routed += 1
        log.info("inquiry=%s routed (%s): %s agent=%s pool=%s offer=%s rule=%s", inquiry_id, why, routed.outcome,
                 routed.agent_id, routed.pool, routed.offer_id, decision.rule_id)
        await self._announce(routed, decision)
        return routed

    async def route_opened(self, inquiry_id: int) -> Routed | None:
        """Route a newly opened inquiry. Inquiries that open while a routing transaction is under way are
        routed together in the next one (one lock, one read of their facts, one commit), each decided in
        turn against the same agents' snapshot, so the second sees the load the first added."""
        return await self._opened.submit(inquiry_id)

    async def _route_opened_alone(self, inquiry_id: int) -> Routed | None:
        return await self.route(inquiry_id)

    async def _route_opened_batch(self, ids: list[int]) -> list[Routed | None | object]:
        async with self._lock:
            try:
                done = await self._route_many(ids)
            except Exception:  # noqa: BLE001 - the shared transaction failed: each one is routed alone
                log.exception("routing %d opened inquiries together failed; routing them one by one", len(ids))
                if self.cache is not None:
                    self.cache.invalidate()  # it may hold loads of decisions that were never written
                return [ALONE] * len(ids)
        await self._announce_all(done)
        return [done[i][0] if i in done else None for i in ids]

    async def within(self, s: AsyncSession, inquiry_ids: Sequence[int]) -> dict[int, tuple[Routed, Decision]]:
        """Route inquiries intake has just opened inside intake's own transaction: the forms, their routing
        and the agents' new load commit together (one transaction and one group instead of two chained
        ones). Returns what was routed, for ``committed``; the rest (routing busy in a transaction of its
        own, routing stopped, a failure here) is routed as before when its ``InquiryOpened`` arrives."""
        if self.state != "running" or not inquiry_ids or self._lock.locked():
            return {}
        async with self._lock:  # free (checked above): taken without giving up the event loop
            try:
                async with s.begin_nested():  # a failure undoes the routing only; the forms stay stored
                    return await self._route_many_in(s, list(inquiry_ids), self.clock())
            except Exception:  # noqa: BLE001 - routed the usual way afterwards
                log.exception("routing %d opened inquiries inside intake failed; they are routed on their own",
                              len(inquiry_ids))
                if self.cache is not None:
                    self.cache.invalidate()
                return {}

    async def committed(self, done: Mapping[int, tuple[Routed, Decision]]) -> None:
        """Intake's transaction holding ``within``'s decisions committed: log and announce them together."""
        await self._announce_all(done)

    def rolled_back(self, done: Mapping[int, tuple[Routed, Decision]]) -> None:
        """Intake's transaction failed after ``within``: the loads the snapshot counted were never written."""
        if done and self.cache is not None:
            self.cache.invalidate()

    async def _announce_all(self, done: Mapping[int, tuple[Routed, Decision]]) -> None:
        for routed, decision in done.values():
            self.routed += 1
            log.info("inquiry=%s routed (opened): %s agent=%s pool=%s offer=%s rule=%s", routed.inquiry_id,
                     routed.outcome, routed.agent_id, routed.pool, routed.offer_id, decision.rule_id)
        # together: each announcement's notice waits for a commit, and so they share one
        await asyncio.gather(*(self._announce(routed, decision) for routed, decision in done.values()))

    async def _route_many(self, ids: list[int]) -> dict[int, tuple[Routed, Decision]]:
        async with self.sessions() as s, s.begin():
            return await self._route_many_in(s, ids, self.clock())

    async def _route_many_in(self, s: AsyncSession, ids: list[int],
                             now: datetime) -> dict[int, tuple[Routed, Decision]]:
        routing_state = await self._lock_state(s, now)
        routed_before = set((await s.execute(
            select(RoutedInquiry.inquiry_id).where(RoutedInquiry.inquiry_id.in_(ids)))).scalars())
        found = {i.id: i for i in (await s.execute(select(Inquiry).where(Inquiry.id.in_(ids)))).scalars()}
        todo = [found[i] for i in dict.fromkeys(ids) if i in found and i not in routed_before
                and found[i].status == InquiryStatus.NEW and found[i].owner_id is None
                and found[i].pool == Pool.NONE]
        if not todo:
            return {}
        rules = await self.rules(s)
        facts = await inquiry_facts_many(s, todo)
        decisions, routing_state = await decide_many_checked(s, self.cache, self.work, facts, rules, now,
                                                              routing_state)
        moved = await write_decisions(s, self.cache, list(zip(todo, decisions, strict=True)), now, "opened")
        done = {r.inquiry_id: (r, d) for r, d in zip(moved, decisions, strict=True) if r is not None}
        lost = [(f, d) for f, d, r in zip(facts, decisions, moved, strict=True) if r is None]
        if lost and self.cache is not None:  # taken meanwhile: the load counted for them is not real
            self.cache.touch(*(d.agent_id for _, d in lost))
        if done:
            await s.execute(insert(RoutedInquiry), [
                {"inquiry_id": r.inquiry_id, "routed_at": now, "excluded": {}, "decision_id": r.decision_id}
                for r, _ in done.values()])
        await s.execute(update(RoutingKV).where(RoutingKV.key == STATE_KEY)
                        .values(value=routing_state.to_dict()))
        return done

    async def _route(self, inquiry_id: int, why: str, offer_expired: bool) -> tuple[Routed, Decision] | None:
        now = self.clock()
        async with self.sessions() as s, s.begin():
            routing_state = await self._lock_state(s, now)
            record = await s.get(RoutedInquiry, inquiry_id)
            if why == "opened" and record is not None:
                return None
            inquiry = await s.get(Inquiry, inquiry_id)
            if inquiry is None or inquiry.status not in OPEN or inquiry.owner_id is not None or \
                    inquiry.pool == Pool.ARCHIVE:
                return None
            if why == "opened" and (inquiry.pool != Pool.NONE or inquiry.status != InquiryStatus.NEW):
                return None
            if record is None:
                record = RoutedInquiry(inquiry_id=inquiry_id, routed_at=now, excluded={})
                s.add(record)
                await s.flush()
            rules = await self.rules(s)
            facts = await inquiry_facts(s, inquiry)
            exclude = {int(k): v for k, v in (record.excluded or {}).items()}
            decision = await decide_checked(s, self.cache, self.work, facts, rules, now, routing_state, exclude,
                                            offer_expired)
            routed = (await write_decisions(s, self.cache, [(inquiry, decision)], now, why))[0]
            if routed is None:
                raise Abort
            if self.cache is not None and self.cache.directory is not None and decision.agent_id is not None \
                    and self.cache.directory.get(decision.agent_id) is not None:
                self.cache.directory.add_load(decision.agent_id, facts.channel, 1)
            record.decision_id = routed.decision_id
            routing_state.apply(decision)
            await s.execute(update(RoutingKV).where(RoutingKV.key == STATE_KEY)
                            .values(value=routing_state.to_dict()))
        return routed, decision

    async def _lock_state(self, s: AsyncSession, now: datetime) -> RoutingState:
        """The first statement of a routing transaction: a write to the state row (takes the lock), then read."""
        touched = await s.execute(update(RoutingKV).where(RoutingKV.key == STATE_KEY).values(updated_at=now))
        if touched.rowcount == 0:
            await _ensure_state_row(s, now)
        rows = {r.key: r for r in (await s.execute(  # the rules' and the agents' versions too, kept for
            select(RoutingKV).where(RoutingKV.key.in_((STATE_KEY, VERSION_KEY, DIRECTORY_KEY)))  # the rest of
            .execution_options(populate_existing=True))).scalars()}  # the transaction (no query each)
        remember_kv(s, rows)
        row = rows.get(STATE_KEY)
        return RoutingState.from_dict(row.value if row else {})

    async def _announce(self, routed: Routed, decision: Decision) -> None:
        if routed.outcome == "offer":
            assert decision.offer is not None
            await self.bus.publish(Push(decision.offer.agent_ids, "routing.offer", {
                "inquiry_id": routed.inquiry_id, "offer_id": routed.offer_id, "channel": routed.channel,
                "subject": routed.subject[:200], "deadline": decision.offer.deadline.isoformat()}))
            return
        await self.bus.publish(InquiryAssigned(routed.inquiry_id, routed.agent_id, routed.pool or str(Pool.NONE),
                                               channel=routed.channel))
        if routed.agent_id is not None:
            await self.bus.publish(Push((routed.agent_id,), "routing.assigned", {"inquiry_id": routed.inquiry_id,
                                                                                 "decision_id": routed.decision_id}))

    async def supervisors(self, s: AsyncSession, department_id: int | None) -> list[int]:
        if department_id is None:
            return []
        return list((await s.execute(select(User.id).where(
            User.department_id == department_id, User.role.in_(SUPERVISOR_ROLES),
            User.is_active.is_(True)))).scalars())


async def _ensure_state_row(s: AsyncSession, now: datetime) -> None:
    """Insert the round-robin state row unless one exists. Several hub processes start at once on one
    database: each inserts if missing, and only the first insert counts (a plain INSERT made the others
    fail their start with a duplicate key)."""
    await s.execute(dialect_insert(s, RoutingKV).values(key=STATE_KEY, value=RoutingState().to_dict(),
                                                       updated_at=now).on_conflict_do_nothing(index_elements=["key"]))
