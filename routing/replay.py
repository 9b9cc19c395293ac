"""The what-if replay behind the page: the inquiries of a period replayed through a draft of the rules, with a
progress callback, a stop flag, and per inquiry what would have changed.

Like ``hub simulate`` (routing/cli.py) each inquiry is decided in order, by the company's current agents in
the state the log shows for them at the inquiry's time, each simulated assignment holding the agent's load
until the inquiry really closed. On top of the counts per agent and per department, it estimates the SLA
breaches the draft would have caused, for the channels that must be accepted in time (the agency's
``accept_channels``): an inquiry the draft sends to a pool with nobody chosen is a breach; one given to an
agent is a breach when that agent's usual time to accept (their median over the period, else the inquiry's
own real time) is over the threshold, the rule's own SLA override or the agency's. Nothing is written.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from routing.calendar import WorkCalendar
from routing.replay_engine import Replayer, load_period
from routing.rules import RuleSet
from routing.sla import SlaConfig

MAX_INQUIRIES = 200_000  # a longer period is refused by the page: pick a shorter one
MAX_MOVED_LISTED = 500


class Stopped(Exception):
    """The replay was interrupted; no partial result is kept."""


@dataclass(frozen=True, slots=True)
class Moved:
    inquiry_id: int
    created_at: datetime
    channel: str
    real_agent: int | None
    simulated_agent: int | None
    simulated_pool: str | None
    rule_id: str


@dataclass
class ReplayResult:
    inquiries: int = 0
    real: Counter = field(default_factory=Counter)  # agent → inquiries really given
    simulated: Counter = field(default_factory=Counter)  # agent → inquiries the draft gives
    real_departments: Counter = field(default_factory=Counter)  # department (of the agent) → real
    simulated_departments: Counter = field(default_factory=Counter)
    pools: Counter = field(default_factory=Counter)  # pool → inquiries sent there with nobody chosen
    real_breaches: int = 0  # real SLA escalations of these inquiries
    simulated_breaches: int = 0  # the estimate for the draft
    breaches_by_agent: Counter = field(default_factory=Counter)
    moved: list[Moved] = field(default_factory=list)  # the inquiries that would have gone elsewhere
    moved_total: int = 0
    names: dict[int, str] = field(default_factory=dict)
    department_names: dict[int, str] = field(default_factory=dict)
    agent_department: dict[int, int | None] = field(default_factory=dict)


Progress = Callable[[int, int], None]


async def replay_draft(sessions: async_sessionmaker[AsyncSession], rules: RuleSet, start: date, end: date,
                       work: WorkCalendar, sla: SlaConfig, progress: Progress | None = None,
                       stopped: Callable[[], bool] | None = None) -> ReplayResult:
    from crm_core.models import Department, User

    out = ReplayResult()
    async with sessions() as s:
        period = await load_period(s, work, start, end, limit=MAX_INQUIRIES)
        for uid, name, dep in (await s.execute(select(User.id, User.full_name, User.department_id))).all():
            out.names[uid], out.agent_department[uid] = name, dep
        out.department_names = dict((await s.execute(select(Department.id, Department.name))).all())
    inquiries, escalated = period.inquiries, set(period.escalations)
    accept_delay: dict[int, list[float]] = {}
    for i in inquiries:
        owner = period.real_owner(i)
        if owner is not None and i.accepted_at is not None and i.channel in sla.accept_channels:
            accept_delay.setdefault(owner, []).append(work.working_hours_between(i.created_at, i.accepted_at))
    usual = {a: statistics.median(v) for a, v in accept_delay.items()}
    replayer = Replayer(period, rules, work)
    total = len(inquiries)
    for done, (inquiry, fact) in enumerate(zip(inquiries, period.facts, strict=True)):
        if stopped is not None and stopped():
            raise Stopped()
        if progress is not None and done % 200 == 0:
            progress(done, total)
        step = replayer.step(inquiry, fact)
        decision, agent_id = step.decision, step.agent_id
        out.inquiries += 1
        real = period.real_owner(inquiry)
        if real is not None:
            out.real[real] += 1
            out.real_departments[out.agent_department.get(real)] += 1
        if inquiry.id in escalated:
            out.real_breaches += 1
        if _breach(inquiry, agent_id, rules, decision.rule_id, work, sla, usual):
            out.simulated_breaches += 1
            if agent_id is not None:
                out.breaches_by_agent[agent_id] += 1
        if agent_id is None:
            out.pools[decision.pool or "common"] += 1
        else:
            out.simulated[agent_id] += 1
            out.simulated_departments[out.agent_department.get(agent_id)] += 1
            replayer.hold(agent_id, inquiry, fact.channel)
        if agent_id != real:
            out.moved_total += 1
            if len(out.moved) < MAX_MOVED_LISTED:
                out.moved.append(Moved(inquiry.id, inquiry.created_at, str(inquiry.channel), real, agent_id,
                                       None if agent_id is not None else decision.pool or "common", decision.rule_id))
    if progress is not None:
        progress(total, total)
    return out


def _breach(inquiry, agent_id: int | None, rules: RuleSet, rule_id: str, work: WorkCalendar,  # noqa: ANN001
            sla: SlaConfig, usual: dict[int, float]) -> bool:
    if inquiry.channel not in sla.accept_channels:
        return False
    if agent_id is None:
        return True
    rule = rules.by_id.get(rule_id)
    limit = dict(rule.sla).get("accept_within_hours", sla.accept_within_hours) if rule else sla.accept_within_hours
    delay = usual.get(agent_id)
    if delay is None and inquiry.accepted_at is not None:
        delay = work.working_hours_between(inquiry.created_at, inquiry.accepted_at)
    return delay is not None and delay > limit
