"""``decide``: who gets an inquiry, as a pure function of the inquiry, the agents, the rules, the time and
the routing state. No I/O; the caller stores the ``Decision`` and applies ``decision.state_update``.

The order of things:

1. the rules that match, first by priority (the bitmask index; the default rule always matches);
2. the property's agent first: if the first matching rule that asks for it (``property_agent_first``) finds the
   inquiry is about a property whose agent is eligible, that agent; then owner first: if the first matching
   rule is sticky and the client has an owner who is eligible, the owner;
3. a pool target sends the inquiry straight to the department's or the common pool;
4. otherwise the target's members are screened (status, capacity for the channel, skills, language, duty,
   the caller's exclusions); the rule's strategy picks among the eligible, or makes a team-claim offer;
5. nobody eligible: the next matching rule (``on_no_agent = "next_rule"``) or a pool.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from routing.agents import AgentDirectory
from routing.match import CompiledRule
from routing.model import AgentSeen, Decision, InquiryFacts, NotEligible, Offer, RuleTried
from routing.rules import RuleSet
from routing.strategies import (
    RoutingState,
    even_spread,
    least_loaded,
    offer_deadline,
    random_pick,
    round_robin,
)

MOSCOW = ZoneInfo("Europe/Moscow")

Members = Callable[[CompiledRule, InquiryFacts], Iterable[int]]


def decide(
    inquiry: InquiryFacts,
    agents: AgentDirectory,
    rules: RuleSet,
    now: datetime,
    state: RoutingState,
    *,
    exclude: Collection[int] | Mapping[int, str] = (),
    offer_expired: bool = False,
    zone: ZoneInfo = MOSCOW,
) -> Decision:
    """Decide where ``inquiry`` goes.

    ``exclude``: agents who must not get it this time (they refused it, or went offline while it was
    offered); a mapping gives the reason shown. ``offer_expired``: a team-claim offer for it ran out, so
    the rule's ``offer_on_timeout`` applies instead of a new offer. ``zone``: the company's time zone
    (even spread counts per local day, week or month).
    """
    matching = _matching(rules, inquiry)
    return _decide(inquiry, agents, matching, now, state, exclude, offer_expired, zone,
                   lambda rule, inq: agents.members(rule.target, inq.department_id))


def _matching(rules: RuleSet, inquiry: InquiryFacts) -> Iterable[CompiledRule]:
    mask = rules.index.mask(inquiry)
    ordered = rules.rules
    while mask:
        low = mask & -mask
        yield ordered[low.bit_length() - 1]
        mask ^= low


def _decide(
    inquiry: InquiryFacts,
    agents: AgentDirectory,
    matching: Iterable[CompiledRule],
    now: datetime,
    state: RoutingState,
    exclude: Collection[int] | Mapping[int, str],
    offer_expired: bool,
    zone: ZoneInfo,
    members: Members,
) -> Decision:
    """The decision given the matching rules in order and a way to list a rule's members (shared by the
    indexed ``decide`` and the naive reference scan)."""
    tried: list[RuleTried] = []
    rejected: list[NotEligible] = []
    first: list[NotEligible] = []  # the property's agent's and the owner's refusals, shown first
    agent_checked = owner_checked = False
    for rule in matching:
        if not agent_checked and rule.property_agent_first and inquiry.property_agent_id is not None:
            agent_checked = True
            seen, refusal = _first_try(inquiry.property_agent_id, agents, inquiry, rule, now, exclude)
            if seen is not None:
                return Decision(inquiry.id, now, rule.id, rule.name, "property_agent_first", agent_id=seen.agent_id,
                                department_id=inquiry.department_id, eligible=(seen,), rules_tried=tuple(tried))
            assert refusal is not None
            first.append(refusal)
        if not owner_checked and rule.owner_first and inquiry.client_owner_id is not None:
            owner_checked = True
            seen, refusal = _first_try(inquiry.client_owner_id, agents, inquiry, rule, now, exclude)
            if seen is not None:
                return Decision(inquiry.id, now, rule.id, rule.name, "owner_first", agent_id=seen.agent_id,
                                department_id=inquiry.department_id, eligible=(seen,),
                                rules_tried=tuple(tried), note="the client's owner")
            assert refusal is not None
            if refusal.agent_id != inquiry.property_agent_id or not agent_checked:
                first.append(NotEligible(refusal.agent_id, f"client's owner: {refusal.reason}"))
        if rule.target.pool is not None:
            return _to_pool(inquiry, now, rule, rule.target.pool, _explain(rejected, [], tried, first),
                            tried, "the rule sends it to the pool")
        if offer_expired and rule.strategy == "team_claim" and rule.offer_on_timeout != "least_loaded":
            pool = "common" if rule.offer_on_timeout == "common_pool" else "department"
            return _to_pool(inquiry, now, rule, pool, _explain(rejected, [], tried, first), tried,
                            "nobody claimed the offer in time")
        eligible: list[AgentSeen] = []
        ids = members(rule, inquiry)
        before = len(rejected)
        screen(ids, agents, inquiry, rule, now, exclude, eligible, rejected)
        if eligible:
            return _pick(inquiry, now, rule, state, zone, eligible, _explain(rejected, eligible, tried, first),
                         tried, offer_expired)
        tried.append(RuleTried(rule.id, len(rejected) - before))
        if rule.on_no_agent != "next_rule":
            pool = "common" if rule.on_no_agent == "common_pool" else "department"
            return _to_pool(inquiry, now, rule, pool, _explain(rejected, [], tried, first), tried,
                            "nobody in the target is eligible")
    raise AssertionError("the default rule always matches")  # pragma: no cover


def _first_try(
    agent_id: int,
    agents: AgentDirectory,
    inquiry: InquiryFacts,
    rule: CompiledRule,
    now: datetime,
    exclude: Collection[int] | Mapping[int, str],
) -> tuple[AgentSeen | None, NotEligible | None]:
    """One agent tried before the rule's strategy (the property's agent, the client's owner): seen when
    eligible by the usual checks, else the reason they are not."""
    ok: list[AgentSeen] = []
    no: list[NotEligible] = []
    screen((agent_id,), agents, inquiry, rule, now, exclude, ok, no)
    return (ok[0], None) if ok else (None, no[0])


def screen(
    ids: Iterable[int],
    agents: AgentDirectory,
    inquiry: InquiryFacts,
    rule: CompiledRule,
    now: datetime,
    exclude: Collection[int] | Mapping[int, str],
    eligible: list[AgentSeen],
    rejected: list[NotEligible],
) -> None:
    """Sort ``ids`` into the eligible (with the load and status seen) and the rest (with the reason).

    Status and capacity for the channel were judged when each agent's snapshot came in; here only what
    depends on this inquiry and this minute: skills, language, duty, the caller's exclusions."""
    refused = agents.refused[inquiry.channel]
    open_ = agents.open[inquiry.channel]
    need = inquiry.required_skills | rule.target.require_skills if rule.target.require_skills else \
        inquiry.required_skills
    language = inquiry.language
    duty = agents.duty_at(now)
    add_ok, add_no = eligible.append, rejected.append
    for i in ids:
        no = refused.get(i)
        if no is not None:
            add_no(no)
            continue
        entry = open_.get(i)
        if entry is None:
            add_no(NotEligible(i, "unknown agent"))
            continue
        seen, skills, languages, schedule = entry
        if need and not need <= skills:
            add_no(NotEligible(i, "missing skill " + ", ".join(sorted(need - skills))))
            continue
        if language is not None and language not in languages:
            add_no(NotEligible(i, f"does not speak {language}"))
            continue
        if schedule is not None:
            on = duty.get(schedule)
            if on is None:
                on = agents.on_duty(schedule, now)
            if not on:
                add_no(NotEligible(i, "off duty" if on is False else f"unknown duty schedule {schedule!r}"))
                continue
        if exclude and i in exclude:
            reason = exclude[i] if isinstance(exclude, Mapping) else "excluded (refused or re-routed)"
            add_no(NotEligible(i, reason))
            continue
        add_ok(seen)


def _pick(
    inquiry: InquiryFacts,
    now: datetime,
    rule: CompiledRule,
    state: RoutingState,
    zone: ZoneInfo,
    eligible: list[AgentSeen],
    rejected: tuple[NotEligible, ...],
    tried: list[RuleTried],
    offer_expired: bool,
) -> Decision:
    strategy = rule.strategy
    update = None
    note = ""
    if strategy == "team_claim":
        if not offer_expired:
            offer = Offer(tuple(s.agent_id for s in eligible), offer_deadline(now, rule.offer_seconds),
                          rule.offer_on_timeout)
            return Decision(inquiry.id, now, rule.id, rule.name, strategy, offer=offer,
                            department_id=inquiry.department_id, eligible=tuple(eligible), not_eligible=rejected,
                            rules_tried=tuple(tried), note="offered to the group: the first to claim gets it")
        chosen, strategy, note = least_loaded(eligible), "least_loaded", "nobody claimed the offer in time"
    elif strategy == "least_loaded":
        chosen = least_loaded(eligible)
    elif strategy == "round_robin":
        chosen, update = round_robin(eligible, rule.id, state)
    elif strategy == "even_spread":
        chosen, update = even_spread(eligible, rule.id, now, rule.spread_period, zone, state)
    else:
        chosen = random_pick(eligible, rule.id, inquiry.id, state)
    return Decision(inquiry.id, now, rule.id, rule.name, strategy, agent_id=chosen.agent_id,
                    department_id=inquiry.department_id, eligible=tuple(eligible), not_eligible=rejected,
                    rules_tried=tuple(tried), note=note, state_update=update)


def _to_pool(
    inquiry: InquiryFacts,
    now: datetime,
    rule: CompiledRule,
    pool: str,
    rejected: tuple[NotEligible, ...],
    tried: list[RuleTried],
    note: str,
) -> Decision:
    if pool == "department" and inquiry.department_id is None:
        pool, note = "common", note + "; the inquiry has no department, so the common pool"
    return Decision(inquiry.id, now, rule.id, rule.name, "pool", pool=pool,  # type: ignore[arg-type]
                    department_id=inquiry.department_id if pool == "department" else None,
                    not_eligible=rejected, rules_tried=tuple(tried), note=note)


def _explain(rejected: list[NotEligible], eligible: list[AgentSeen], tried: list[RuleTried],
             first: list[NotEligible]) -> tuple[NotEligible, ...]:
    """Who was not eligible, each agent once: the property's agent's and the owner's refusals first, the first
    reason when several rules were tried, nobody whom a later rule found eligible."""
    if tried:
        return _once([*first, *rejected] if first else rejected, eligible)
    if not first:
        return tuple(rejected)
    # one rule: ``rejected`` is in ascending id order, so a first refusal's plain entry is found by bisection
    rest: list[NotEligible] | tuple[NotEligible, ...] = rejected
    for refusal in first:
        at = bisect_left(rest, refusal.agent_id, key=_agent_id)
        if at < len(rest) and rest[at].agent_id == refusal.agent_id:
            rest = [*rest[:at], *rest[at + 1:]]
    return (*first, *rest)


def _agent_id(entry: NotEligible) -> int:
    return entry[0]


def _once(rejected: list[NotEligible], eligible: list[AgentSeen]) -> tuple[NotEligible, ...]:
    """Each agent once (the first reason), and not at all when a later rule found them eligible."""
    seen = {s.agent_id for s in eligible}
    out = []
    for n in rejected:
        if n.agent_id not in seen:
            seen.add(n.agent_id)
            out.append(n)
    return tuple(out)
