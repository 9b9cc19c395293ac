"""The webhooks' reads and writes: subscriptions, the outbox rows, what is due, outcomes, re-sends."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from crm_core.models import utcnow
from crm_core.models.webhooks import WebhookDelivery, WebhookSubscription
from webhooks.core import EVENT_TYPES, envelope
from webhooks.payloads import Occurrence

OPEN = ("pending", "retry")


@dataclass(frozen=True, slots=True)
class Active:
    """An active subscription as the recorder needs it."""

    id: int
    events: frozenset[str]
    created_at: datetime


def _rows(result: object) -> int:
    """Rows an UPDATE touched (``CursorResult.rowcount``; the async session types it as a plain Result)."""
    return int(getattr(result, "rowcount", 0) or 0)


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


async def create_subscription(s: AsyncSession, *, name: str, url: str, events: list[str],
                              created_by: int | None) -> WebhookSubscription:
    sub = WebhookSubscription(name=name, url=url, events=[e for e in EVENT_TYPES if e in events],
                              secret=new_secret(), created_by=created_by)
    s.add(sub)
    await s.flush()
    return sub


async def set_active(s: AsyncSession, subscription_id: int, active: bool) -> bool:
    done = await s.execute(update(WebhookSubscription).where(WebhookSubscription.id == subscription_id)
                           .values(is_active=active, disabled_at=None if active else utcnow())
                           .execution_options(synchronize_session=False))
    return _rows(done) == 1


async def active_subscriptions(s: AsyncSession) -> list[Active]:
    rows = (await s.execute(select(WebhookSubscription.id, WebhookSubscription.events, WebhookSubscription.created_at)
                            .where(WebhookSubscription.is_active.is_(True)))).all()
    return [Active(r.id, frozenset(r.events or ()), r.created_at) for r in rows]


def _row(sub_id: int, occ: Occurrence, now: datetime) -> WebhookDelivery:
    delivery_id = str(uuid.uuid4())
    return WebhookDelivery(
        delivery_id=delivery_id, subscription_id=sub_id, event_type=occ.event_type,
        event_key=(occ.event_key or delivery_id)[:200], order_key=occ.order_key, occurred_at=occ.occurred_at,
        body=envelope(delivery_id, occ.event_type, occ.occurred_at, occ.data), status="pending", attempts=0,
        next_attempt_at=now, created_at=now, retry_since=now)


async def enqueue(sessions: async_sessionmaker[AsyncSession], pairs: list[tuple[int, Occurrence]]) -> int:
    """Write one outbox row per (subscription, occurrence) in one transaction; an event already queued for a
    subscription (same ``event_key``) is skipped. Returns how many rows were written."""
    if not pairs:
        return 0
    now = utcnow()
    keyed = {(sub, occ.event_key) for sub, occ in pairs if occ.event_key}
    async with sessions() as s, s.begin():
        have: set[tuple[int, str]] = set()
        if keyed:
            rows = (await s.execute(select(WebhookDelivery.subscription_id, WebhookDelivery.event_key)
                                    .where(WebhookDelivery.event_key.in_([k for _, k in keyed])))).all()
            have = {(r[0], r[1]) for r in rows}
        fresh = []
        for sub, occ in pairs:
            if occ.event_key and (sub, occ.event_key) in have:
                continue  # queued already (or twice in this batch: the first one stays)
            have.add((sub, occ.event_key or ""))
            fresh.append((sub, occ))
        try:
            async with s.begin_nested():
                s.add_all([_row(sub, occ, now) for sub, occ in fresh])
                await s.flush()
            return len(fresh)
        except IntegrityError:  # another instance queued the same event meanwhile: one by one, skipping it
            pass
    written = 0
    for sub, occ in fresh:
        try:
            async with sessions() as s, s.begin():
                s.add(_row(sub, occ, now))
            written += 1
        except IntegrityError:
            continue
    return written


async def due(s: AsyncSession, now: datetime, room: dict[int, int], skip: set[int]) -> list[tuple[int, int]]:
    """(row id, subscription id) of deliveries to try now, oldest first, at most ``room[sub]`` for each active
    subscription (so one receiver's backlog never hides another's): due, and first in line (no earlier
    delivery with the same order key still open for that subscription)."""
    earlier = aliased(WebhookDelivery)
    d = WebhookDelivery
    blocked = exists().where(earlier.subscription_id == d.subscription_id, earlier.order_key == d.order_key,
                             earlier.id < d.id, earlier.status.in_(OPEN))
    found: list[tuple[int, int]] = []
    for sub_id, free in room.items():
        if free <= 0:
            continue
        query = (select(d.id).where(d.subscription_id == sub_id, d.status.in_(("pending", "retry")),
                                    d.next_attempt_at <= now, ~blocked)
                 .order_by(d.id).limit(free + len(skip)))
        ids = [r for r in (await s.execute(query)).scalars() if r not in skip][:free]
        found.extend((row_id, sub_id) for row_id in ids)
    return sorted(found)


async def active_ids(s: AsyncSession) -> list[int]:
    return list((await s.execute(select(WebhookSubscription.id).where(WebhookSubscription.is_active.is_(True))
                                 .order_by(WebhookSubscription.id))).scalars())


async def finish(sessions: async_sessionmaker[AsyncSession], row_id: int, values: dict) -> None:
    async with sessions() as s, s.begin():
        await s.execute(update(WebhookDelivery).where(WebhookDelivery.id == row_id).values(**values)
                        .execution_options(synchronize_session=False))


async def resend(s: AsyncSession, row_id: int) -> bool:
    """Back in line at once, with its 24 h of retries counted from now; the same delivery id and body."""
    now = utcnow()
    done = await s.execute(update(WebhookDelivery).where(WebhookDelivery.id == row_id)
                           .values(status="pending", next_attempt_at=now, retry_since=now, error=None)
                           .execution_options(synchronize_session=False))
    return _rows(done) == 1


async def counts_by_subscription(s: AsyncSession) -> dict[int, dict[str, int]]:
    rows = (await s.execute(select(WebhookDelivery.subscription_id, WebhookDelivery.status, func.count())
                            .group_by(WebhookDelivery.subscription_id, WebhookDelivery.status))).all()
    found: dict[int, dict[str, int]] = {}
    for sub_id, status, n in rows:
        found.setdefault(sub_id, {})[status] = n
    return found


async def deliveries(s: AsyncSession, subscription_id: int | None, status: str | None, before: int | None,
                     limit: int = 50) -> list[WebhookDelivery]:
    query = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit)
    if subscription_id is not None:
        query = query.where(WebhookDelivery.subscription_id == subscription_id)
    if status:
        query = query.where(WebhookDelivery.status == status)
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    return list((await s.execute(query)).scalars())
