"""The what-if replay's engine, shared by ``hub simulate`` (routing/cli.py) and the replay page
(routing/replay.py): the period's stored inquiries and the company's current agents read once, then each
inquiry decided in order through ``decide`` with the agents in the state the log shows for them at the
inquiry's time (an agent with nothing logged yet counts as available), each simulated assignment holding the
agent's load until the inquiry really closed. Nothing is written.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from routing.agents import AgentDirectory
from routing.calendar import WorkCalendar
from routing.decide import decide
from routing.model import STATUSES, AgentSnapshot, Decision, InquiryFacts
from routing.rules import RuleSet
from routing.strategies import RoutingState

FACTS_BATCH = 500


@dataclass
class Period:
    """What the replay reads of the database for ``start``..``end`` (company dates, inclusive)."""

    since: datetime
    until: datetime
    directory: AgentDirectory  # today's agents, all available and unloaded: the log sets their states
    inquiries: list[Any]  # crm_core.models.Inquiry, in the order they were created
    facts: list[InquiryFacts]
    first_agent: dict[int, int]  # inquiry → the agent routing gave it first (when it has no owner now)
    escalations: list[int]  # the inquiry of each real SLA step (an inquiry moved twice is there twice)
    spans: list[tuple[int, str, datetime]] = field(default_factory=list)  # (agent, state, since)

    def real_owner(self, inquiry: Any) -> int | None:  # noqa: ANN401 - crm_core.models.Inquiry
        return inquiry.owner_id or self.first_agent.get(inquiry.id)


async def load_period(s: AsyncSession, work: WorkCalendar, start: date, end: date,
                      limit: int | None = None) -> Period:
    """Raises ``ValueError("too_many")`` when the period holds more than ``limit`` inquiries."""
    from crm_core.models import Inquiry, InquiryEvent, RoutingDecision
    from crm_core.models.agent_states import AgentStateSpan
    from routing.queries import agent_directory, inquiry_facts_many

    since = datetime.combine(start, time(0), work.zone)
    until = datetime.combine(end + timedelta(days=1), time(0), work.zone)
    live = await agent_directory(s, work)
    directory = AgentDirectory(
        [type(a)(a.id, department_id=a.department_id, team_ids=a.team_ids, skills=a.skills,
                 languages=a.languages, status="available", load={}, capacity=dict(a.capacity),
                 duty_schedule_id=a.duty_schedule_id) for a in live.by_id.values()],
        live.schedules, work.calendar)
    period = select(Inquiry).where(Inquiry.created_at >= since, Inquiry.created_at < until) \
        .order_by(Inquiry.created_at, Inquiry.id)
    if limit is not None:
        period = period.limit(limit + 1)
    inquiries = list((await s.execute(period)).scalars().all())
    if limit is not None and len(inquiries) > limit:
        raise ValueError("too_many")
    ids = [i.id for i in inquiries]
    first_agent = dict((await s.execute(select(RoutingDecision.inquiry_id, RoutingDecision.agent_id)
                                        .where(RoutingDecision.inquiry_id.in_(ids))
                                        .order_by(RoutingDecision.id.desc()))).all())
    escalations = list((await s.execute(select(InquiryEvent.inquiry_id).where(
        InquiryEvent.kind == "sla", InquiryEvent.inquiry_id.in_(ids)))).scalars().all())
    spans = [tuple(r) for r in (await s.execute(
        select(AgentStateSpan.user_id, AgentStateSpan.status, AgentStateSpan.started_at)
        .where(AgentStateSpan.user_id.in_(list(directory.by_id)), AgentStateSpan.started_at < until,
               or_(AgentStateSpan.ended_at.is_(None), AgentStateSpan.ended_at > since))
        .order_by(AgentStateSpan.started_at, AgentStateSpan.id))).all()]
    facts: list[InquiryFacts] = []
    for n in range(0, len(inquiries), FACTS_BATCH):
        facts += await inquiry_facts_many(s, inquiries[n:n + FACTS_BATCH])
    return Period(since, until, directory, inquiries, facts, first_agent, escalations, spans)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Step:
    decision: Decision
    agent_id: int | None  # the agent chosen; for a team offer, the least loaded of the group (as if taken)
    status_changed: tuple[int, ...]  # agents whose logged state was replayed before this inquiry


class Replayer:
    """The period's inquiries, one ``step`` each, in order; ``hold`` gives the chosen agent the load."""

    def __init__(self, period: Period, rules: RuleSet, work: WorkCalendar) -> None:
        self.period, self.rules, self.work = period, rules, work
        self.directory = period.directory
        self.state = RoutingState()
        self._changes = [(max(started, period.since), n, uid, str(status))
                         for n, (uid, status, started) in enumerate(period.spans)]
        heapq.heapify(self._changes)
        self._open: list[tuple[datetime, int, int, str]] = []  # (closes at, inquiry, agent, channel)

    def step(self, inquiry: Any, fact: InquiryFacts) -> Step:  # noqa: ANN401 - crm_core.models.Inquiry
        now = inquiry.created_at
        changed: list[int] = []
        while self._changes and self._changes[0][0] <= now:
            _, _, uid, status = heapq.heappop(self._changes)
            if status in STATUSES:
                self.directory.set_status(uid, status)  # type: ignore[arg-type]
                changed.append(uid)
        while self._open and self._open[0][0] <= now:
            _, _, uid, channel = heapq.heappop(self._open)
            self.directory.add_load(uid, channel, -1)
        decision = decide(fact, self.directory, self.rules, now, self.state, zone=self.work.zone)
        self.state.apply(decision)
        agent_id = decision.agent_id
        if decision.offer is not None:
            seen = [e for e in decision.eligible if e.agent_id in decision.offer.agent_ids]
            agent_id = min(seen, key=lambda e: (e.load / e.capacity, e.total_load, e.agent_id)).agent_id
        return Step(decision, agent_id, tuple(changed))

    def hold(self, agent_id: int, inquiry: Any, channel: str) -> AgentSnapshot:  # noqa: ANN401
        """The agent carries the inquiry until it really closed (or to the end, when it is still open)."""
        snapshot = self.directory.add_load(agent_id, channel, 1)
        closes = inquiry.closed_at or datetime.max.replace(tzinfo=inquiry.created_at.tzinfo)
        heapq.heappush(self._open, (closes, inquiry.id, agent_id, channel))
        return snapshot
