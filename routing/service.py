"""Routing wired to the database and the bus: rules kept in the database, the agents' snapshot, decisions
stored with their reasons, assignments made with conditional updates, team offers, refusals, re-routing.

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
import time
import tomllib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

import tomli_w
from sqlalchemy import case, delete, func, insert, literal, select, tuple_, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bus.bus import EventBus
from bus.events import AgentStatusChanged, InquiryAssigned, InquiryOpened, Push
from crm_core.db import insert_returning_ids
from crm_core.group_commit import ALONE, GroupCommit
from crm_core.models import (
    Call,
    Client,
    Inquiry,
    InquiryEvent,
    InquiryStatus,
    Message,
    Pool,
    Property,
    Role,
    RoutingDecision,
    TimelineEntry,
    User,
    team_members,
    utcnow,
)
from crm_core.models.routing import (
    AgentRoutingProfile,
    DutyRota,
    RoutedInquiry,
    RoutingKV,
    RoutingRule,
    RoutingTerritory,
    TeamOffer,
    offer_agents,
)
from routing.agents import AgentDirectory
from routing.calendar import WorkCalendar
from routing.decide import decide
from routing.duty import DutySchedule
from routing.model import CHANNELS, AgentSnapshot, Decision, InquiryFacts
from routing.rules import RuleProblem, RuleSet, RuleSetError, compile_rules
from routing.sla import SlaConfig
from routing.strategies import RoutingState

log = logging.getLogger("hub.routing")
OPEN = (InquiryStatus.NEW, InquiryStatus.OFFERED, InquiryStatus.IN_WORK)
STATE_KEY, DEFAULT_KEY, VERSION_KEY = "state", "default_rule", "rules_version"
DIRECTORY_KEY = "directory_version"
RU = frozenset({"ru"})
MAX_RECHECK = 2000  # agents re-read before a cached decision is written; more: rebuild the snapshot
SUPERVISOR_ROLES = (Role.DEPT_HEAD, Role.DEPT_MANAGER)
CATCH_UP_BATCH = 64


# --- the rules in the database -------------------------------------------------------------------------

async def load_rule_data(session: AsyncSession) -> dict[str, Any]:
    """The rule set as the administrator wrote it (the dict a TOML file gives), in priority order."""
    territories = (await session.execute(select(RoutingTerritory).order_by(RoutingTerritory.id))).scalars()
    rules = (await session.execute(select(RoutingRule).order_by(RoutingRule.priority))).scalars()
    default = await session.get(RoutingKV, DEFAULT_KEY)
    data: dict[str, Any] = {
        "territories": [{"id": t.territory_key, **({"name": t.name} if t.name else {}), "geojson": t.geojson}
                        for t in territories],
        "rules": [{"id": r.rule_key, "priority": r.priority, "enabled": r.enabled, **r.body} for r in rules],
    }
    if default is not None and default.value:
        data["default"] = dict(default.value)
    return data


async def rules_version(session: AsyncSession) -> int:
    row = await session.get(RoutingKV, VERSION_KEY)
    return int(row.value.get("n", 0)) if row is not None else 0


async def save_rule_data(sessions: async_sessionmaker[AsyncSession], data: Mapping[str, Any],
                         actor_id: int | None = None) -> RuleSet:
    """Validate the whole set first (``RuleSetError`` lists every problem and nothing is touched), then
    replace the stored rules in one transaction."""
    data = {k: v for k, v in data.items() if k != "version"}
    rule_set = compile_rules(data)
    now = utcnow()
    async with sessions() as s, s.begin():
        await s.execute(delete(RoutingRule))
        await s.execute(delete(RoutingTerritory))
        for t in data.get("territories", []):
            s.add(RoutingTerritory(territory_key=t["id"], name=t.get("name", ""), geojson=t["geojson"]))
        for r in data.get("rules", []):
            body = {k: v for k, v in r.items() if k not in ("id", "priority", "enabled")}
            s.add(RoutingRule(rule_key=r["id"], priority=r["priority"], enabled=r.get("enabled", True), body=body,
                              updated_at=now, updated_by=actor_id))
        await _put_kv(s, DEFAULT_KEY, dict(data.get("default", {})), now)
        version = await rules_version(s)
        await _put_kv(s, VERSION_KEY, {"n": version + 1}, now)
    log.info("routing rules saved: %d rules, %d territories, by user=%s", len(data.get("rules", [])),
             len(data.get("territories", [])), actor_id)
    return rule_set


async def _put_kv(s: AsyncSession, key: str, value: dict, now: datetime) -> None:
    row = await s.get(RoutingKV, key)
    if row is None:
        s.add(RoutingKV(key=key, value=value, updated_at=now))
    else:
        row.value, row.updated_at = value, now
    await s.flush()


def rules_to_toml(data: Mapping[str, Any]) -> str:
    out: dict[str, Any] = {"version": 1}
    if data.get("territories"):
        out["territories"] = data["territories"]
    out["rules"] = list(data.get("rules", []))
    if data.get("default"):
        out["default"] = data["default"]
    return tomli_w.dumps(out)


def parse_rules_toml(text: str) -> dict[str, Any]:
    """The file's dict, validated (raises ``RuleSetError`` naming the rule and the field)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleSetError([RuleProblem(None, "", f"not valid TOML: {exc}")]) from None
    compile_rules(data)
    return data


# --- what routing sees -----------------------------------------------------------------------------------

async def agent_directory(session: AsyncSession, work: WorkCalendar | None = None) -> AgentDirectory:
    """Every routable agent with status, load per channel (open inquiries + active calls), capacity, teams,
    skills, languages and duty rota. Routable: the profile says so, or (no profile) the role is agent."""
    return AgentDirectory(await agent_snapshots(session), await duty_schedules(session, work),
                          work.calendar if work else None)


async def agent_snapshots(session: AsyncSession, ids: Collection[int] | None = None) -> list[AgentSnapshot]:
    """The routable agents' snapshots as the database has them now: all of them, or only ``ids`` (an id
    missing from the answer is no longer routable: inactive, profile switched off, gone)."""
    P = AgentRoutingProfile  # noqa: N806 - columns, not the entity: 15,000 ORM objects cost more than the query
    stmt = (select(User.id, User.role, User.department_id, User.status, User.skills, P.user_id.label("profiled"),
                   P.routable, P.capacity, P.languages, P.duty_schedule)
            .outerjoin(P, P.user_id == User.id)
            .where(User.is_active.is_(True)))
    members = select(team_members.c.team_id, team_members.c.user_id)
    if ids is not None:
        ids = sorted(set(ids))
        if not ids:
            return []
        stmt = stmt.where(User.id.in_(ids))
        members = members.where(team_members.c.user_id.in_(ids))
    rows = (await session.execute(stmt)).all()
    teams: dict[int, set[int]] = {}
    for team_id, user_id in (await session.execute(members)).all():
        teams.setdefault(user_id, set()).add(team_id)
    load = await agent_loads(session, ids)
    agents = []
    for row in rows:
        profiled = row.profiled is not None
        routable = row.routable if profiled else row.role == Role.AGENT
        if not routable:
            continue
        capacity = {k: int(v) for k, v in (row.capacity or {}).items() if k in CHANNELS} if profiled else {}
        agents.append(AgentSnapshot(
            row.id, department_id=row.department_id, team_ids=frozenset(teams.get(row.id, ())),
            skills=frozenset(row.skills or ()), languages=frozenset(row.languages or ["ru"]) if profiled else RU,
            status=str(row.status), load=load.get(row.id, {}), capacity=capacity,
            duty_schedule_id=row.duty_schedule if profiled else None,
        ))
    return agents


async def agent_loads(session: AsyncSession, ids: Collection[int] | None = None) -> dict[int, dict[str, int]]:
    """Agent id → channel → open inquiries they hold plus answered calls not yet ended (one query)."""
    open_load = (select(Inquiry.owner_id, Inquiry.channel, func.count())
                 .where(Inquiry.owner_id.is_not(None), Inquiry.status.in_(OPEN))
                 .group_by(Inquiry.owner_id, Inquiry.channel))
    calls = (select(Call.agent_id, literal("call"), func.count())
             .where(Call.agent_id.is_not(None), Call.answered_at.is_not(None), Call.ended_at.is_(None))
             .group_by(Call.agent_id))
    if ids is not None:
        open_load = open_load.where(Inquiry.owner_id.in_(ids))
        calls = calls.where(Call.agent_id.in_(ids))
    load: dict[int, dict[str, int]] = {}
    for agent_id, channel, n in (await session.execute(union_all(open_load, calls))).all():
        per = load.setdefault(agent_id, {})
        per[str(channel)] = per.get(str(channel), 0) + n
    return load


async def duty_schedules(session: AsyncSession, work: WorkCalendar | None = None) -> dict[str, DutySchedule]:
    schedules = {}
    for rota in (await session.execute(select(DutyRota))).scalars():
        schedules[rota.id] = rota_schedule(rota, work.hours.time_zone if work else "Europe/Moscow")
    return schedules


def rota_schedule(rota: DutyRota, time_zone: str = "Europe/Moscow") -> DutySchedule:
    return DutySchedule.rota(
        rota.id, {d: [tuple(i) for i in iv] for d, iv in rota.weekly.items()},
        {date.fromisoformat(d): [tuple(i) for i in iv] for d, iv in rota.exceptions.items()},
        holidays_off=rota.holidays_off, time_zone=time_zone)


async def bump_directory(s: AsyncSession, now: datetime | None = None) -> None:
    """Profiles or rotas changed: every routing service (in every hub process) rebuilds its agents' snapshot
    before its next decision."""
    row = await s.get(RoutingKV, DIRECTORY_KEY)
    await _put_kv(s, DIRECTORY_KEY, {"n": (int(row.value.get("n", 0)) if row else 0) + 1}, now or utcnow())


async def save_agent_profile(sessions: async_sessionmaker[AsyncSession], user_id: int, *, routable: bool,
                             capacity: Mapping[str, int], languages: list[str], duty_schedule: str | None) -> None:
    async with sessions() as s, s.begin():
        profile = await s.get(AgentRoutingProfile, user_id)
        if profile is None:
            profile = AgentRoutingProfile(user_id=user_id)
            s.add(profile)
        profile.routable, profile.capacity, profile.languages = routable, dict(capacity), list(languages)
        profile.duty_schedule = duty_schedule
        await s.flush()
        await bump_directory(s)


async def save_duty_rota(sessions: async_sessionmaker[AsyncSession], rota_id: str, *, name: str,
                         weekly: Mapping[str, list[list[str]]], exceptions: Mapping[str, list[list[str]]],
                         holidays_off: bool) -> None:
    async with sessions() as s, s.begin():
        rota = await s.get(DutyRota, rota_id)
        if rota is None:
            rota = DutyRota(id=rota_id)
            s.add(rota)
        rota.name, rota.weekly, rota.exceptions, rota.holidays_off = name, dict(weekly), dict(exceptions), holidays_off
        await s.flush()
        await bump_directory(s)


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
        row = await s.get(RoutingKV, DIRECTORY_KEY)
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


async def inquiry_facts(session: AsyncSession, inquiry: Inquiry) -> InquiryFacts:
    return (await inquiry_facts_many(session, [inquiry]))[0]


async def inquiry_facts_many(session: AsyncSession, inquiries: Sequence[Inquiry]) -> list[InquiryFacts]:
    """What routing judges, for several inquiries in three queries: their clients' owners, their
    properties, and the first message's meta (the site and language a form or the bot recorded)."""
    client_ids = {i.client_id for i in inquiries}
    owners = dict((await session.execute(select(Client.id, Client.owner_id).where(Client.id.in_(client_ids)))).all())
    property_ids = {i.property_id for i in inquiries if i.property_id}
    props = {p.id: p for p in (await session.execute(select(Property).where(Property.id.in_(property_ids))))
             .scalars()} if property_ids else {}
    first = (select(func.min(Message.id)).where(Message.inquiry_id.in_([i.id for i in inquiries]))
             .group_by(Message.inquiry_id))
    metas = dict((await session.execute(select(Message.inquiry_id, Message.meta).where(Message.id.in_(first)))).all())
    return [_facts(i, owners.get(i.client_id), props.get(i.property_id) if i.property_id else None,
                   metas.get(i.id) or {}) for i in inquiries]


def _facts(inquiry: Inquiry, owner: int | None, prop: Property | None, meta: Mapping[str, Any]) -> InquiryFacts:
    utm = inquiry.utm or {}
    return InquiryFacts(
        inquiry.id, str(inquiry.channel), inquiry.created_at, source=inquiry.source, did=inquiry.did,  # type: ignore[arg-type]
        utm_source=utm.get("utm_source"), site=meta.get("site"),
        district=prop.district if prop else None, metro=prop.metro if prop else None,
        lat=prop.lat if prop and prop.lon is not None else None,
        lon=prop.lon if prop and prop.lat is not None else None,
        property_type=prop.property_type if prop else None,
        deal_type=prop.deal_type if prop and prop.deal_type in ("sale", "rent") else None,  # type: ignore[arg-type]
        price=float(prop.price) if prop and prop.price is not None else None,
        language=meta.get("language"), client_owner_id=owner, department_id=inquiry.department_id,
    )


def summary(decision: Decision, names: Mapping[int, str]) -> str:
    """One line for the inquiry page: who or where, by which rule and strategy, among how many."""
    if decision.agent_id is not None:
        who = names.get(decision.agent_id, f"#{decision.agent_id}")
        seen = next((s for s in decision.eligible if s.agent_id == decision.agent_id), None)
        load = f", загрузка {seen.load}/{seen.capacity}" if seen else ""
        text = f"{who}: правило «{decision.rule_name}», {decision.strategy}{load}; " \
               f"подходили {len(decision.eligible)}, не подходили {len(decision.not_eligible)}"
    elif decision.offer is not None:
        text = f"предложено группе ({len(decision.offer.agent_ids)}) по правилу «{decision.rule_name}»"
    else:
        text = f"в {'аукцион отдела' if decision.pool == 'department' else 'общий аукцион'} по правилу " \
               f"«{decision.rule_name}»"
    return text + (f" — {decision.note}" if decision.note else "")


async def _update_as_read(s: AsyncSession, group: Mapping[int, tuple[Inquiry, Decision]], now: datetime,
                          **values: Any) -> set[int]:
    """UPDATE the group's inquiries that are still ownerless and in the status and pool they were read in."""
    as_read = tuple_(Inquiry.id, Inquiry.status, Inquiry.pool).in_(
        [(i.id, str(i.status), str(i.pool)) for i, _ in group.values()])
    return set((await s.execute(
        update(Inquiry).where(as_read, Inquiry.owner_id.is_(None)).values(**values, updated_at=now)
        .returning(Inquiry.id).execution_options(synchronize_session=False))).scalars())


def _per_row(group: Mapping[int, tuple[Inquiry, Decision]], value: Callable[[Inquiry, Decision], Any]) -> Any:
    """A column's new value per inquiry, as one SQL CASE (or the value itself when all rows share it)."""
    values = {inquiry_id: value(i, d) for inquiry_id, (i, d) in group.items()}
    distinct = set(values.values())
    if len(distinct) == 1:
        return distinct.pop()
    return case(values, value=Inquiry.id)


def _to_check(decision: Decision) -> set[int]:
    """The agents whose cached state a decision relies on: the one it chose, the offered group, or (nobody
    found) everyone it turned down."""
    if decision.agent_id is not None:
        return {decision.agent_id}
    if decision.offer is not None:
        return set(decision.offer.agent_ids)
    return {n.agent_id for n in decision.not_eligible}


def _named(decision: Decision) -> set[int]:
    """The agents a decision's explanation names."""
    ids = {a.agent_id for a in decision.eligible} | {n.agent_id for n in decision.not_eligible}
    if decision.agent_id is not None:
        ids.add(decision.agent_id)
    return ids


@dataclass(frozen=True, slots=True)
class Routed:
    inquiry_id: int
    decision_id: int
    outcome: str  # agent | pool | offer
    agent_id: int | None
    pool: str | None
    offer_id: int | None
    channel: str = ""
    subject: str = ""


class _Abort(Exception):
    """Undo the transaction: the inquiry changed under us (claimed, closed) between reading and writing."""


class RoutingService:
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
            if await s.get(RoutingKV, STATE_KEY) is None:
                s.add(RoutingKV(key=STATE_KEY, value=RoutingState().to_dict(), updated_at=utcnow()))
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
            except _Abort:
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
        decisions, routing_state = await self._decide_many(s, facts, rules, now, routing_state)
        moved = await self._apply_many(s, list(zip(todo, decisions, strict=True)), now, "opened")
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

    async def _decide_many(self, s: AsyncSession, facts: Sequence[InquiryFacts], rules: RuleSet, now: datetime,
                           routing_state: RoutingState) -> tuple[list[Decision], RoutingState]:
        """Each inquiry decided in turn, the load and round-robin pointers of the ones before it counted.
        With the cached snapshot, every agent a decision names is re-read once in this transaction; if the
        cache was behind, the whole batch is decided again. Returns the decisions and the moved pointers."""
        agents = await self.cache.get(s) if self.cache is not None else await agent_directory(s, self.work)
        verified: set[int] = set()
        for attempt in range(4):
            state = RoutingState.from_dict(routing_state.to_dict())
            decisions, loaded = [], []
            for f in facts:
                decision = decide(f, agents, rules, now, state, exclude={}, offer_expired=False, zone=self.work.zone)
                decisions.append(decision)
                state.apply(decision)
                if decision.agent_id is not None and agents.get(decision.agent_id) is not None:
                    agents.add_load(decision.agent_id, f.channel, 1)
                    loaded.append((decision.agent_id, f.channel))
            if self.cache is None or attempt == 3:
                return decisions, state
            check = set().union(*(_to_check(d) for d in decisions)) - verified
            if not check:
                return decisions, state
            for agent_id, channel in loaded:  # compared with the database as it is, before these decisions
                agents.add_load(agent_id, channel, -1)
            if len(check) > MAX_RECHECK:
                self.cache.invalidate()  # re-reading them one by one would cost more than a rebuild
                agents = await self.cache.get(s)
                verified = set(agents.by_id)
                continue
            wrong = await self.cache.refresh(s, check)
            verified |= check
            if not wrong:
                for agent_id, channel in loaded:
                    agents.add_load(agent_id, channel, 1)
                return decisions, state
            self.cache.corrections += 1
        raise AssertionError("unreachable")

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
            decision = await self._decide(s, facts, rules, now, routing_state, exclude, offer_expired)
            routed = await self._apply(s, inquiry, decision, now, why)
            if routed is None:
                raise _Abort
            if self.cache is not None and self.cache.directory is not None and decision.agent_id is not None \
                    and self.cache.directory.get(decision.agent_id) is not None:
                self.cache.directory.add_load(decision.agent_id, facts.channel, 1)
            record.decision_id = routed.decision_id
            routing_state.apply(decision)
            await s.execute(update(RoutingKV).where(RoutingKV.key == STATE_KEY)
                            .values(value=routing_state.to_dict()))
        return routed, decision

    async def _decide(self, s: AsyncSession, facts: InquiryFacts, rules: RuleSet, now: datetime,
                      routing_state: RoutingState, exclude: dict[int, str], offer_expired: bool) -> Decision:
        """``decide`` over the agents' snapshot: read now, or the cached one checked where it matters (the
        agents the decision names; everyone it considered when it found nobody) and decided again if the
        cache was behind."""
        def run(agents: AgentDirectory) -> Decision:
            return decide(facts, agents, rules, now, routing_state, exclude=exclude, offer_expired=offer_expired,
                          zone=self.work.zone)

        if self.cache is None:
            return run(await agent_directory(s, self.work))
        agents = await self.cache.get(s)
        for _ in range(3):
            decision = run(agents)
            if decision.agent_id is not None:
                check: Collection[int] = (decision.agent_id,)
            elif decision.offer is not None:
                check = decision.offer.agent_ids
            else:
                check = [n.agent_id for n in decision.not_eligible if n.agent_id not in exclude]
            if len(check) > MAX_RECHECK:
                self.cache.invalidate()  # re-reading them one by one would cost more than a rebuild
                agents = await self.cache.get(s)
                return run(agents)
            if not check or not await self.cache.refresh(s, check):
                return decision
            self.cache.corrections += 1
        self.cache.invalidate()
        return run(await self.cache.get(s))

    async def _lock_state(self, s: AsyncSession, now: datetime) -> RoutingState:
        """The first statement of a routing transaction: a write to the state row (takes the lock), then read."""
        touched = await s.execute(update(RoutingKV).where(RoutingKV.key == STATE_KEY).values(updated_at=now))
        if touched.rowcount == 0:
            s.add(RoutingKV(key=STATE_KEY, value=RoutingState().to_dict(), updated_at=now))
            await s.flush()
        row = await s.get(RoutingKV, STATE_KEY, populate_existing=True)
        return RoutingState.from_dict(row.value if row else {})

    async def _apply(self, s: AsyncSession, inquiry: Inquiry, decision: Decision, now: datetime,
                     why: str) -> Routed | None:
        return (await self._apply_many(s, [(inquiry, decision)], now, why))[0]

    async def _apply_many(self, s: AsyncSession, pairs: Sequence[tuple[Inquiry, Decision]], now: datetime,
                          why: str) -> list[Routed | None]:
        """Write the decisions: each inquiry moved by a conditional update (None where it changed under us),
        then the decisions, offers and history rows of all of them together."""
        names = await self._names(s, [d for _, d in pairs])
        departments = await self._agent_departments(s, {d.agent_id for i, d in pairs
                                                         if d.agent_id is not None and i.department_id is None})
        moved = await self._move(s, pairs, now, departments)
        won: list[tuple[Inquiry, Decision, dict[str, Any]]] = []
        for inquiry, decision in pairs:
            if inquiry.id not in moved:
                continue
            explanation = decision.to_dict()
            explanation["summary"] = summary(decision, names)
            explanation["names"] = {str(k): names[k] for k in _named(decision) if k in names}
            explanation["why"] = why
            won.append((inquiry, decision, explanation))
        routed: dict[int, Routed] = {}
        if won:
            decision_ids = await insert_returning_ids(s, RoutingDecision, [
                {"inquiry_id": i.id, "at": now, "agent_id": d.agent_id,
                 "pool": d.pool or ("offer" if d.offer else None), "rule": d.rule_name[:200],
                 "strategy": d.strategy, "explanation": e} for i, d, e in won])
            events = []
            for (inquiry, decision, explanation), decision_id in zip(won, decision_ids, strict=True):
                offer_id = await self._offer(s, inquiry.id, decision, now) if decision.offer is not None else None
                events.append({"inquiry_id": inquiry.id, "at": now, "kind": "routed", "note": explanation["summary"],
                               "data": {"decision_id": decision_id, "why": why}})
                routed[inquiry.id] = Routed(inquiry.id, decision_id, decision.outcome, decision.agent_id,
                                            decision.pool, offer_id, str(inquiry.channel), inquiry.subject or "")
            await s.execute(insert(InquiryEvent), events)
        return [routed.get(inquiry.id) for inquiry, _ in pairs]

    @staticmethod
    async def _names(s: AsyncSession, decisions: Sequence[Decision]) -> dict[int, str]:
        ids = set().union(*(_named(d) for d in decisions))
        return dict((await s.execute(select(User.id, User.full_name).where(User.id.in_(ids)))).all()) if ids else {}

    async def _agent_departments(self, s: AsyncSession, agent_ids: set[int]) -> dict[int, int | None]:
        """The department an inquiry without one takes from the agent it goes to (the snapshot knows it)."""
        known: dict[int, int | None] = {}
        directory = self.cache.directory if self.cache is not None else None
        for agent_id in agent_ids:
            agent = directory.get(agent_id) if directory is not None else None
            if agent is not None:
                known[agent_id] = agent.department_id
        missing = agent_ids - known.keys()
        if missing:
            known.update((await s.execute(select(User.id, User.department_id).where(User.id.in_(missing)))).all())
        return known

    @staticmethod
    async def _move(s: AsyncSession, pairs: Sequence[tuple[Inquiry, Decision]], now: datetime,
                    departments: Mapping[int, int | None]) -> set[int]:
        """The inquiries to their agents, offers or pools, each only if it is still as it was read (nobody
        claimed it meanwhile): one UPDATE … RETURNING per kind of outcome. Returns the ids that moved."""
        agents = {i.id: (i, d) for i, d in pairs if d.agent_id is not None}
        offers = {i.id: (i, d) for i, d in pairs if d.agent_id is None and d.offer is not None}
        pools = {i.id: (i, d) for i, d in pairs if d.agent_id is None and d.offer is None}
        moved: set[int] = set()
        if agents:
            moved |= await _update_as_read(
                s, agents, now, owner_id=_per_row(agents, lambda inq, dec: dec.agent_id), status=InquiryStatus.NEW,
                pool=Pool.NONE, accepted_at=None, pool_entered_at=None,
                department_id=_per_row(agents, lambda inq, dec: inq.department_id or departments.get(dec.agent_id)))
        if offers:
            moved |= await _update_as_read(s, offers, now, status=InquiryStatus.OFFERED, pool=Pool.NONE)
        if pools:
            moved |= await _update_as_read(
                s, pools, now, pool=_per_row(pools, lambda inq, dec: dec.pool), status=InquiryStatus.NEW,
                pool_entered_at=now, department_id=_per_row(
                    pools, lambda inq, dec: dec.department_id if dec.pool == "department" else inq.department_id))
        return moved

    @staticmethod
    async def _offer(s: AsyncSession, inquiry_id: int, decision: Decision, now: datetime) -> int:
        assert decision.offer is not None
        rounds = (await s.execute(select(func.count()).select_from(TeamOffer)
                                  .where(TeamOffer.inquiry_id == inquiry_id))).scalar_one()
        offer = TeamOffer(inquiry_id=inquiry_id, round=rounds + 1, rule_key=decision.rule_id, created_at=now,
                          deadline=decision.offer.deadline, on_timeout=decision.offer.on_timeout)
        s.add(offer)
        await s.flush()
        await s.execute(insert(offer_agents), [{"offer_id": offer.id, "user_id": a}
                                              for a in decision.offer.agent_ids])
        return offer.id

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

    # team offers ----------------------------------------------------------------------------------------
    async def claim_offer(self, offer_id: int, user_id: int) -> bool:
        """The first claim wins: the offer row flips open → claimed once, decided by the database. The rest
        of the group is told at once (``routing.offer_closed``), so their screens stop offering it."""
        try:
            claimed = await self._claim(offer_id, user_id)
        except _Abort:
            return False
        if claimed is None:
            return False
        inquiry_id, others = claimed
        log.info("offer=%s inquiry=%s claimed by user=%s", offer_id, inquiry_id, user_id)
        await self.bus.publish(InquiryAssigned(inquiry_id, user_id, str(Pool.NONE), user_id))
        await self._closed(offer_id, inquiry_id, others, "claimed")
        return True

    async def _closed(self, offer_id: int, inquiry_id: int, agents: tuple[int, ...], state: str) -> None:
        if agents:
            await self.bus.publish(Push(agents, "routing.offer_closed",
                                        {"offer_id": offer_id, "inquiry_id": inquiry_id, "state": state}))

    async def _offered(self, s: AsyncSession, offer_id: int) -> tuple[int, ...]:
        return tuple((await s.execute(select(offer_agents.c.user_id).where(offer_agents.c.offer_id == offer_id)
                                      .order_by(offer_agents.c.user_id))).scalars())

    async def _claim(self, offer_id: int, user_id: int) -> tuple[int, tuple[int, ...]] | None:
        now = self.clock()
        async with self.sessions() as s, s.begin():
            member = select(offer_agents.c.user_id).where(offer_agents.c.offer_id == offer_id,
                                                          offer_agents.c.user_id == user_id)
            won = await s.execute(
                update(TeamOffer)
                .where(TeamOffer.id == offer_id, TeamOffer.state == "open", TeamOffer.deadline > now,
                       member.exists())
                .values(state="claimed", claimed_by=user_id, closed_at=now)
                .execution_options(synchronize_session=False))
            if won.rowcount != 1:
                return None
            inquiry_id = (await s.execute(select(TeamOffer.inquiry_id).where(TeamOffer.id == offer_id))).scalar_one()
            department = (await s.execute(select(User.department_id).where(User.id == user_id))).scalar()
            took = await s.execute(
                update(Inquiry)
                .where(Inquiry.id == inquiry_id, Inquiry.owner_id.is_(None), Inquiry.status == InquiryStatus.OFFERED)
                .values(owner_id=user_id, status=InquiryStatus.IN_WORK, accepted_at=now, last_action_at=now,
                        department_id=func.coalesce(Inquiry.department_id, department), updated_at=now)
                .execution_options(synchronize_session=False))
            if took.rowcount != 1:
                raise _Abort
            client_id = (await s.execute(select(Inquiry.client_id).where(Inquiry.id == inquiry_id))).scalar_one()
            s.add(InquiryEvent(inquiry_id=inquiry_id, at=now, actor_id=user_id, kind="claimed",
                               data={"offer_id": offer_id}))
            s.add(TimelineEntry(client_id=client_id, at=now, kind="claimed", inquiry_id=inquiry_id, actor_id=user_id,
                                summary=""))
            others = tuple(a for a in await self._offered(s, offer_id) if a != user_id)
        return inquiry_id, others

    async def expire_offer(self, offer_id: int, note: str = "nobody claimed in time") -> Routed | None:
        """Close an open offer (once, even with two schedulers) and take the rule's next step."""
        async with self.sessions() as s, s.begin():
            closed = await s.execute(update(TeamOffer).where(TeamOffer.id == offer_id, TeamOffer.state == "open")
                                     .values(state="expired", closed_at=self.clock(), note=note)
                                     .execution_options(synchronize_session=False))
            if closed.rowcount != 1:
                return None
            inquiry_id = (await s.execute(select(TeamOffer.inquiry_id).where(TeamOffer.id == offer_id))).scalar_one()
            offered = await self._offered(s, offer_id)
        await self._closed(offer_id, inquiry_id, offered, "expired")
        return await self.route(inquiry_id, why="offer_expired", offer_expired=True)

    async def open_offers_for(self, user_id: int) -> list[tuple[TeamOffer, Inquiry]]:
        async with self.sessions() as s:
            rows = (await s.execute(
                select(TeamOffer, Inquiry).join(Inquiry, Inquiry.id == TeamOffer.inquiry_id)
                .join(offer_agents, offer_agents.c.offer_id == TeamOffer.id)
                .where(offer_agents.c.user_id == user_id, TeamOffer.state == "open")
                .order_by(TeamOffer.deadline))).all()
        return [(r[0], r[1]) for r in rows]

    # the owner's answer ---------------------------------------------------------------------------------
    async def accept(self, inquiry_id: int, user_id: int) -> bool:
        now = self.clock()
        async with self.sessions() as s, s.begin():
            done = await s.execute(
                update(Inquiry).where(Inquiry.id == inquiry_id, Inquiry.owner_id == user_id,
                                      Inquiry.accepted_at.is_(None), Inquiry.status.in_(OPEN))
                .values(accepted_at=now, last_action_at=now, status=InquiryStatus.IN_WORK, updated_at=now)
                .execution_options(synchronize_session=False))
            if done.rowcount != 1:
                return False
            s.add(InquiryEvent(inquiry_id=inquiry_id, at=now, actor_id=user_id, kind="accepted"))
        return True

    async def refuse(self, inquiry_id: int, user_id: int) -> Routed | None | str:
        """The owner gives it back: one more refusal, they are excluded, the next eligible agent gets it;
        at the refusal limit it goes to the archive. Returns "archived", the new routing, or None."""
        now = self.clock()
        async with self.sessions() as s, s.begin():
            done = await s.execute(
                update(Inquiry).where(Inquiry.id == inquiry_id, Inquiry.owner_id == user_id, Inquiry.status.in_(OPEN))
                .values(owner_id=None, accepted_at=None, status=InquiryStatus.NEW, pool=Pool.NONE,
                        refusals=Inquiry.refusals + 1, last_action_at=now, updated_at=now)
                .execution_options(synchronize_session=False))
            if done.rowcount != 1:
                return None
            refusals = (await s.execute(select(Inquiry.refusals).where(Inquiry.id == inquiry_id))).scalar_one()
            s.add(InquiryEvent(inquiry_id=inquiry_id, at=now, actor_id=user_id, kind="refused",
                               data={"refusals": refusals}))
            await self._exclude(s, inquiry_id, user_id, "refused it", now)
            if refusals >= self.sla.max_refusals:
                await s.execute(update(Inquiry).where(Inquiry.id == inquiry_id)
                                .values(pool=Pool.ARCHIVE, status=InquiryStatus.ARCHIVED, closed_at=now,
                                        pool_entered_at=now, updated_at=now))
                s.add(InquiryEvent(inquiry_id=inquiry_id, at=now, kind="sla", note="refusals: to_archive",
                                   data={"action": "to_archive", "reason": "refusals"}))
                archived = True
            else:
                archived = False
        if archived:
            await self.bus.publish(InquiryAssigned(inquiry_id, None, str(Pool.ARCHIVE), user_id))
            return "archived"
        return await self.route(inquiry_id, why="refused")

    async def _exclude(self, s: AsyncSession, inquiry_id: int, user_id: int, reason: str, now: datetime) -> None:
        record = await s.get(RoutedInquiry, inquiry_id)
        if record is None:
            record = RoutedInquiry(inquiry_id=inquiry_id, routed_at=now, excluded={})
            s.add(record)
        record.excluded = {**(record.excluded or {}), str(user_id): reason}
        await s.flush()

    async def agent_unavailable(self, user_id: int, status: str) -> list[int]:
        """An agent went offline or on break: their open offers go on without them (an offer left with
        nobody expires now), and what was given to them but not accepted goes to the next eligible agent."""
        now = self.clock()
        reason = f"went {status} before accepting"
        moved: list[int] = []
        async with self.sessions() as s, s.begin():
            offers = (await s.execute(
                select(TeamOffer.id).join(offer_agents, offer_agents.c.offer_id == TeamOffer.id)
                .where(offer_agents.c.user_id == user_id, TeamOffer.state == "open"))).scalars().all()
            if offers:
                await s.execute(delete(offer_agents).where(offer_agents.c.user_id == user_id,
                                                           offer_agents.c.offer_id.in_(offers)))
            left = {o: (await s.execute(select(func.count()).select_from(offer_agents)
                                        .where(offer_agents.c.offer_id == o))).scalar_one() for o in offers}
            pending = (await s.execute(select(Inquiry.id).where(
                Inquiry.owner_id == user_id, Inquiry.accepted_at.is_(None), Inquiry.status == InquiryStatus.NEW))
            ).scalars().all()
            for inquiry_id in pending:
                done = await s.execute(
                    update(Inquiry).where(Inquiry.id == inquiry_id, Inquiry.owner_id == user_id,
                                          Inquiry.accepted_at.is_(None))
                    .values(owner_id=None, updated_at=now).execution_options(synchronize_session=False))
                if done.rowcount == 1:
                    await self._exclude(s, inquiry_id, user_id, reason, now)
                    s.add(InquiryEvent(inquiry_id=inquiry_id, at=now, kind="rerouted", note=reason,
                                       data={"agent_id": user_id}))
                    moved.append(inquiry_id)
        for offer_id, n in left.items():
            if n == 0:
                await self.expire_offer(offer_id, note="everyone offered became unavailable")
        for inquiry_id in moved:
            await self.route(inquiry_id, why="offline")
        if moved or offers:
            log.info("agent=%s went %s: %d inquiries re-routed, %d offers updated", user_id, status, len(moved),
                     len(offers))
        return moved

    async def supervisors(self, s: AsyncSession, department_id: int | None) -> list[int]:
        if department_id is None:
            return []
        return list((await s.execute(select(User.id).where(
            User.department_id == department_id, User.role.in_(SUPERVISOR_ROLES),
            User.is_active.is_(True)))).scalars())
