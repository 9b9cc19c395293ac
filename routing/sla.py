"""The escalation chain (аукцион): pure functions over an inquiry's stored timestamps and ``now``.

Nothing here sleeps or remembers: the scheduler asks ``next_step`` for each open inquiry, waits until the
step's ``deadline`` (a restart just asks again), and carries out a ``due`` step with a guarded update
(``UPDATE … WHERE pool = step.from_pool AND pool_entered_at IS NOT DISTINCT FROM …``), so that two hub
processes carry it out once. The chain, with this agency's thresholds as the defaults of ``SlaConfig``, in
its order of precedence (docs/sla.md has a worked example of each):

- 3 refusals → archive;
- in the department pool (аукцион отдела) 48 working hours → the common pool (общий аукцион); in the common
  pool 2 months → archive;
- an internet inquiry (email, Telegram, web form) not accepted within 4 working hours → department pool; until
  it is accepted no other rule of the owner's runs;
- a planned date (the agent's, at most 7 days ahead; a department head's, at most 2 months) suspends the
  inactivity rule until that date; no action on the planned day → department pool after 6 working hours
  (calls) or 24 (internet, visit), counted from the planned time;
- otherwise 7 calendar days without an action by a person (not the hub's own moves, not the client's
  messages) → department pool;
- a move that would fall on a non-working day happens at the start of the next working day.

Each step names whom to notify (the agent, the supervisor); the hub resolves them to people.
"""

from __future__ import annotations

import calendar as _calendar
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from routing.calendar import DayKind, WorkCalendar
from routing.model import Channel

PoolState = Literal["none", "department", "common", "archive"]
Action = Literal["to_department_pool", "to_common_pool", "to_archive"]
Reason = Literal["not_accepted", "planned_day_missed", "idle_limit", "department_pool_expired",
                 "common_pool_expired", "refusals"]
Notify = Literal["agent", "supervisor"]
_BOTH: list[Notify] = ["agent", "supervisor"]


def _planned_day_hours() -> dict[Channel, float]:
    return {"call": 6, "email": 24, "telegram": 24, "webform": 24, "visit": 24, "manual": 24, "vk": 24, "whatsapp": 24,
            "avito": 24}


def _notify() -> dict[Reason, list[Notify]]:
    return {"not_accepted": _BOTH, "planned_day_missed": _BOTH, "idle_limit": _BOTH,
            "department_pool_expired": _BOTH, "common_pool_expired": ["supervisor"], "refusals": _BOTH}


class SlaConfig(BaseModel):
    """The agency's escalation thresholds (configuration; these defaults are one agency's set)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    accept_within_hours: float = Field(4, gt=0)  # working hours
    accept_channels: frozenset[Channel] = frozenset({"email", "telegram", "webform", "vk", "whatsapp", "avito"})
    planned_day_hours: dict[Channel, float] = Field(default_factory=_planned_day_hours)  # working hours
    department_pool_hours: float = Field(48, gt=0)  # working hours
    common_pool_months: int = Field(2, gt=0)  # calendar months
    max_refusals: int = Field(3, gt=0)
    max_idle_days: int = Field(7, gt=0)  # calendar days without an action by a person; an agent's planned cap
    head_planned_months: int = Field(2, gt=0)  # how far ahead a department head may plan (calendar months)
    notify: dict[Reason, list[Notify]] = Field(default_factory=_notify)


@dataclass(frozen=True, slots=True)
class InquiryClock:
    """What the escalation needs of an inquiry, all of it stored in the inquiry's row."""

    inquiry_id: int | str
    channel: Channel
    created_at: datetime
    pool: PoolState = "none"
    owner_id: int | None = None
    accepted_at: datetime | None = None
    planned_at: datetime | None = None  # the planned next action (its date is the planned day)
    last_action_at: datetime | None = None  # the last action by a person of the agency
    pool_entered_at: datetime | None = None
    refusals: int = 0
    closed: bool = False


@dataclass(frozen=True, slots=True)
class SlaStep:
    action: Action
    reason: Reason
    deadline: datetime
    due: bool
    from_pool: PoolState  # the pool the inquiry must still be in when the step is carried out
    notify: tuple[Notify, ...]


def next_step(clock: InquiryClock, now: datetime, config: SlaConfig, work: WorkCalendar) -> SlaStep | None:
    """The earliest step still ahead of (or already due for) this inquiry, or None when nothing can happen."""
    if clock.closed or clock.pool == "archive":
        return None
    candidates: list[tuple[datetime, Action, Reason]] = []
    if clock.refusals >= config.max_refusals:
        candidates.append((clock.last_action_at or clock.created_at, "to_archive", "refusals"))
    entered = clock.pool_entered_at or clock.last_action_at or clock.created_at
    if clock.pool == "department":
        candidates.append((work.add_working_hours(entered, config.department_pool_hours),
                           "to_common_pool", "department_pool_expired"))
    elif clock.pool == "common":
        candidates.append((add_months(entered, config.common_pool_months, work),
                           "to_archive", "common_pool_expired"))
    else:
        candidates += _owned_deadlines(clock, config, work)
    if not candidates:
        return None
    deadline, action, reason = min(candidates, key=lambda c: c[0])
    deadline = on_working_day(deadline, work)
    return SlaStep(action, reason, deadline, deadline <= now, clock.pool, tuple(config.notify.get(reason, ())))


def on_working_day(deadline: datetime, work: WorkCalendar) -> datetime:
    """A move that would fall on a non-working day happens at the start of the next working day."""
    if work.day_kind(deadline.astimezone(work.zone).date()) == DayKind.DAY_OFF:
        return work.next_working_time(deadline)
    return deadline


def due_step(clock: InquiryClock, now: datetime, config: SlaConfig, work: WorkCalendar) -> SlaStep | None:
    """The step to carry out now, or None."""
    step = next_step(clock, now, config, work)
    return step if step is not None and step.due else None


def _owned_deadlines(clock: InquiryClock, config: SlaConfig,
                     work: WorkCalendar) -> list[tuple[datetime, Action, Reason]]:
    if clock.accepted_at is None and clock.channel in config.accept_channels:
        # waiting to be accepted: the acceptance deadline alone (the agent has not had the inquiry to act on)
        return [(work.add_working_hours(clock.created_at, config.accept_within_hours),
                 "to_department_pool", "not_accepted")]
    if planned_pending(clock, work):
        assert clock.planned_at is not None
        # the planned date suspends the inactivity rule; missing the planned day has its own deadline
        hours = config.planned_day_hours.get(clock.channel, 24)
        return [(work.add_working_hours(clock.planned_at, hours), "to_department_pool", "planned_day_missed")]
    return [(last_person_action(clock) + timedelta(days=config.max_idle_days), "to_department_pool", "idle_limit")]


def planned_pending(clock: InquiryClock, work: WorkCalendar) -> bool:
    """A planned date is set and nobody has acted since its day began."""
    if clock.planned_at is None:
        return False
    planned_day_start = datetime.combine(clock.planned_at.astimezone(work.zone).date(), time(0), work.zone)
    return clock.last_action_at is None or clock.last_action_at < planned_day_start


def last_person_action(clock: InquiryClock) -> datetime:
    """The last action by a person on the inquiry: taking it, accepting it, or working on it. The scheduler
    fills ``last_action_at`` from the history (lines with an actor, calls an agent answered), so neither the
    hub's own moves nor the client's new messages count."""
    return max(t for t in (clock.created_at, clock.accepted_at, clock.last_action_at) if t is not None)


def latest_planned_at(now: datetime, config: SlaConfig, *, head: bool = False) -> datetime:
    """The latest planned date that may be set at ``now``: an agent's at most the idle limit (7 days) ahead, a
    department head's at most ``head_planned_months`` (2 months)."""
    if head:
        return _months_later(now, config.head_planned_months)
    return now + timedelta(days=config.max_idle_days)


def planned_today(clock: InquiryClock, now: datetime, work: WorkCalendar) -> bool:
    """Highlight the inquiry in the agent's list: today (company time) is its planned day."""
    return clock.planned_at is not None and \
        clock.planned_at.astimezone(work.zone).date() == now.astimezone(work.zone).date()


def after_step(clock: InquiryClock, step: SlaStep, at: datetime | None = None) -> InquiryClock:
    """The inquiry after the step (``at``: when it entered the new pool; the deadline by default, so that a
    late scheduler does not stretch the next period)."""
    entered = at or step.deadline
    pool: PoolState = {"to_department_pool": "department", "to_common_pool": "common",
                       "to_archive": "archive"}[step.action]  # type: ignore[assignment]
    return replace(clock, pool=pool, owner_id=None, accepted_at=None, planned_at=None, pool_entered_at=entered)


def after_claim(clock: InquiryClock, agent_id: int, at: datetime, planned_at: datetime | None = None) -> InquiryClock:
    """An agent took the inquiry (from an offer or a pool): it is theirs, accepted now."""
    return replace(clock, pool="none", owner_id=agent_id, accepted_at=at, last_action_at=at,
                   planned_at=planned_at, pool_entered_at=None)


def after_action(clock: InquiryClock, at: datetime, planned_at: datetime | None = None) -> InquiryClock:
    """The owner did something (called, wrote, met) and set the next planned action."""
    return replace(clock, last_action_at=at, planned_at=planned_at)


def after_refusal(clock: InquiryClock, at: datetime) -> InquiryClock:
    """The agent refused it: one more refusal; routing gives it to the next eligible agent."""
    return replace(clock, refusals=clock.refusals + 1, owner_id=None, accepted_at=None, last_action_at=at)


def add_months(moment: datetime, months: int, work: WorkCalendar) -> datetime:
    """The same wall-clock time ``months`` later in the company's time zone (31 Jan + 1 month = 28/29 Feb)."""
    return _months_later(moment.astimezone(work.zone), months)


def _months_later(local: datetime, months: int) -> datetime:
    index = local.month - 1 + months
    year, month = local.year + index // 12, index % 12 + 1
    day = min(local.day, _calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day)
