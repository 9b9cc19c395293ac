"""``simulate``: what-if replay of stored inquiries through a rule set, beside what really happened.

    hub simulate --rules new-rules.toml --from 2025-03-01 --to 2025-03-31

The inquiries created in the period are replayed in order through ``decide`` with the given rules and the
company's current agents (their teams, skills, capacity and duty rotas; everyone counted as available,
since past statuses are not stored). Each simulated assignment adds to the agent's load until the
inquiry really closed. The report shows, per agent, the real and the simulated number of inquiries and the
simulated load peak, how many would have gone straight to a pool, and the real SLA escalations.

This module reads the database (it is the shell around the pure decision); nothing is written.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from routing.agents import AgentDirectory
from routing.calendar import WorkCalendar, WorkingHours
from routing.decide import decide
from routing.rules import RuleSet, RuleSetError, load_rules_toml
from routing.strategies import RoutingState


@dataclass
class SimulationReport:
    inquiries: int = 0
    real: Counter = field(default_factory=Counter)  # agent id → inquiries really given
    simulated: Counter = field(default_factory=Counter)  # agent id → inquiries the rules would give
    peak: Counter = field(default_factory=Counter)  # agent id → highest simulated open load
    changed: int = 0  # inquiries whose simulated agent differs from the real one
    simulated_pool: Counter = field(default_factory=Counter)  # pool → inquiries sent straight there
    simulated_offers: int = 0
    real_escalations: int = 0
    names: dict[int, str] = field(default_factory=dict)


async def replay(sessions: async_sessionmaker[AsyncSession], rules: RuleSet, start: date, end: date,
                 work: WorkCalendar | None = None) -> SimulationReport:
    """Replay the inquiries created from ``start`` to ``end`` (inclusive, company dates)."""
    from crm_core.models import Inquiry, InquiryEvent, RoutingDecision, User
    from crm_core.routing_service import agent_directory, inquiry_facts

    work = work or WorkCalendar()
    since = datetime.combine(start, time(0), work.zone)
    until = datetime.combine(end + timedelta(days=1), time(0), work.zone)
    report = SimulationReport()
    async with sessions() as s:
        live = await agent_directory(s, work)
        directory = AgentDirectory(
            [type(a)(a.id, department_id=a.department_id, team_ids=a.team_ids, skills=a.skills,
                     languages=a.languages, status="available", load={}, capacity=dict(a.capacity),
                     duty_schedule_id=a.duty_schedule_id) for a in live.by_id.values()],
            live.schedules, work.calendar)
        report.names = dict((await s.execute(select(User.id, User.full_name))).all())
        inquiries = (await s.execute(select(Inquiry).where(Inquiry.created_at >= since, Inquiry.created_at < until)
                                     .order_by(Inquiry.created_at, Inquiry.id))).scalars().all()
        first_agent = dict((await s.execute(
            select(RoutingDecision.inquiry_id, RoutingDecision.agent_id)
            .where(RoutingDecision.inquiry_id.in_([i.id for i in inquiries]))
            .order_by(RoutingDecision.id.desc()))).all())
        report.real_escalations = len((await s.execute(select(InquiryEvent.id).where(
            InquiryEvent.kind == "sla", InquiryEvent.inquiry_id.in_([i.id for i in inquiries])))).all())
        facts = [await inquiry_facts(s, i) for i in inquiries]
    state = RoutingState()
    open_items: list[tuple[datetime, int, int, str]] = []  # (closes at, inquiry, agent, channel)
    for inquiry, fact in zip(inquiries, facts, strict=True):
        now = inquiry.created_at
        while open_items and open_items[0][0] <= now:
            _, _, agent_id, channel = heapq.heappop(open_items)
            directory.add_load(agent_id, channel, -1)
        report.inquiries += 1
        real = inquiry.owner_id or first_agent.get(inquiry.id)
        if real is not None:
            report.real[real] += 1
        decision = decide(fact, directory, rules, now, state, zone=work.zone)
        state.apply(decision)
        agent_id = decision.agent_id
        if decision.offer is not None:
            report.simulated_offers += 1
            seen = [e for e in decision.eligible if e.agent_id in decision.offer.agent_ids]
            agent_id = min(seen, key=lambda e: (e.load / e.capacity, e.total_load, e.agent_id)).agent_id
        if agent_id is None:
            report.simulated_pool[decision.pool or "common"] += 1
            report.changed += real is not None
            continue
        report.simulated[agent_id] += 1
        report.changed += agent_id != real
        snapshot = directory.add_load(agent_id, fact.channel, 1)
        report.peak[agent_id] = max(report.peak[agent_id], snapshot.total_load)
        heapq.heappush(open_items, (inquiry.closed_at or datetime.max.replace(tzinfo=now.tzinfo), inquiry.id,
                                    agent_id, fact.channel))
    return report


def print_report(report: SimulationReport, out: TextIO = sys.stdout) -> None:
    out.write(f"inquiries replayed: {report.inquiries}; assignment changed for {report.changed}\n")
    out.write(f"{'agent':<30} {'real':>6} {'simulated':>10} {'change':>7} {'peak load':>10}\n")
    for agent_id in sorted(set(report.real) | set(report.simulated),
                           key=lambda a: (-report.simulated[a], report.names.get(a, ""))):
        name = report.names.get(agent_id, f"#{agent_id}")[:30]
        real, sim = report.real[agent_id], report.simulated[agent_id]
        out.write(f"{name:<30} {real:>6} {sim:>10} {sim - real:>+7} {report.peak[agent_id]:>10}\n")
    pools = ", ".join(f"{k}: {v}" for k, v in sorted(report.simulated_pool.items())) or "none"
    out.write(f"straight to a pool (nobody eligible) with these rules: {pools}\n")
    out.write(f"team offers: {report.simulated_offers} (counted as taken by the least loaded of the group)\n")
    out.write(f"real SLA escalations of these inquiries: {report.real_escalations}\n")
    out.write("agents are taken as available throughout (past statuses are not stored); duty rotas apply\n")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="what-if: replay stored inquiries through a routing rules file")
    p.add_argument("--rules", type=Path, required=True, help="routing rules (TOML)")
    p.add_argument("--from", dest="start", type=date.fromisoformat, required=True, help="first day, YYYY-MM-DD")
    p.add_argument("--to", dest="end", type=date.fromisoformat, required=True, help="last day, YYYY-MM-DD")


def cmd_simulate(settings, args: argparse.Namespace) -> int:  # noqa: ANN001 - config.settings.Settings
    """``main.py simulate``: exit 0 with the report, 1 on an unreadable or invalid rules file."""
    try:
        rules = load_rules_toml(args.rules.read_text(encoding="utf-8"))
    except OSError as exc:
        print(f"hub: cannot read {args.rules}: {exc.strerror}", file=sys.stderr)
        return 1
    except UnicodeDecodeError:
        print(f"hub: {args.rules} is not UTF-8 text", file=sys.stderr)
        return 1
    except RuleSetError as exc:
        print(f"hub: {args.rules}: {exc}", file=sys.stderr)
        return 1
    if args.end < args.start:
        print("hub: --to is before --from", file=sys.stderr)
        return 1
    return asyncio.run(_simulate(settings, rules, args.start, args.end))


async def _simulate(settings, rules: RuleSet, start: date, end: date) -> int:  # noqa: ANN001
    from crm_core.db import create_engine, session_factory

    engine = create_engine(settings.database)
    try:
        work = WorkCalendar(WorkingHours(time_zone=settings.time_zone))
        report = await replay(session_factory(engine), rules, start, end, work)
    finally:
        await engine.dispose()
    print_report(report)
    return 0
