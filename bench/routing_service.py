"""Inquiries routed per second end-to-end through ``RoutingService`` on SQLite with 15,000 agents, against a
bare SQLAlchemy loop writing the same rows; and what the agents' snapshot costs when it is read per decision.

    python -m bench.routing_service [--quick]

The world (one SQLite file, migrated): 150 departments of 100 agents (45% available, the rest on calls, in
wrap-up, on break or offline; 20% with a routing profile, a third of those on one of 3 duty rotas; skills),
30,000 open inquiries already held by agents (their load), and the new inquiries to route (webform, email,
telegram, call; each with its client and department). Four rules on channel and skill plus the default
(the inquiry's department, least loaded).

Four runs on copies of the same file:
In the hub runs the rules are compiled and the agents' snapshot built before the clock starts, as in a
hub that is running (the snapshot's cost is ``snapshot_ms``; its periodic re-reads fall in the timed part).

- the hub as wired ([routing] directory_ttl_s = 5), as it routes inquiries that open: ``route_opened(id)``
  from 32 callers at once (the inquiries opened by intake's groups, the catch-up, the bus), a closed loop.
  Inquiries that wait while a routing transaction is under way are routed together in the next one
  (group commit, crm_core/group_commit.py): each decided in turn, purely, against the same snapshot, then
  written set-based — one UPDATE … RETURNING per kind of outcome, one INSERT each for the decisions, their
  history lines and the routing records (routing/assign.py). This is the reported ``value``;
- ``route(id)`` for each new inquiry one after another (a re-route: an offer expired, a refusal), on fewer
  inquiries: ``one_by_one_value``;
- the same with the snapshot read from the database for every decision (directory_ttl_s = 0), on fewer
  inquiries (it is slow: that is what it measures): ``uncached_value``;
- the peer: a bare loop writing, per inquiry in one transaction, exactly the rows the hub wrote (state row,
  routing record, the inquiry's owner, the decision with its explanation, the history line) — the floor.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update

from bench.common import emit, parse_args, rss_mb
from bus.bus import EventBus
from config.settings import DatabaseSettings
from crm_core.db import create_engine, session_factory
from crm_core.migrate import migrate
from crm_core.models import Client, Department, Inquiry, InquiryEvent, RoutingDecision, Team, User, team_members
from crm_core.models.routing import AgentRoutingProfile, DutyRota, RoutedInquiry, RoutingKV
from routing.queries import STATE_KEY, save_rule_data
from routing.service import RoutingService

WORK = Path("var/bench/routing_service")
CALLERS = 32  # route_opened callers at once
ZONE = ZoneInfo("Europe/Moscow")
DEPARTMENTS, PER_DEPARTMENT = 150, 100
STATUSES = ("available",) * 45 + ("on_call",) * 15 + ("wrap_up",) * 5 + ("break",) * 10 + ("offline",) * 25
SKILLS = ("elite", "commercial", "newbuild", "mortgage", "english")
CHANNELS = ("webform",) * 4 + ("email",) * 3 + ("telegram",) * 2 + ("call",)
ROTAS = {"day": {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
         "night": {d: [["20:00", "08:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
         "weekend": {d: [["10:00", "19:00"]] for d in ("sat", "sun")}}


def url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def seed(path: Path, new_inquiries: int) -> list[int]:
    """The world described above; returns the ids of the inquiries to route."""
    rnd = random.Random(7)
    engine = create_engine(DatabaseSettings(url=url(path)))
    await migrate(engine)
    sessions = session_factory(engine)
    now = datetime(2025, 3, 5, 11, 0, tzinfo=ZONE)
    async with sessions() as s, s.begin():
        await s.execute(insert(Department), [{"name": f"Отдел {d}"} for d in range(DEPARTMENTS)])
        departments = list((await s.execute(select(Department.id).order_by(Department.id))).scalars())
        await s.execute(insert(Team), [{"name": f"Команда {d}-{k}", "department_id": d}
                                       for d in departments for k in range(5)])
        teams = (await s.execute(select(Team.id, Team.department_id))).all()
        await s.execute(insert(User), [
            {"login": f"agent{d}-{k}", "full_name": f"Агент {d}-{k}", "password_hash": "!", "role": "agent",
             "department_id": d, "status": rnd.choice(STATUSES), "status_since": now, "created_at": now,
             "skills": rnd.sample(SKILLS, rnd.randint(0, 2)), "locale": "ru", "is_active": True}
            for d in departments for k in range(PER_DEPARTMENT)])
        agents = (await s.execute(select(User.id, User.department_id))).all()
        by_department: dict[int, list[int]] = {}
        for agent_id, d in agents:
            by_department.setdefault(d, []).append(agent_id)
        await s.execute(insert(team_members), [
            {"team_id": team_id, "user_id": a} for team_id, d in teams
            for a in by_department[d][(team_id % 5) * 20:(team_id % 5) * 20 + 20]])
        await s.execute(insert(DutyRota), [{"id": k, "name": k, "weekly": v, "exceptions": {}, "holidays_off": True}
                                           for k, v in ROTAS.items()])
        profiled = rnd.sample([a for a, _ in agents], len(agents) // 5)
        await s.execute(insert(AgentRoutingProfile), [
            {"user_id": a, "routable": True, "languages": ["ru", "en"] if n % 4 == 0 else ["ru"],
             "capacity": {"call": 1, "telegram": rnd.randint(2, 5), "email": rnd.randint(10, 30), "webform": 15},
             "duty_schedule": list(ROTAS)[n % 3] if n % 3 == 0 else None} for n, a in enumerate(profiled)])
        await s.execute(insert(Client), [{"name": f"Клиент {n}", "kind": "person", "created_at": now}
                                         for n in range(new_inquiries + 1000)])
        clients = list((await s.execute(select(Client.id).order_by(Client.id))).scalars())
        held = [{"client_id": clients[n % 1000], "channel": rnd.choice(("webform", "email", "telegram")),
                 "external_id": f"held-{n}", "status": "in_work", "pool": "none", "owner_id": rnd.choice(agents)[0],
                 "utm": {}, "refusals": 0, "created_at": now, "updated_at": now} for n in range(30_000)]
        await s.execute(insert(Inquiry), held)
        fresh = [{"client_id": clients[1000 + n], "channel": rnd.choice(CHANNELS), "external_id": f"new-{n}",
                  "status": "new", "pool": "none", "department_id": rnd.choice(departments), "utm": {},
                  "refusals": 0, "subject": f"Обращение {n}", "created_at": now, "updated_at": now}
                 for n in range(new_inquiries)]
        await s.execute(insert(Inquiry), fresh)
        ids = list((await s.execute(select(Inquiry.id).where(Inquiry.status == "new").order_by(Inquiry.id))
                    ).scalars())
    await save_rule_data(sessions, {"rules": [
        {"id": "calls", "priority": 10, "when": {"channels": ["call"]}, "target": {"inquiry_department": True},
         "strategy": "least_loaded", "on_no_agent": "next_rule"},
        {"id": "english", "priority": 20, "when": {"languages": ["en"]}, "target": {"skills": ["english"]},
         "strategy": "least_loaded", "on_no_agent": "next_rule"},
        {"id": "chats", "priority": 30, "when": {"channels": ["telegram"]}, "target": {"inquiry_department": True},
         "strategy": "round_robin", "on_no_agent": "department_pool"},
        {"id": "mail", "priority": 40, "when": {"channels": ["email"]}, "target": {"inquiry_department": True},
         "strategy": "even_spread", "on_no_agent": "department_pool"},
    ], "default": {"target": {"inquiry_department": True}, "strategy": "least_loaded",
                   "on_no_agent": "department_pool"}})
    await engine.dispose()
    return ids


async def hub_run(path: Path, ids: list[int], ttl: float, callers: int = 1) -> tuple[float, dict]:
    """Route each inquiry through a RoutingService as the hub wires it: ``route`` one after another
    (``callers`` = 1), or ``route_opened`` from that many callers at once; inquiries per second."""
    engine = create_engine(DatabaseSettings(url=url(path)))
    svc = RoutingService(session_factory(engine), EventBus(), directory_ttl_s=ttl,
                         clock=lambda: datetime(2025, 3, 5, 11, 0, tzinfo=ZONE))
    svc.state = "running"  # not start(): its catch-up would route them all before the clock starts
    outcomes: dict[str, int] = {}
    todo = iter(ids)
    async with svc.sessions() as s:  # what a running hub already holds: the compiled rules, the snapshot
        await svc.rules(s)
        if svc.cache is not None:
            await svc.cache.get(s)

    async def caller() -> None:
        for inquiry_id in todo:
            routed = await (svc.route(inquiry_id) if callers == 1 else svc.route_opened(inquiry_id))
            key = routed.outcome if routed else "nothing"
            outcomes[key] = outcomes.get(key, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    elapsed = time.perf_counter() - started
    info: dict = {"outcomes": outcomes}
    if callers > 1:
        info["transactions"] = svc._opened.commits  # noqa: SLF001 - how many groups the inquiries went in
    if svc.cache is not None:
        info |= {"rebuilds": svc.cache.rebuilds, "sweeps": svc.cache.sweeps, "refreshes": svc.cache.refreshes,
                 "corrections": svc.cache.corrections}
    await engine.dispose()
    return len(ids) / elapsed, info


async def written(path: Path, ids: list[int]) -> list[tuple]:
    """What the hub wrote for each inquiry: the decision row and the inquiry's new owner/pool/status."""
    engine = create_engine(DatabaseSettings(url=url(path)))
    async with session_factory(engine)() as s:
        rows = (await s.execute(
            select(RoutingDecision.inquiry_id, RoutingDecision.agent_id, RoutingDecision.pool, RoutingDecision.rule,
                   RoutingDecision.strategy, RoutingDecision.explanation, Inquiry.owner_id, Inquiry.pool,
                   Inquiry.status, Inquiry.department_id)
            .join(Inquiry, Inquiry.id == RoutingDecision.inquiry_id)
            .where(RoutingDecision.inquiry_id.in_(ids)).order_by(RoutingDecision.id))).all()
    await engine.dispose()
    return [tuple(r) for r in rows]


async def peer_run(path: Path, rows: list[tuple]) -> float:
    """The same rows written by a bare loop, one transaction per inquiry."""
    engine = create_engine(DatabaseSettings(url=url(path)))
    sessions = session_factory(engine)
    now = datetime(2025, 3, 5, 11, 0, tzinfo=ZONE)
    async with sessions() as s, s.begin():
        if await s.get(RoutingKV, STATE_KEY) is None:
            s.add(RoutingKV(key=STATE_KEY, value={}, updated_at=now))
    started = time.perf_counter()
    for inquiry_id, agent_id, pool, rule, strategy, explanation, owner, ipool, status, department in rows:
        async with sessions() as s, s.begin():
            await s.execute(update(RoutingKV).where(RoutingKV.key == STATE_KEY).values(updated_at=now))
            await s.execute(insert(RoutedInquiry).values(inquiry_id=inquiry_id, routed_at=now, excluded={}))
            await s.execute(update(Inquiry).where(Inquiry.id == inquiry_id, Inquiry.owner_id.is_(None))
                            .values(owner_id=owner, pool=ipool, status=status, department_id=department,
                                    updated_at=now))
            decision_id = (await s.execute(insert(RoutingDecision).values(
                inquiry_id=inquiry_id, at=now, agent_id=agent_id, pool=pool, rule=rule, strategy=strategy,
                explanation=explanation).returning(RoutingDecision.id))).scalar_one()
            await s.execute(update(RoutedInquiry).where(RoutedInquiry.inquiry_id == inquiry_id)
                            .values(decision_id=decision_id))
            await s.execute(insert(InquiryEvent).values(inquiry_id=inquiry_id, at=now, kind="routed",
                                                        note=explanation.get("summary"), data={}))
            await s.execute(update(RoutingKV).where(RoutingKV.key == STATE_KEY).values(value={"n": inquiry_id}))
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return len(rows) / elapsed


async def snapshot_cost(path: Path) -> float:
    """Seconds to read the whole agents' snapshot once (what an uncached decision pays)."""
    from routing.queries import agent_directory

    engine = create_engine(DatabaseSettings(url=url(path)))
    async with session_factory(engine)() as s:
        await agent_directory(s)
        started = time.perf_counter()
        for _ in range(3):
            directory = await agent_directory(s)
        elapsed = (time.perf_counter() - started) / 3
    await engine.dispose()
    assert len(directory) > 0
    return elapsed


async def run(quick: bool) -> dict:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    n, one_by_one_n, uncached_n = (300, 100, 20) if quick else (2000, 300, 60)
    base = WORK / "seed.sqlite3"
    t = time.perf_counter()
    ids = await seed(base, n)
    seed_s = time.perf_counter() - t
    for name in ("hub", "one_by_one", "uncached", "peer"):
        shutil.copy(base, WORK / f"{name}.sqlite3")
    snapshot_s = await snapshot_cost(base)
    hub_rate, info = await hub_run(WORK / "hub.sqlite3", ids, ttl=5.0, callers=CALLERS)
    one_rate, _ = await hub_run(WORK / "one_by_one.sqlite3", ids[:one_by_one_n], ttl=5.0)
    uncached_rate, uncached_info = await hub_run(WORK / "uncached.sqlite3", ids[:uncached_n], ttl=0.0)
    rows = await written(WORK / "hub.sqlite3", ids)
    assert len(rows) == len(ids), f"{len(rows)} decisions stored for {len(ids)} inquiries"
    peer_rate = await peer_run(WORK / "peer.sqlite3", rows)
    return {
        "bench": "routing_service", "unit": "inquiries/s", "value": round(hub_rate, 1),
        "peer": "bare SQLAlchemy loop writing the same rows", "peer_value": round(peer_rate, 1),
        "callers": CALLERS, "one_by_one_value": round(one_rate, 1), "routed_one_by_one": one_by_one_n,
        "uncached_value": round(uncached_rate, 1), "snapshot_ms": round(snapshot_s * 1000, 1),
        "agents": DEPARTMENTS * PER_DEPARTMENT, "held_open": 30_000, "routed": len(ids),
        "routed_uncached": uncached_n, "outcomes": info["outcomes"],
        "cache": {k: v for k, v in info.items() if k not in ("outcomes", "transactions")},
        "transactions": info.get("transactions"), "seed_s": round(seed_s, 1),
        "rss_mb": round(rss_mb(), 1),
    }


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    result = asyncio.run(run(args.quick))
    print(f"{result['routed']} inquiries routed end-to-end over {result['agents']:,} agents "
          f"({result['held_open']:,} open inquiries held): {result['value']} /s from {result['callers']} callers "
          f"in {result['transactions']} transactions with the cached snapshot (cache {result['cache']}); one by "
          f"one {result['one_by_one_value']} /s; {result['uncached_value']} /s reading it per decision "
          f"(one snapshot: {result['snapshot_ms']} ms); bare loop of the same rows {result['peer_value']} /s; "
          f"outcomes {result['outcomes']}")
    emit(result)


if __name__ == "__main__":
    main()
