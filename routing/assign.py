"""A decision written: the inquiry moved by a conditional update (only if nobody took it meanwhile), then
the decision with its explanation, the team offer's rows and the inquiry's history, for one inquiry or a
batch in one go: one statement per kind of row for the whole batch (set-based), whatever its size.
``Routed`` is what the routing service announces afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.db import insert_returning_ids
from crm_core.models import Inquiry, InquiryEvent, InquiryStatus, Pool, RoutingDecision, User
from crm_core.models.routing import TeamOffer, offer_agents
from routing.directory_cache import DirectoryCache
from routing.model import AgentSeen, Decision, NotEligible

EXPLAINED_AGENTS = 25
"""At most this many eligible and this many refused agents are listed in a stored explanation (the rest are
counted): the chosen one, the least loaded others, the first refusals."""


@dataclass(frozen=True, slots=True)
class Routed:
    inquiry_id: int
    decision_id: int
    outcome: str  # agent | pool | offer
    agent_id: int | None
    pool: str | None
    offer_id: int | None
    channel: str = ""
    subject: str = ""


class Abort(Exception):
    """Undo the transaction: the inquiry changed under us (claimed, closed) between reading and writing."""


async def write_decisions(s: AsyncSession, cache: DirectoryCache | None, pairs: Sequence[tuple[Inquiry, Decision]],
                          now: datetime, why: str) -> list[Routed | None]:
    """Write the decisions: each inquiry moved by a conditional update (None where it changed under us),
    then the decisions, offers and history rows of all of them together."""
    shown = {id(d): d.shown(EXPLAINED_AGENTS) for _, d in pairs}
    names = await _decision_names(s, [_named(d, shown[id(d)]) for _, d in pairs])
    departments = await _agent_departments(s, cache, {d.agent_id for i, d in pairs
                                                      if d.agent_id is not None and i.department_id is None})
    moved = await _move(s, pairs, now, departments)
    won: list[tuple[Inquiry, Decision, dict[str, Any]]] = []
    for inquiry, decision in pairs:
        if inquiry.id not in moved:
            continue
        explanation = decision.to_dict(shown[id(decision)])
        explanation["summary"] = summary(decision, names)
        explanation["names"] = {str(k): names[k] for k in _named(decision, shown[id(decision)]) if k in names}
        explanation["why"] = why
        won.append((inquiry, decision, explanation))
    routed: dict[int, Routed] = {}
    if won:
        decision_ids = await insert_returning_ids(s, RoutingDecision, [
            {"inquiry_id": i.id, "at": now, "agent_id": d.agent_id,
             "pool": d.pool or ("offer" if d.offer else None), "rule": d.rule_name[:200],
             "strategy": d.strategy, "explanation": e} for i, d, e in won])
        offers = await _write_offers(s, [(i.id, d) for i, d, _ in won if d.offer is not None], now)
        events = []
        for (inquiry, decision, explanation), decision_id in zip(won, decision_ids, strict=True):
            offer_id = offers.get(inquiry.id)
            events.append({"inquiry_id": inquiry.id, "at": now, "kind": "routed", "note": explanation["summary"],
                           "data": {"decision_id": decision_id, "why": why}})
            routed[inquiry.id] = Routed(inquiry.id, decision_id, decision.outcome, decision.agent_id,
                                        decision.pool, offer_id, str(inquiry.channel), inquiry.subject or "")
        await s.execute(insert(InquiryEvent), events)
    return [routed.get(inquiry.id) for inquiry, _ in pairs]


async def _decision_names(s: AsyncSession, named: Sequence[set[int]]) -> dict[int, str]:
    ids = set().union(*named)
    return dict((await s.execute(select(User.id, User.full_name).where(User.id.in_(ids)))).all()) if ids else {}


async def _agent_departments(s: AsyncSession, cache: DirectoryCache | None,
                             agent_ids: set[int]) -> dict[int, int | None]:
    """The department an inquiry without one takes from the agent it goes to (the snapshot knows it)."""
    known: dict[int, int | None] = {}
    directory = cache.directory if cache is not None else None
    for agent_id in agent_ids:
        agent = directory.get(agent_id) if directory is not None else None
        if agent is not None:
            known[agent_id] = agent.department_id
    missing = agent_ids - known.keys()
    if missing:
        known.update((await s.execute(select(User.id, User.department_id).where(User.id.in_(missing)))).all())
    return known


async def _move(s: AsyncSession, pairs: Sequence[tuple[Inquiry, Decision]], now: datetime,
                departments: Mapping[int, int | None]) -> set[int]:
    """The inquiries to their agents, offers or pools, each only if it is still as it was read (nobody
    claimed it meanwhile): one UPDATE … RETURNING per kind of outcome. Returns the ids that moved."""
    agents = {i.id: (i, d) for i, d in pairs if d.agent_id is not None}
    offers = {i.id: (i, d) for i, d in pairs if d.agent_id is None and d.offer is not None}
    pools = {i.id: (i, d) for i, d in pairs if d.agent_id is None and d.offer is None}
    moved: set[int] = set()
    if agents:
        moved |= await _update_as_read(
            s, agents, now, owner_id=_per_row(agents, lambda inq, dec: dec.agent_id), status=InquiryStatus.NEW,
            pool=Pool.NONE, accepted_at=None, pool_entered_at=None,
            department_id=_per_row(agents, lambda inq, dec: inq.department_id or departments.get(dec.agent_id)))
    if offers:
        moved |= await _update_as_read(s, offers, now, status=InquiryStatus.OFFERED, pool=Pool.NONE)
    if pools:
        moved |= await _update_as_read(
            s, pools, now, pool=_per_row(pools, lambda inq, dec: dec.pool), status=InquiryStatus.NEW,
            pool_entered_at=now, department_id=_per_row(
                pools, lambda inq, dec: dec.department_id if dec.pool == "department" else inq.department_id))
    return moved


async def _write_offers(s: AsyncSession, offered: Sequence[tuple[int, Decision]], now: datetime) -> dict[int, int]:
    """The team offers of a batch, set-based: their rounds in one query, the offers in one insert, their
    agents in another. Returns inquiry id → offer id."""
    if not offered:
        return {}
    inquiry_ids = [inquiry_id for inquiry_id, _ in offered]
    rounds = dict((await s.execute(select(TeamOffer.inquiry_id, func.count()).where(
        TeamOffer.inquiry_id.in_(inquiry_ids)).group_by(TeamOffer.inquiry_id))).all())
    rows = []
    for inquiry_id, decision in offered:
        assert decision.offer is not None
        rows.append({"inquiry_id": inquiry_id, "round": rounds.get(inquiry_id, 0) + 1, "rule_key": decision.rule_id,
                     "created_at": now, "deadline": decision.offer.deadline, "on_timeout": decision.offer.on_timeout,
                     "state": "open"})
    offer_ids = await insert_returning_ids(s, TeamOffer, rows)
    members = [{"offer_id": offer_id, "user_id": agent_id}
               for offer_id, (_, decision) in zip(offer_ids, offered, strict=True)
               for agent_id in (decision.offer.agent_ids if decision.offer is not None else ())]
    if members:
        await s.execute(insert(offer_agents), members)
    return dict(zip(inquiry_ids, offer_ids, strict=True))


def summary(decision: Decision, names: Mapping[int, str]) -> str:
    """One line for the inquiry page: who or where, by which rule and strategy, among how many."""
    if decision.agent_id is not None:
        who = names.get(decision.agent_id, f"#{decision.agent_id}")
        seen = next((s for s in decision.eligible if s.agent_id == decision.agent_id), None)
        load = f", загрузка {seen.load}/{seen.capacity}" if seen else ""
        how = "агент объекта первым" if decision.strategy == "property_agent_first" else decision.strategy
        text = f"{who}: правило «{decision.rule_name}», {how}{load}; " \
               f"подходили {len(decision.eligible)}, не подходили {len(decision.not_eligible)}"
    elif decision.offer is not None:
        text = f"предложено группе ({len(decision.offer.agent_ids)}) по правилу «{decision.rule_name}»"
    else:
        text = f"в {'аукцион отдела' if decision.pool == 'department' else 'общий аукцион'} по правилу " \
               f"«{decision.rule_name}»"
    return text + (f" — {decision.note}" if decision.note else "")


async def _update_as_read(s: AsyncSession, group: Mapping[int, tuple[Inquiry, Decision]], now: datetime,
                          **values: Any) -> set[int]:
    """UPDATE the group's inquiries that are still ownerless and in the status and pool they were read in."""
    as_read = tuple_(Inquiry.id, Inquiry.status, Inquiry.pool).in_(
        [(i.id, str(i.status), str(i.pool)) for i, _ in group.values()])
    return set((await s.execute(
        update(Inquiry).where(as_read, Inquiry.owner_id.is_(None)).values(**values, updated_at=now)
        .returning(Inquiry.id).execution_options(synchronize_session=False))).scalars())


def _per_row(group: Mapping[int, tuple[Inquiry, Decision]], value: Callable[[Inquiry, Decision], Any]) -> Any:
    """A column's new value per inquiry, as one SQL CASE (or the value itself when all rows share it)."""
    values = {inquiry_id: value(i, d) for inquiry_id, (i, d) in group.items()}
    distinct = set(values.values())
    if len(distinct) == 1:
        return distinct.pop()
    return case(values, value=Inquiry.id)


def _named(decision: Decision, shown: tuple[tuple[AgentSeen, ...], tuple[NotEligible, ...]]) -> set[int]:
    """The agents a decision's stored explanation names."""
    eligible, not_eligible = shown
    ids = {a.agent_id for a in eligible} | {n.agent_id for n in not_eligible}
    if decision.agent_id is not None:
        ids.add(decision.agent_id)
    return ids
