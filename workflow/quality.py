"""Quality control: the supervisors' queue of closed inquiries and calls to re-check, checklists the
administrator defines, reviews with a weighted score, per-agent averages for the KPI report, and re-opening
an inquiry (it goes back to routing).

The queue fills itself: each week a share of every agent's closed inquiries and answered calls (the rule's
percent, chosen at random but reproducibly per agent and week), and every call speech analytics flagged.
Who reviews: the department's manager or head (their people's work) and the administrator; a director reads.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from crm_core.access import Actor, Forbidden, NotFound, get_inquiry, staff_scope
from crm_core.models import (
    Call,
    Client,
    Inquiry,
    InquiryEvent,
    InquiryStatus,
    Pool,
    TimelineEntry,
    User,
    utcnow,
)
from crm_core.models.speech import SpeechFlag
from crm_core.models.workflow import QcChecklist, QcItem, WorkflowSetting
from workflow.settings import QcRule

log = logging.getLogger("hub.workflow.quality")
SETTING_KEY = "qc"
CLOSED = (InquiryStatus.DONE, InquiryStatus.ARCHIVED)
Route = Callable[[int, str], Awaitable[object]]


# --- the rule and the checklists ---------------------------------------------------------------------------

async def load_rule(s: AsyncSession, default: QcRule) -> QcRule:
    row = await s.get(WorkflowSetting, SETTING_KEY)
    if row is None:
        return default
    try:
        return QcRule.model_validate(row.value)
    except ValueError:
        return default


async def save_rule(s: AsyncSession, rule: QcRule) -> None:
    row = await s.get(WorkflowSetting, SETTING_KEY)
    if row is None:
        s.add(WorkflowSetting(key=SETTING_KEY, value=rule.model_dump(mode="json"), updated_at=utcnow()))
    else:
        row.value, row.updated_at = rule.model_dump(mode="json"), utcnow()


class ChecklistError(ValueError):
    pass


def parse_items(text: str) -> list[dict]:
    """One item a line, ``weight | text`` (a line without a weight weighs 1)."""
    items = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        weight, sep, label = line.partition("|")
        if not sep:
            weight, label = "1", line
        try:
            w = float(weight.strip().replace(",", "."))
        except ValueError:
            raise ChecklistError(f"weight is not a number: {weight.strip()[:40]}") from None
        if not 0 < w <= 100 or not label.strip():
            raise ChecklistError(f"an item needs a weight from 0 to 100 and a text: {line[:80]}")
        items.append({"key": str(len(items) + 1), "text": label.strip()[:300], "weight": w})
    if not items:
        raise ChecklistError("a checklist needs at least one item")
    if len(items) > 50:
        raise ChecklistError("at most 50 items")
    return items


def format_items(items: list[dict]) -> str:
    return "\n".join(f"{_num(i['weight'])} | {i['text']}" for i in items)


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def score_of(items: list[dict], passed: set[str]) -> float:
    total = sum(float(i["weight"]) for i in items)
    return sum(float(i["weight"]) for i in items if i["key"] in passed) / total if total else 0.0


# --- filling the queue -------------------------------------------------------------------------------------

def week_bounds(now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    local = now.astimezone(zone)
    monday = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    return monday, monday + timedelta(days=7)


async def _add(s: AsyncSession, item: QcItem) -> bool:
    try:
        async with s.begin_nested():
            s.add(item)
        return True
    except IntegrityError:  # already in the queue (another instance, or sampled and flagged both)
        return False


async def sample(sessions: async_sessionmaker[AsyncSession], rule: QcRule, now: datetime, zone: ZoneInfo) -> int:
    """Bring each agent's share of this week's closed inquiries and answered calls in the queue up to the rule's
    percent; add calls speech analytics flagged. Idempotent: run it as often as you like."""
    start, end = week_bounds(now, zone)
    added = 0
    async with sessions() as s, s.begin():
        if rule.speech_flags:  # first: a flagged call counts toward its agent's share
            added += await _flagged(s, now)
        if rule.inquiries and rule.percent > 0:
            done = (await s.execute(select(Inquiry.id, Inquiry.owner_id).where(
                Inquiry.status.in_(CLOSED), Inquiry.owner_id.is_not(None), Inquiry.closed_at >= start,
                Inquiry.closed_at < end).order_by(Inquiry.id))).all()
            taken = set((await s.execute(select(QcItem.inquiry_id).where(QcItem.inquiry_id.in_(
                [r.id for r in done])))).scalars()) if done else set()
            for agent_id, ids in _by_agent(done).items():
                for inquiry_id in _pick(ids, taken, rule.percent, f"i:{agent_id}:{start.date()}"):
                    added += await _add(s, QcItem(kind="inquiry", inquiry_id=inquiry_id, agent_id=agent_id,
                                                  reason="sample", created_at=now))
        if rule.calls and rule.percent > 0:
            calls = (await s.execute(select(Call.id, Call.agent_id).where(
                Call.agent_id.is_not(None), Call.answered_at.is_not(None), Call.started_at >= start,
                Call.started_at < end).order_by(Call.id))).all()
            taken = set((await s.execute(select(QcItem.call_id).where(QcItem.call_id.in_(
                [r.id for r in calls])))).scalars()) if calls else set()
            for agent_id, ids in _by_agent(calls).items():
                for call_id in _pick(ids, taken, rule.percent, f"c:{agent_id}:{start.date()}"):
                    added += await _add(s, QcItem(kind="call", call_id=call_id, agent_id=agent_id, reason="sample",
                                                  created_at=now))
    if added:
        log.info("quality control: %d items added to the queue", added)
    return added


def _by_agent(rows: list) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for row_id, agent_id in rows:
        out.setdefault(agent_id, []).append(row_id)
    return out


def _pick(ids: list[int], taken: set[int | None], percent: float, seed: str) -> list[int]:
    """The ids to add so that the agent's sampled share reaches ``percent`` (at least one when they have any)."""
    want = math.ceil(len(ids) * percent / 100)
    have = sum(1 for i in ids if i in taken)
    free = [i for i in ids if i not in taken]
    if want <= have or not free:
        return []
    random.Random(seed).shuffle(free)
    return sorted(free[:want - have])


async def _flagged(s: AsyncSession, now: datetime) -> int:
    rows = (await s.execute(
        select(SpeechFlag.call_id, Call.agent_id, func.min(SpeechFlag.category), func.max(SpeechFlag.category))
        .join(Call, Call.id == SpeechFlag.call_id)
        .where(~select(QcItem.id).where(QcItem.call_id == SpeechFlag.call_id).exists())
        .group_by(SpeechFlag.call_id, Call.agent_id).limit(500))).all()
    added = 0
    for call_id, agent_id, first, last in rows:
        note = first if first == last else f"{first}, {last}"
        added += await _add(s, QcItem(kind="call", call_id=call_id, agent_id=agent_id, reason="speech", note=note,
                                      created_at=now))
    return added


# --- the queue and reviews ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class QueueRow:
    id: int
    kind: str
    inquiry_id: int | None
    call_id: int | None
    agent: str | None
    reason: str
    note: str
    status: str
    score: float | None
    created_at: datetime
    reviewed_at: datetime | None
    reviewer: str | None
    subject: str | None


def can_review(actor: Actor) -> bool:
    return actor.is_admin or actor.manages_department


async def queue(s: AsyncSession, actor: Actor, status: str = "open", limit: int = 300) -> list[QueueRow]:
    agent, reviewer = aliased(User), aliased(User)
    q = (select(QcItem, agent.full_name, reviewer.full_name, Inquiry.subject)
         .outerjoin(agent, agent.id == QcItem.agent_id).outerjoin(reviewer, reviewer.id == QcItem.reviewer_id)
         .outerjoin(Inquiry, Inquiry.id == QcItem.inquiry_id)
         .where(staff_scope(actor, QcItem.agent_id), QcItem.status == status))
    q = q.order_by(QcItem.created_at, QcItem.id) if status == "open" else q.order_by(QcItem.reviewed_at.desc())
    return [QueueRow(i.id, i.kind, i.inquiry_id, i.call_id, a, i.reason, i.note, i.status, i.score, i.created_at,
                     i.reviewed_at, r, subj)
            for i, a, r, subj in await s.execute(q.limit(limit))]


async def get_item(s: AsyncSession, actor: Actor, item_id: int) -> QcItem:
    item = (await s.execute(select(QcItem).where(QcItem.id == item_id, staff_scope(actor, QcItem.agent_id)))
            ).scalar_one_or_none()
    if item is None:
        raise NotFound("qc item")
    return item


async def item_context(s: AsyncSession, item: QcItem) -> dict:
    """What the reviewer looks at: the inquiry (subject, status, client) or the call (when, talk, transcript)."""
    call = await s.get(Call, item.call_id) if item.call_id else None
    inquiry_id = item.inquiry_id or (call.inquiry_id if call else None)
    inquiry = await s.get(Inquiry, inquiry_id) if inquiry_id else None
    client_id = inquiry.client_id if inquiry else (call.client_id if call else None)
    client = await s.get(Client, client_id) if client_id else None
    agent = await s.get(User, item.agent_id) if item.agent_id else None
    return {"call": call, "inquiry": inquiry, "client": client, "agent": agent}


async def review(sessions: async_sessionmaker[AsyncSession], actor: Actor, item_id: int, checklist_id: int,
                 passed: set[str], comment: str, reopen: bool, route: Route | None) -> QcItem:
    """Store the marks and the weighted score (on the client's timeline too); ``reopen`` sends the inquiry back
    to routing as new."""
    if not can_review(actor):
        raise Forbidden("qc review")
    now = utcnow()
    reopened_id = None
    async with sessions() as s, s.begin():
        item = await get_item(s, actor, item_id)
        checklist = await s.get(QcChecklist, checklist_id)
        if checklist is None:
            raise NotFound("checklist")
        keys = {i["key"] for i in checklist.items}
        passed &= keys
        ctx = await item_context(s, item)
        item.checklist_id, item.reviewer_id, item.reviewed_at = checklist.id, actor.user_id, now
        item.marks = {k: k in passed for k in sorted(keys, key=int)}
        item.score = round(score_of(checklist.items, passed), 4)
        item.comment, item.status = comment.strip()[:3000], "reviewed"
        client, inquiry = ctx["client"], ctx["inquiry"]
        if client is not None:
            s.add(TimelineEntry(client_id=client.id, at=now, kind="qc_review", channel=None,
                                inquiry_id=inquiry.id if inquiry else None, ref_id=item.id, actor_id=actor.user_id,
                                summary=f"{checklist.name}: {round(item.score * 100)}%"))
        if reopen:
            if inquiry is None:
                raise NotFound("inquiry")
            await _reopen(s, actor, inquiry.id, now)
            item.reopened, reopened_id = True, inquiry.id
        result = item
    log.info("quality control: item=%s reviewed by user=%s score=%s reopened=%s", item_id, actor.user_id,
             result.score, reopened_id)
    if reopened_id is not None and route is not None:
        await route(reopened_id, "reopened")
    return result


async def _reopen(s: AsyncSession, actor: Actor, inquiry_id: int, now: datetime) -> None:
    inquiry = await get_inquiry(s, actor, inquiry_id, write=True)
    if inquiry.status not in CLOSED:
        raise Forbidden("only a closed inquiry is re-opened")
    await s.execute(update(Inquiry).where(Inquiry.id == inquiry_id).values(
        status=InquiryStatus.NEW, owner_id=None, pool=Pool.NONE, closed_at=None, accepted_at=None,
        pool_entered_at=None, updated_at=now, last_action_at=now))
    s.add(InquiryEvent(inquiry_id=inquiry_id, at=now, actor_id=actor.user_id, kind="reopened",
                       note="quality control", data={"previous_owner": inquiry.owner_id}))
    s.add(TimelineEntry(client_id=inquiry.client_id, at=now, kind="inquiry_reopened", channel=inquiry.channel,
                        inquiry_id=inquiry_id, ref_id=inquiry_id, summary=inquiry.subject or "",
                        actor_id=actor.user_id))


# --- for the KPI report ------------------------------------------------------------------------------------

async def agent_scores(s: AsyncSession, agent_ids: list[int], start: datetime, end: datetime,
                       ) -> dict[int, tuple[float, int]]:
    """Each agent's mean QC score (0..1) and the number of reviews, by reviews made in [start, end)."""
    if not agent_ids:
        return {}
    rows = await s.execute(
        select(QcItem.agent_id, func.avg(QcItem.score), func.count(QcItem.id))
        .where(QcItem.agent_id.in_(agent_ids), QcItem.status == "reviewed", QcItem.score.is_not(None),
               QcItem.reviewed_at >= start, QcItem.reviewed_at < end)
        .group_by(QcItem.agent_id))
    return {agent_id: (float(avg), int(n)) for agent_id, avg, n in rows}
