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
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from routing.agents import STATUS_REASON
from routing.calendar import WorkCalendar
from routing.replay_engine import Replayer, load_period
from routing.rules import RuleSet, RuleSetError, load_rules_toml

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
    from crm_core.models import User

    work = work or WorkCalendar()
    report = SimulationReport()
    async with sessions() as s:
        period = await load_period(s, work, start, end)
        report.names = dict((await s.execute(select(User.id, User.full_name))).all())
    replayer = Replayer(period, rules, work)
    logged: set[int] = set()
    real_owner: dict[int, int] = {}
    for inquiry, fact in zip(period.inquiries, period.facts, strict=True):
        step = replayer.step(inquiry, fact)
        report.status_changes += len(step.status_changed)
        logged.update(step.status_changed)
        report.inquiries += 1
        real = period.real_owner(inquiry)
        if real is not None:
            report.real[real] += 1
            real_owner[inquiry.id] = real
        decision, agent_id = step.decision, step.agent_id
        members = {e.agent_id for e in decision.eligible} | {n.agent_id for n in decision.not_eligible}
        report.unlogged.update(members - logged)
        for n in decision.not_eligible:
            if n.reason in STATUS_WORDS:
                report.refused_for_status[STATUS_WORDS[n.reason]] += 1
        report.simulated_offers += decision.offer is not None
        if agent_id is None:
            report.simulated_pool[decision.pool or "common"] += 1
            report.changed += real is not None
            continue
        report.simulated[agent_id] += 1
        report.changed += agent_id != real
        snapshot = replayer.hold(agent_id, inquiry, fact.channel)
        report.peak[agent_id] = max(report.peak[agent_id], snapshot.total_load)
    report.real_escalations = len(period.escalations)
    for inquiry_id in period.escalations:
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
