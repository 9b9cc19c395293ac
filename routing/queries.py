"""The routing tables read and written: the rule set as stored (and its TOML form), the agents' snapshot
as the database has it (profiles, duty rotas, loads), and the facts about an inquiry that routing judges.

The keys of ``routing_kv`` live here: the round-robin state, the default rule, and the version counters
that tell every hub process the rules or the agents' profiles changed.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import tomli_w
from sqlalchemy import delete, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.models import (
    Call,
    Client,
    Department,
    Inquiry,
    InquiryStatus,
    Message,
    Property,
    Role,
    Segment,
    User,
    client_segments,
    team_members,
    utcnow,
)
from crm_core.models.routing import AgentRoutingProfile, DutyRota, RoutingKV, RoutingRule, RoutingTerritory
from routing.agents import AgentDirectory
from routing.calendar import WorkCalendar
from routing.duty import DutySchedule
from routing.listing import listing_facts
from routing.model import CHANNELS, AgentSnapshot, InquiryFacts
from routing.rules import RuleProblem, RuleSet, RuleSetError, compile_rules

log = logging.getLogger("hub.routing")
OPEN = (InquiryStatus.NEW, InquiryStatus.OFFERED, InquiryStatus.IN_WORK)
STATE_KEY, DEFAULT_KEY, VERSION_KEY = "state", "default_rule", "rules_version"
DIRECTORY_KEY = "directory_version"
RU = frozenset({"ru"})


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


async def kv_row(session: AsyncSession, key: str) -> RoutingKV | None:
    """A ``routing_kv`` row: the one ``remember_kv`` kept for this transaction (also a row that is not
    there), else read now."""
    kept = session.info.get("routing_kv")
    if kept is not None and kept[0] is session.get_transaction():
        return kept[1].get(key)
    return await session.get(RoutingKV, key)


def remember_kv(session: AsyncSession, rows: dict[str, RoutingKV]) -> None:
    """The routing rows read at the start of this transaction (under its lock): later reads of them in the
    same transaction cost no query, even for a row that does not exist (``session.get`` asks again)."""
    session.info["routing_kv"] = (session.get_transaction(), rows)


async def rules_version(session: AsyncSession) -> int:
    row = await kv_row(session, VERSION_KEY)
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
    """Agent id → channel → open inquiries they hold plus answered calls not yet ended (one query). A call on
    an open inquiry the agent already holds is that inquiry's, counted once: load is conversations, not calls."""
    open_load = (select(Inquiry.owner_id, Inquiry.channel, func.count())
                 .where(Inquiry.owner_id.is_not(None), Inquiry.status.in_(OPEN))
                 .group_by(Inquiry.owner_id, Inquiry.channel))
    calls = (select(Call.agent_id, literal("call"), func.count())
             .outerjoin(Inquiry, Inquiry.id == Call.inquiry_id)
             .where(Call.agent_id.is_not(None), Call.answered_at.is_not(None), Call.ended_at.is_(None),
                    or_(Inquiry.id.is_(None), Inquiry.owner_id.is_(None), Inquiry.owner_id != Call.agent_id,
                        Inquiry.status.not_in(OPEN)))
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
    """Every rota, counted in its department's time zone when that department has its own, else the agency's."""
    agency_zone = work.hours.time_zone if work else "Europe/Moscow"
    rows = (await session.execute(select(DutyRota, Department.time_zone).outerjoin(
        Department, Department.id == DutyRota.department_id))).all()
    return {rota.id: rota_schedule(rota, zone or agency_zone) for rota, zone in rows}


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
                         holidays_off: bool, department_id: int | None = None) -> None:
    async with sessions() as s, s.begin():
        rota = await s.get(DutyRota, rota_id)
        if rota is None:
            rota = DutyRota(id=rota_id)
            s.add(rota)
        rota.name, rota.weekly, rota.exceptions, rota.holidays_off = name, dict(weekly), dict(exceptions), holidays_off
        rota.department_id = department_id
        await s.flush()
        await bump_directory(s)


# --- what routing judges about an inquiry ---------------------------------------------------------------

async def inquiry_facts(session: AsyncSession, inquiry: Inquiry) -> InquiryFacts:
    return (await inquiry_facts_many(session, [inquiry]))[0]


async def inquiry_facts_many(session: AsyncSession, inquiries: Sequence[Inquiry]) -> list[InquiryFacts]:
    """What routing judges, for several inquiries in four queries: their clients' owners, the first message's
    meta (the site and language a form or the bot recorded, the listing a channel saw), their properties (the
    linked one, else the one the channel named in ``meta["listing"]["property_id"]``: its agent), and the
    clients' segments."""
    client_ids = {i.client_id for i in inquiries}
    owners = dict((await session.execute(select(Client.id, Client.owner_id).where(Client.id.in_(client_ids)))).all())
    first = (select(func.min(Message.id)).where(Message.inquiry_id.in_([i.id for i in inquiries]))
             .group_by(Message.inquiry_id))
    metas = dict((await session.execute(select(Message.inquiry_id, Message.meta).where(Message.id.in_(first)))).all())
    named = {i.id: listed_property(metas.get(i.id)) for i in inquiries if not i.property_id}
    property_ids = {i.property_id for i in inquiries if i.property_id} | {p for p in named.values() if p}
    props = {p.id: p for p in (await session.execute(select(Property).where(Property.id.in_(property_ids))))
             .scalars()} if property_ids else {}
    segments: dict[int, set[str]] = {}
    for client_id, name in (await session.execute(
            select(client_segments.c.client_id, Segment.name).join(Segment, Segment.id == client_segments.c.segment_id)
            .where(client_segments.c.client_id.in_(client_ids)))).all():
        segments.setdefault(client_id, set()).add(name)
    return [replace(_facts(i, owners.get(i.client_id), props.get(i.property_id) if i.property_id else None,
                           metas.get(i.id) or {}), segments=frozenset(segments.get(i.client_id, ())),
                    property_agent_id=_agent_of(props.get(i.property_id or named.get(i.id) or 0)))
            for i in inquiries]


def listed_property(meta: Any) -> int | None:  # noqa: ANN401 - a message's meta as stored (JSON)
    """The hub's property a channel found for the listing (``meta["listing"]["property_id"]``), if any."""
    listing = meta.get("listing") if isinstance(meta, Mapping) else None
    value = listing.get("property_id") if isinstance(listing, Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _agent_of(prop: Property | None) -> int | None:
    """The property's agent, whose leads they are (an archived property takes no leads)."""
    return prop.agent_id if prop is not None and not prop.archived else None


def _facts(inquiry: Inquiry, owner: int | None, prop: Property | None, meta: Mapping[str, Any]) -> InquiryFacts:
    utm = inquiry.utm or {}
    facts = InquiryFacts(
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
    if prop is None and meta.get("listing"):  # a web form sent from a listing page: its price, place, type
        facts = replace(facts, **listing_facts(meta))
    return facts
