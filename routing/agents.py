"""The agents as routing sees them, indexed by department, team and skill, with duty looked up once a minute.

The hub keeps one ``AgentDirectory`` up to date as statuses and loads change (``update``, ``add_load``,
``set_status``: each O(1) unless the agent changes department, teams or skills). ``decide`` then visits only
the members of the matched rule's target, never the whole company, and for each member reads a verdict
prepared when the agent's snapshot came in: refused for status or load on this channel (with the reason
already written), or open, with what the inquiry-dependent checks need.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime

from routing.calendar import ProductionCalendar
from routing.duty import DutySchedule
from routing.match import Target
from routing.model import CHANNELS, AgentSeen, AgentSnapshot, AgentStatus, NotEligible

STATUS_REASON = {"break": "on break", "wrap_up": "in wrap-up", "on_call": "on a call", "offline": "offline"}
# per channel, an agent is either refused for their status or load, or open to the inquiry-dependent checks
Open = tuple[AgentSeen, frozenset[str], frozenset[str], str | None]  # seen, skills, languages, duty schedule


class AgentDirectory:
    def __init__(
        self,
        agents: Iterable[AgentSnapshot],
        schedules: Mapping[str, DutySchedule] | None = None,
        calendar: ProductionCalendar | None = None,
    ) -> None:
        self.by_id: dict[int, AgentSnapshot] = {}
        self.refused: dict[str, dict[int, NotEligible]] = {c: {} for c in CHANNELS}
        self.open: dict[str, dict[int, Open]] = {c: {} for c in CHANNELS}
        for agent in agents:
            if agent.id in self.by_id:
                raise ValueError(f"agent {agent.id} appears twice in the snapshot")
            self.by_id[agent.id] = agent
            self._verdicts(agent)
        self.schedules = dict(schedules or {})
        self.calendar = calendar
        self._duty_minute = -1
        self._duty: dict[str, bool] = {}
        self._reindex()

    def _reindex(self) -> None:
        departments: dict[int, list[int]] = {}
        teams: dict[int, list[int]] = {}
        skills: dict[str, set[int]] = {}
        for agent in self.by_id.values():
            if agent.department_id is not None:
                departments.setdefault(agent.department_id, []).append(agent.id)
            for team in agent.team_ids:
                teams.setdefault(team, []).append(agent.id)
            for skill in agent.skills:
                skills.setdefault(skill, set()).add(agent.id)
        self.departments = {k: tuple(sorted(v)) for k, v in departments.items()}
        self.teams = {k: tuple(sorted(v)) for k, v in teams.items()}
        self.skills = {k: frozenset(v) for k, v in skills.items()}
        self._members: dict[tuple[int, int | None], tuple[Target, tuple[int, ...]]] = {}

    def __len__(self) -> int:
        return len(self.by_id)

    def get(self, agent_id: int) -> AgentSnapshot | None:
        return self.by_id.get(agent_id)

    def _verdicts(self, agent: AgentSnapshot) -> None:
        i = agent.id
        if agent.status != "available":
            refusal = NotEligible(i, STATUS_REASON[agent.status])
            for channel in CHANNELS:
                self.refused[channel][i] = refusal
                self.open[channel].pop(i, None)
            return
        for channel in CHANNELS:
            load, cap = agent.load.get(channel, 0), agent.capacity[channel]
            if load >= cap:
                self.refused[channel][i] = NotEligible(i, f"at capacity {channel} {load}/{cap}")
                self.open[channel].pop(i, None)
            else:
                seen = AgentSeen(i, agent.status, load, cap, agent.total_load)
                self.open[channel][i] = (seen, agent.skills, agent.languages, agent.duty_schedule_id)
                self.refused[channel].pop(i, None)

    def update(self, agent: AgentSnapshot) -> None:
        """Put in the agent's new snapshot (status, load, capacity, schedule, or a new agent)."""
        old = self.by_id.get(agent.id)
        self.by_id[agent.id] = agent
        self._verdicts(agent)
        if old is None or (old.department_id, old.team_ids, old.skills) != (
                agent.department_id, agent.team_ids, agent.skills):
            self._reindex()

    def remove(self, agent_id: int) -> None:
        if self.by_id.pop(agent_id, None) is not None:
            for channel in CHANNELS:
                self.refused[channel].pop(agent_id, None)
                self.open[channel].pop(agent_id, None)
            self._reindex()

    def add_load(self, agent_id: int, channel: str, delta: int = 1) -> AgentSnapshot:
        agent = self.by_id[agent_id]
        load = dict(agent.load)
        load[channel] = max(0, load.get(channel, 0) + delta)
        new = replace(agent, load=load)
        self.update(new)
        return new

    def set_status(self, agent_id: int, status: AgentStatus) -> AgentSnapshot:
        new = replace(self.by_id[agent_id], status=status)
        self.update(new)
        return new

    def members(self, target: Target, department_id: int | None) -> tuple[int, ...]:
        """The ids of everyone a rule's target names, ascending (unknown agent ids included)."""
        if not (target.agents or target.teams or target.skills):
            if target.inquiry_department and not target.departments:
                return self.departments.get(department_id, ()) if department_id is not None else ()
            if len(target.departments) == 1 and not target.inquiry_department:
                return self.departments.get(target.departments[0], ())
        elif len(target.teams) == 1 and not (target.agents or target.skills or target.departments
                                               or target.inquiry_department):
            return self.teams.get(target.teams[0], ())
        key = (id(target), department_id if target.inquiry_department else None)
        cached = self._members.get(key)
        if cached is not None and cached[0] is target:
            return cached[1]
        ids: set[int] = set(target.agents)
        for team in target.teams:
            ids.update(self.teams.get(team, ()))
        for department in target.departments:
            ids.update(self.departments.get(department, ()))
        if target.inquiry_department and department_id is not None:
            ids.update(self.departments.get(department_id, ()))
        if target.skills:
            holders = [self.skills.get(s, frozenset()) for s in target.skills]
            ids.update(frozenset.intersection(*holders))
        result = tuple(sorted(ids))
        if len(self._members) > 10_000:
            self._members.clear()
        self._members[key] = (target, result)
        return result

    def duty_at(self, now: datetime) -> dict[str, bool]:
        """Schedule id → on duty at ``now``, for the schedules asked so far this minute (fill the gaps with
        ``on_duty``). Rota intervals are whole minutes, so the answers hold for the whole minute."""
        minute = int(now.timestamp()) // 60
        if minute != self._duty_minute:
            self._duty_minute = minute
            self._duty = {}
        return self._duty

    def on_duty(self, schedule_id: str, now: datetime) -> bool | None:
        """Whether the schedule has ``now`` on duty (None: no such schedule)."""
        known = self.duty_at(now)
        cached = known.get(schedule_id)
        if cached is None:
            schedule = self.schedules.get(schedule_id)
            if schedule is None:
                return None
            cached = known[schedule_id] = schedule.on_duty(now, self.calendar)
        return cached
