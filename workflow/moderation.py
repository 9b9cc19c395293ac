"""Request moderation: new requests from chosen sources wait (status ``moderation``) for a moderator who
accepts them into routing or rejects them as spam with a reason. Nothing is deleted: a rejected request is
archived with its decision and stays searchable.

Who moderates: department managers and heads (their departments' requests and those not yet in any
department — a new client's), the administrator (all); a director reads the same within the division.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, String, cast, exists, false, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.access import Actor, Forbidden, NotFound
from crm_core.intake import IntakeRequest
from crm_core.models import (
    Client,
    Contact,
    Department,
    Inquiry,
    InquiryEvent,
    InquiryStatus,
    Message,
    Pool,
    Role,
    TimelineEntry,
    User,
    utcnow,
)
from crm_core.models.staff import ServedDepartment
from crm_core.models.workflow import ModerationDecision, WorkflowSetting
from crm_core.phones import try_normalize_phone
from workflow.settings import ModerationRules

log = logging.getLogger("hub.workflow.moderation")
SETTING_KEY = "moderation"
Route = Callable[[int, str], Awaitable[object]]


class ModerationGate:
    """The intake's ``moderation_gate``: synchronous, so it reads rules kept in memory (re-read periodically)."""

    def __init__(self, rules: ModerationRules) -> None:
        self.rules = rules

    def __call__(self, req: IntakeRequest) -> bool:
        site = req.meta.get("site") if isinstance(req.meta, dict) else None
        return self.rules.needs_moderation(str(req.channel), req.source, site if isinstance(site, str) else None)


async def load_rules(s: AsyncSession, default: ModerationRules) -> ModerationRules:
    row = await s.get(WorkflowSetting, SETTING_KEY)
    if row is None:
        return default
    try:
        return ModerationRules.model_validate(row.value)
    except ValueError:
        log.warning("stored moderation rules are invalid; using the configured ones")
        return default


async def save_rules(s: AsyncSession, rules: ModerationRules) -> None:
    row = await s.get(WorkflowSetting, SETTING_KEY)
    value = rules.model_dump(mode="json")
    if row is None:
        s.add(WorkflowSetting(key=SETTING_KEY, value=value, updated_at=utcnow()))
    else:
        row.value, row.updated_at = value, utcnow()


def can_moderate(actor: Actor) -> bool:
    return actor.is_admin or actor.manages_department


def moderation_scope(actor: Actor) -> ColumnElement[bool]:
    """Requests an actor may see in moderation: see the module's docstring."""
    if actor.is_admin:
        return true()
    unassigned = Inquiry.department_id.is_(None)
    if actor.manages_department:
        ids = actor.department_ids
        return or_(unassigned, Inquiry.department_id.in_(ids)) if ids else unassigned
    if actor.role == Role.DIRECTOR and actor.division_id is not None:
        return or_(unassigned, Inquiry.department_id.in_(
            select(Department.id).where(Department.division_id == actor.division_id)))
    return false()


async def moderators_of(s: AsyncSession, inquiry_id: int) -> list[int]:
    """Who may decide on a waiting request: administrators, and the managers and heads of its department (of
    any department, or serving it, while it is in none)."""
    row = (await s.execute(select(Inquiry.status, Inquiry.department_id).where(Inquiry.id == inquiry_id))).first()
    if row is None or row.status != InquiryStatus.MODERATION:
        return []
    managers = (User.role.in_((Role.DEPT_MANAGER, Role.DEPT_HEAD)))
    if row.department_id is not None:
        managers = managers & or_(User.department_id == row.department_id, User.id.in_(
            select(ServedDepartment.user_id).where(ServedDepartment.department_id == row.department_id)))
    return list((await s.execute(select(User.id).where(User.is_active.is_(True), or_(User.role == Role.ADMIN, managers))
                                 .order_by(User.id))).scalars())


@dataclass(frozen=True, slots=True)
class Row:
    inquiry_id: int
    client_id: int
    client_name: str
    channel: str
    source: str | None
    subject: str | None
    text: str
    site: str | None
    created_at: object
    reason: str = ""
    decided_at: object = None
    decided_by: str | None = None


def _first_message():  # noqa: ANN202
    return (select(Message.body).where(Message.inquiry_id == Inquiry.id).order_by(Message.id).limit(1)
            .correlate(Inquiry).scalar_subquery())


def _first_site():  # noqa: ANN202
    return (select(Message.meta).where(Message.inquiry_id == Inquiry.id).order_by(Message.id).limit(1)
            .correlate(Inquiry).scalar_subquery())


async def waiting(s: AsyncSession, actor: Actor, limit: int = 200) -> list[Row]:
    q = (select(Inquiry.id, Inquiry.client_id, Client.name, Inquiry.channel, Inquiry.source, Inquiry.subject,
                _first_message().label("body"), _first_site().label("meta"), Inquiry.created_at)
         .join(Client, Client.id == Inquiry.client_id)
         .where(Inquiry.status == InquiryStatus.MODERATION, moderation_scope(actor))
         .order_by(Inquiry.created_at, Inquiry.id).limit(limit))
    return [Row(r.id, r.client_id, r.name, str(r.channel), r.source, r.subject, r.body or "",
                (r.meta or {}).get("site"), r.created_at) for r in await s.execute(q)]


async def rejected(s: AsyncSession, actor: Actor, q: str = "", limit: int = 200) -> list[Row]:
    """Rejected requests, newest first; ``q`` finds words in the client's name or contacts, the subject,
    the text, the source or the moderator's reason."""
    latest = (select(func.max(ModerationDecision.id)).where(ModerationDecision.inquiry_id == Inquiry.id)
              .correlate(Inquiry).scalar_subquery())
    stmt = (select(Inquiry.id, Inquiry.client_id, Client.name, Inquiry.channel, Inquiry.source, Inquiry.subject,
                   _first_message().label("body"), _first_site().label("meta"), Inquiry.created_at,
                   ModerationDecision.reason, ModerationDecision.at, User.full_name)
            .join(Client, Client.id == Inquiry.client_id)
            .join(ModerationDecision, ModerationDecision.id == latest)
            .outerjoin(User, User.id == ModerationDecision.actor_id)
            .where(ModerationDecision.decision == "rejected", Inquiry.status == InquiryStatus.ARCHIVED,
                   moderation_scope(actor)))
    phone = try_normalize_phone(q) if q.strip() else None
    if phone:
        stmt = stmt.where(exists(select(Contact.id).where(Contact.client_id == Client.id, Contact.value == phone)))
    else:
        for word in q.split()[:5]:
            stmt = stmt.where(or_(
                _has(Client.name, word), _has(Inquiry.subject, word), _has(Inquiry.source, word),
                _has(ModerationDecision.reason, word),
                exists(select(Message.id).where(Message.inquiry_id == Inquiry.id,
                                                or_(_has(Message.body, word), _has(cast(Message.meta, String), word)))),
                exists(select(Contact.id).where(Contact.client_id == Client.id, _has(Contact.value, word))),
            ))
    stmt = stmt.order_by(ModerationDecision.at.desc(), Inquiry.id.desc()).limit(limit)
    return [Row(r.id, r.client_id, r.name, str(r.channel), r.source, r.subject, r.body or "",
                (r.meta or {}).get("site"), r.created_at, r.reason, r.at, r.full_name)
            for r in await s.execute(stmt)]


def _has(column: ColumnElement, word: str) -> ColumnElement[bool]:
    """Case-insensitive "contains", Cyrillic too: SQLite's LIKE folds only ASCII, so the usual spellings of
    the word (as typed, lower, Capitalised, UPPER) are tried."""
    variants = dict.fromkeys((word[:100], word[:100].lower(), word[:100].capitalize(), word[:100].upper()))
    return or_(*(column.ilike(f"%{_escape_like(v)}%", escape="\\") for v in variants))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def _load(s: AsyncSession, actor: Actor, inquiry_id: int) -> Inquiry:
    inquiry = (await s.execute(select(Inquiry).where(Inquiry.id == inquiry_id, moderation_scope(actor)))
               ).scalar_one_or_none()
    if inquiry is None:
        raise NotFound("inquiry")
    if not can_moderate(actor):
        raise Forbidden("moderation")
    return inquiry


class AlreadyDecided(Exception):
    """Another moderator was quicker (or the request is not waiting any more)."""


async def accept(sessions: async_sessionmaker[AsyncSession], actor: Actor, inquiry_id: int,
                 route: Route | None) -> None:
    """Into routing: status new, then the routing service decides as for any new inquiry. A rejected request
    may be accepted later as well (a moderator's mistake undone)."""
    now = utcnow()
    async with sessions() as s, s.begin():
        inquiry = await _load(s, actor, inquiry_id)
        restored = inquiry.status == InquiryStatus.ARCHIVED and await _last_decision(s, inquiry_id) == "rejected"
        if inquiry.status != InquiryStatus.MODERATION and not restored:
            raise AlreadyDecided
        done = await s.execute(
            update(Inquiry).where(Inquiry.id == inquiry_id, Inquiry.status == inquiry.status)
            .values(status=InquiryStatus.NEW, pool=Pool.NONE, closed_at=None, updated_at=now, last_action_at=now))
        if done.rowcount != 1:
            raise AlreadyDecided
        s.add(ModerationDecision(inquiry_id=inquiry_id, decision="accepted", actor_id=actor.user_id, at=now))
        s.add(InquiryEvent(inquiry_id=inquiry_id, at=now, actor_id=actor.user_id, kind="moderation_accepted",
                           data={"restored": restored}))
        s.add(TimelineEntry(client_id=inquiry.client_id, at=now, kind="moderation_accepted",
                            channel=inquiry.channel, inquiry_id=inquiry_id, ref_id=inquiry_id,
                            summary=inquiry.subject or "", actor_id=actor.user_id))
    log.info("moderation: inquiry=%s accepted by user=%s restored=%s", inquiry_id, actor.user_id, restored)
    if route is not None:
        await route(inquiry_id, "moderation")


async def reject(sessions: async_sessionmaker[AsyncSession], actor: Actor, inquiry_id: int, reason: str) -> None:
    """Spam: archived with the reason, kept (and found again in the rejected list), never deleted."""
    now = utcnow()
    reason = reason.strip()[:1000] or "spam"
    async with sessions() as s, s.begin():
        inquiry = await _load(s, actor, inquiry_id)
        done = await s.execute(
            update(Inquiry).where(Inquiry.id == inquiry_id, Inquiry.status == InquiryStatus.MODERATION)
            .values(status=InquiryStatus.ARCHIVED, pool=Pool.ARCHIVE, closed_at=now, updated_at=now,
                    last_action_at=now))
        if done.rowcount != 1:
            raise AlreadyDecided
        s.add(ModerationDecision(inquiry_id=inquiry_id, decision="rejected", reason=reason,
                                 actor_id=actor.user_id, at=now))
        s.add(InquiryEvent(inquiry_id=inquiry_id, at=now, actor_id=actor.user_id, kind="moderation_rejected",
                           note=reason))
        s.add(TimelineEntry(client_id=inquiry.client_id, at=now, kind="moderation_rejected",
                            channel=inquiry.channel, inquiry_id=inquiry_id, ref_id=inquiry_id,
                            summary=reason, actor_id=actor.user_id))
    log.info("moderation: inquiry=%s rejected by user=%s", inquiry_id, actor.user_id)


async def _last_decision(s: AsyncSession, inquiry_id: int) -> str | None:
    return (await s.execute(select(ModerationDecision.decision).where(ModerationDecision.inquiry_id == inquiry_id)
                            .order_by(ModerationDecision.id.desc()).limit(1))).scalar_one_or_none()
