"""The agents' snapshot routing decides over, and deciding over it safely.

``DirectoryCache`` keeps the snapshot between decisions; ``decide_checked`` and ``decide_many_checked``
run ``decide`` over it (or over a snapshot read now, without a cache) and re-read, in the routing
transaction, the agents a decision relies on, deciding again when the cache was behind.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import User
from routing.agents import AgentDirectory
from routing.calendar import WorkCalendar
from routing.decide import decide
from routing.model import AgentSnapshot, Decision, InquiryFacts
from routing.queries import DIRECTORY_KEY, agent_directory, agent_loads, agent_snapshots, kv_row
from routing.rules import RuleSet
from routing.strategies import RoutingState

MAX_RECHECK = 2000  # agents re-read before a cached decision is written; more: rebuild the snapshot


def _same(a: AgentSnapshot, b: AgentSnapshot) -> bool:
    """Equal as routing judges them (a load of 0 on a channel is no load)."""
    def load(x: AgentSnapshot) -> dict[str, int]:
        return {k: v for k, v in x.load.items() if v}
    return (a.status, load(a), dict(a.capacity), a.department_id, a.team_ids, a.skills, a.languages,
            a.duty_schedule_id) == (b.status, load(b), dict(b.capacity), b.department_id, b.team_ids, b.skills,
                                    b.languages, b.duty_schedule_id)


class DirectoryCache:
    """The agents' snapshot kept between decisions (building it for 15,000 agents costs more than deciding).

    Every ``ttl_s`` the statuses and loads of everyone are re-read (two queries; only the agents that
    changed are rebuilt); the whole snapshot (teams, skills, departments, new or deactivated agents) is
    rebuilt every ``FULL_EVERY`` TTLs and at once when profiles or rotas changed (``directory_version`` in
    ``routing_kv``, so every process notices). Single agents are re-read when an event says they changed
    (status, an inquiry given to them by someone else). Before a decision is written, the agents it names
    are re-read in the same transaction and, if the cache was behind, the decision is taken again: an
    inquiry never goes to an agent who is unavailable or at capacity. Capacity freed elsewhere (an inquiry
    closed) is seen at the next refresh, at most ``ttl_s`` later.
    """

    FULL_EVERY = 12

    def __init__(self, work: WorkCalendar, ttl_s: float) -> None:
        self.work, self.ttl_s = work, ttl_s
        self.directory: AgentDirectory | None = None
        self.version = -1
        self.built_at = self.refreshed_at = 0.0
        self.dirty: set[int] = set()
        self.rebuilds = self.refreshes = self.corrections = self.sweeps = 0

    def invalidate(self) -> None:
        self.directory = None

    def touch(self, *agent_ids: int | None) -> None:
        self.dirty.update(a for a in agent_ids if a is not None)

    async def get(self, s: AsyncSession) -> AgentDirectory:
        row = await kv_row(s, DIRECTORY_KEY)
        version = int(row.value.get("n", 0)) if row is not None else 0
        now = time.monotonic()
        if self.directory is None or version != self.version or now - self.built_at > self.ttl_s * self.FULL_EVERY:
            self.dirty.clear()
            self.directory = await agent_directory(s, self.work)
            self.version, self.built_at = version, time.monotonic()
            self.refreshed_at = self.built_at
            self.rebuilds += 1
        elif now - self.refreshed_at > self.ttl_s:
            self.dirty.clear()
            await self.sweep(s)
            self.refreshed_at = time.monotonic()
            self.sweeps += 1
        elif self.dirty:
            ids, self.dirty = self.dirty, set()
            await self.refresh(s, ids)
            self.refreshes += 1
        return self.directory

    async def sweep(self, s: AsyncSession) -> None:
        """Everyone's status and load re-read; the agents whose changed are put in again."""
        assert self.directory is not None
        statuses = dict((await s.execute(select(User.id, User.status).where(User.is_active.is_(True)))).all())
        loads = await agent_loads(s)
        for agent in list(self.directory.by_id.values()):
            status = statuses.get(agent.id)
            if status is None:
                self.directory.remove(agent.id)
                continue
            load = loads.get(agent.id, {})
            if str(status) != agent.status or {k: v for k, v in agent.load.items() if v} != load:
                self.directory.update(replace(agent, status=str(status), load=load))

    async def refresh(self, s: AsyncSession, ids: Collection[int]) -> bool:
        """Re-read these agents; True when the cache had any of them wrong."""
        assert self.directory is not None
        fresh = {a.id: a for a in await agent_snapshots(s, ids)}
        wrong = False
        for agent_id in ids:
            new, old = fresh.get(agent_id), self.directory.get(agent_id)
            if new is None:
                if old is not None:
                    self.directory.remove(agent_id)
                    wrong = True
            elif old is None or not _same(old, new):
                self.directory.update(new)
                wrong = True
        return wrong

def _to_check(decision: Decision) -> set[int]:
    """The agents whose cached state a decision relies on: the one it chose, the offered group, or (nobody
    found) everyone it turned down."""
    if decision.agent_id is not None:
        return {decision.agent_id}
    if decision.offer is not None:
        return set(decision.offer.agent_ids)
    return {n.agent_id for n in decision.not_eligible}


async def decide_checked(s: AsyncSession, cache: DirectoryCache | None, work: WorkCalendar, facts: InquiryFacts,
                         rules: RuleSet, now: datetime, routing_state: RoutingState, exclude: dict[int, str],
                         offer_expired: bool) -> Decision:
    """``decide`` over the agents' snapshot: read now, or the cached one checked where it matters (the
    agents the decision names; everyone it considered when it found nobody) and decided again if the
    cache was behind."""
    def run(agents: AgentDirectory) -> Decision:
        return decide(facts, agents, rules, now, routing_state, exclude=exclude, offer_expired=offer_expired,
                      zone=work.zone)

    if cache is None:
        return run(await agent_directory(s, work))
    agents = await cache.get(s)
    for _ in range(3):
        decision = run(agents)
        if decision.agent_id is not None:
            check: Collection[int] = (decision.agent_id,)
        elif decision.offer is not None:
            check = decision.offer.agent_ids
        else:
            check = [n.agent_id for n in decision.not_eligible if n.agent_id not in exclude]
        if len(check) > MAX_RECHECK:
            cache.invalidate()  # re-reading them one by one would cost more than a rebuild
            agents = await cache.get(s)
            return run(agents)
        if not check or not await cache.refresh(s, check):
            return decision
        cache.corrections += 1
    cache.invalidate()
    return run(await cache.get(s))


async def decide_many_checked(s: AsyncSession, cache: DirectoryCache | None, work: WorkCalendar,
                              facts: Sequence[InquiryFacts], rules: RuleSet, now: datetime,
                              routing_state: RoutingState) -> tuple[list[Decision], RoutingState]:
    """Each inquiry decided in turn, the load and round-robin pointers of the ones before it counted.
    With the cached snapshot, every agent a decision names is re-read once in this transaction; if the
    cache was behind, the whole batch is decided again. Returns the decisions and the moved pointers."""
    agents = await cache.get(s) if cache is not None else await agent_directory(s, work)
    verified: set[int] = set()
    for attempt in range(4):
        state = RoutingState.from_dict(routing_state.to_dict())
        decisions, loaded = [], []
        for f in facts:
            decision = decide(f, agents, rules, now, state, exclude={}, offer_expired=False, zone=work.zone)
            decisions.append(decision)
            state.apply(decision)
            if decision.agent_id is not None and agents.get(decision.agent_id) is not None:
                agents.add_load(decision.agent_id, f.channel, 1)
                loaded.append((decision.agent_id, f.channel))
        if cache is None or attempt == 3:
            return decisions, state
        check = set().union(*(_to_check(d) for d in decisions)) - verified
        if not check:
            return decisions, state
        for agent_id, channel in loaded:  # compared with the database as it is, before these decisions
            agents.add_load(agent_id, channel, -1)
        if len(check) > MAX_RECHECK:
            cache.invalidate()  # re-reading them one by one would cost more than a rebuild
            agents = await cache.get(s)
            verified = set(agents.by_id)
            continue
        wrong = await cache.refresh(s, check)
        verified |= check
        if not wrong:
            for agent_id, channel in loaded:
                agents.add_load(agent_id, channel, 1)
            return decisions, state
        cache.corrections += 1
    raise AssertionError("unreachable")
