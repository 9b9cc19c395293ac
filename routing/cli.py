"""``simulate``: what-if replay of stored inquiries through a rule set, beside what really happened.

    hub simulate --rules new-rules.toml --from 2025-03-01 --to 2025-03-31

The inquiries created in the period are replayed in order through ``decide`` with the given rules and the
company's current agents (their teams, skills, capacity and duty rotas). Each agent is taken in the state
they really were in at each inquiry's time, from the state log (``agent_state_spans``: available, break,
wrap-up, on a call, offline); an agent with nothing logged yet at that time counts as available, and the
report names them. Each simulated assignment adds to the agent's load until the inquiry really closed.
The report shows, per agent, the real and the simulated number of inquiries, the simulated load peak and
the real SLA escalations of their inquiries; how many would have gone straight to a pool, and the real
SLA escalations in all.

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

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from routing.agents import STATUS_REASON, AgentDirectory
from routing.calendar import WorkCalendar
from routing.decide import decide
from routing.model import STATUSES
from routing.rules import RuleSet, RuleSetError, load_rules_toml
from routing.strategies import RoutingState

STATUS_WORDS = {reason: status for status, reason in STATUS_REASON.items()}  # "on break" → "break"


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
    real_escalations_by_agent: Counter = field(default_factory=Counter)  # agent id → escalated real inquiries
    status_changes: int = 0  # logged state changes replayed during the period
    unlogged: set[int] = field(default_factory=set)  # agents with no logged state at some inquiry's time
    refused_for_status: Counter = field(default_factory=Counter)  # status → decisions an agent missed for it
    names: dict[int, str] = field(default_factory=dict)


async def replay(sessions: async_sessionmaker[AsyncSession], rules: RuleSet, start: date, end: date,
                 work: WorkCalendar | None = None) -> SimulationReport:
    """Replay the inquiries created from ``start`` to ``end`` (inclusive, company dates)."""
    from crm_core.models import Inquiry, InquiryEvent, RoutingDecision, User
    from crm_core.models.agent_states import AgentStateSpan
    from routing.queries import agent_directory, inquiry_facts

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
        ids = [i.id for i in inquiries]
        first_agent = dict((await s.execute(
            select(RoutingDecision.inquiry_id, RoutingDecision.agent_id)
            .where(RoutingDecision.inquiry_id.in_(ids))
            .order_by(RoutingDecision.id.desc()))).all())
        escalated = (await s.execute(select(InquiryEvent.inquiry_id).where(
            InquiryEvent.kind == "sla", InquiryEvent.inquiry_id.in_(ids)))).scalars().all()
        spans = (await s.execute(
            select(AgentStateSpan.user_id, AgentStateSpan.status, AgentStateSpan.started_at)
            .where(AgentStateSpan.user_id.in_(list(directory.by_id)), AgentStateSpan.started_at < until,
                   or_(AgentStateSpan.ended_at.is_(None), AgentStateSpan.ended_at > since))
            .order_by(AgentStateSpan.started_at, AgentStateSpan.id))).all()
        facts = [await inquiry_facts(s, i) for i in inquiries]
    # the state log as a queue of changes; until an agent's first logged change they count as available
    changes = [(max(started, since), n, user_id, str(status)) for n, (user_id, status, started) in enumerate(spans)]
    heapq.heapify(changes)
    logged: set[int] = set()
    real_owner: dict[int, int] = {}
    state = RoutingState()
    open_items: list[tuple[datetime, int, int, str]] = []  # (closes at, inquiry, agent, channel)
    for inquiry, fact in zip(inquiries, facts, strict=True):
        now = inquiry.created_at
        while changes and changes[0][0] <= now:
            _, _, agent_id, status = heapq.heappop(changes)
            if status in STATUSES:
                directory.set_status(agent_id, status)  # type: ignore[arg-type]
                report.status_changes += 1
                logged.add(agent_id)
        while open_items and open_items[0][0] <= now:
            _, _, agent_id, channel = heapq.heappop(open_items)
            directory.add_load(agent_id, channel, -1)
        report.inquiries += 1
        real = inquiry.owner_id or first_agent.get(inquiry.id)
        if real is not None:
            report.real[real] += 1
            real_owner[inquiry.id] = real
        decision = decide(fact, directory, rules, now, state, zone=work.zone)
        state.apply(decision)
        members = {e.agent_id for e in decision.eligible} | {n.agent_id for n in decision.not_eligible}
        report.unlogged.update(members - logged)
        for n in decision.not_eligible:
            if n.reason in STATUS_WORDS:
                report.refused_for_status[STATUS_WORDS[n.reason]] += 1
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
    report.real_escalations = len(escalated)
    for inquiry_id in escalated:
        if inquiry_id in real_owner:
            report.real_escalations_by_agent[real_owner[inquiry_id]] += 1
    return report


def print_report(report: SimulationReport, out: TextIO = sys.stdout) -> None:
    out.write(f"inquiries replayed: {report.inquiries}; assignment changed for {report.changed}\n")
    out.write(f"{'agent':<30} {'real':>6} {'simulated':>10} {'change':>7} {'peak load':>10} {'real SLA':>9}\n")
    for agent_id in sorted(set(report.real) | set(report.simulated),
                           key=lambda a: (-report.simulated[a], report.names.get(a, ""))):
        name = report.names.get(agent_id, f"#{agent_id}")[:30]
        real, sim = report.real[agent_id], report.simulated[agent_id]
        out.write(f"{name:<30} {real:>6} {sim:>10} {sim - real:>+7} {report.peak[agent_id]:>10} "
                  f"{report.real_escalations_by_agent[agent_id]:>9}\n")
    pools = ", ".join(f"{k}: {v}" for k, v in sorted(report.simulated_pool.items())) or "none"
    out.write(f"straight to a pool (nobody eligible) with these rules: {pools}\n")
    out.write(f"team offers: {report.simulated_offers} (counted as taken by the least loaded of the group)\n")
    out.write(f"real SLA escalations of these inquiries: {report.real_escalations}\n")
    missed = ", ".join(f"{k}: {v}" for k, v in sorted(report.refused_for_status.items())) or "none"
    out.write(f"agents in the state they were really in at each inquiry's time ({report.status_changes} logged "
              f"changes replayed); passed over for their state (agent × inquiry): {missed}; today's duty rotas apply\n")
    if report.unlogged:
        names = ", ".join(sorted(report.names.get(a, f"#{a}") for a in report.unlogged))
        out.write(f"no state logged yet at the time, counted as available: {names}\n")


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
        work = WorkCalendar(settings.routing.hours)  # the agency's zone, hours and official calendar
        report = await replay(session_factory(engine), rules, start, end, work)
    finally:
        await engine.dispose()
    print_report(report)
    return 0
