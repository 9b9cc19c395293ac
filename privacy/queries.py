"""Reads and writes of consents and the access log, each on the caller's session."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Call, Client, Contact, ContactKind, Recording, User, utcnow
from crm_core.models.privacy import AccessLogEntry, ClientConsent
from privacy.consent import PURPOSES, SOURCES, ConsentState, current


async def record_consents(s: AsyncSession, client_id: int, given: dict[str, bool], *, source: str,
                          source_ref: str | None = None, actor_id: int | None = None, note: str | None = None,
                          at: datetime | None = None, only_changes: bool = True) -> int:
    """Store grants and withdrawals (``{"marketing": True}``); by default only what changes the current state."""
    if source not in SOURCES:
        raise ValueError(f"unknown consent source {source!r}")
    wanted = {p: bool(v) for p, v in given.items() if p in PURPOSES}
    if only_changes and wanted:
        now_state = await consents_of(s, client_id)
        wanted = {p: v for p, v in wanted.items() if p not in now_state or now_state[p].granted != v}
    if not wanted:
        return 0
    when = at or utcnow()
    await s.execute(insert(ClientConsent), [
        {"client_id": client_id, "purpose": p, "granted": v, "source": source,
         "source_ref": (source_ref or None) and source_ref[:300], "actor_id": actor_id, "note": note, "at": when}
        for p, v in sorted(wanted.items())])
    return len(wanted)


async def consents_of(s: AsyncSession, client_id: int) -> dict[str, ConsentState]:
    rows = (await s.execute(select(ClientConsent).where(ClientConsent.client_id == client_id)
                            .order_by(ClientConsent.at, ClientConsent.id))).scalars()
    return current(ConsentState(r.purpose, r.granted, r.source, r.at, r.source_ref) for r in rows)


async def consent_history(s: AsyncSession, client_id: int) -> list[ClientConsent]:
    return list((await s.execute(select(ClientConsent).where(ClientConsent.client_id == client_id)
                                 .order_by(ClientConsent.at.desc(), ClientConsent.id.desc()))).scalars())


async def has_consent(s: AsyncSession, client_id: int, purpose: str) -> bool:
    """True when the client's latest word on ``purpose`` is a grant (no record: no consent)."""
    granted = (await s.execute(
        select(ClientConsent.granted).where(ClientConsent.client_id == client_id, ClientConsent.purpose == purpose)
        .order_by(ClientConsent.at.desc(), ClientConsent.id.desc()).limit(1))).scalar_one_or_none()
    return bool(granted)


async def write_access(s: AsyncSession, rows: Sequence[dict]) -> None:
    """One INSERT for a batch of access rows (``at``, ``user_id``, ``kind``, ``client_id``, ``ref``)."""
    if rows:
        await s.execute(insert(AccessLogEntry), list(rows))


async def clients_of_calls(s: AsyncSession, call_ids: Iterable[int]) -> dict[int, int | None]:
    ids = sorted(set(call_ids))
    if not ids:
        return {}
    return dict((await s.execute(select(Call.id, Call.client_id).where(Call.id.in_(ids)))).all())


async def clients_of_recordings(s: AsyncSession, recording_ids: Iterable[int]) -> dict[int, int | None]:
    ids = sorted(set(recording_ids))
    if not ids:
        return {}
    return dict((await s.execute(select(Recording.id, Call.client_id).join(Call, Call.id == Recording.call_id)
                                 .where(Recording.id.in_(ids)))).all())


@dataclass(frozen=True, slots=True)
class AccessRow:
    at: datetime
    user_id: int | None
    user_name: str | None
    kind: str
    client_id: int | None
    client_name: str | None
    ref: str | None


async def search_access(s: AsyncSession, *, client_id: int | None = None, user_id: int | None = None,
                        since: datetime | None = None, until: datetime | None = None, kind: str | None = None,
                        limit: int = 200, offset: int = 0) -> list[AccessRow]:
    conds = []
    if client_id is not None:
        conds.append(AccessLogEntry.client_id == client_id)
    if user_id is not None:
        conds.append(AccessLogEntry.user_id == user_id)
    if since is not None:
        conds.append(AccessLogEntry.at >= since)
    if until is not None:
        conds.append(AccessLogEntry.at < until)
    if kind:
        conds.append(AccessLogEntry.kind == kind)
    rows = (await s.execute(
        select(AccessLogEntry, User.full_name, Client.name)
        .outerjoin(User, User.id == AccessLogEntry.user_id).outerjoin(Client, Client.id == AccessLogEntry.client_id)
        .where(and_(*conds)).order_by(AccessLogEntry.at.desc(), AccessLogEntry.id.desc())
        .limit(limit).offset(offset))).all()
    return [AccessRow(e.at, e.user_id, uname, e.kind, e.client_id, cname, e.ref) for e, uname, cname in rows]


async def card_views_per_user(s: AsyncSession, since: datetime, until: datetime) -> dict[int, int]:
    """How many client cards each user opened in [since, until)."""
    rows = (await s.execute(
        select(AccessLogEntry.user_id, func.count()).where(
            AccessLogEntry.kind.in_(("card", "api_card")), AccessLogEntry.at >= since, AccessLogEntry.at < until,
            AccessLogEntry.user_id.is_not(None))
        .group_by(AccessLogEntry.user_id))).all()
    return {int(u): int(n) for u, n in rows if u is not None}


async def admins_and_dpo(s: AsyncSession) -> list[int]:
    return list((await s.execute(select(User.id).where(User.role.in_(("admin", "dpo")),
                                                       User.is_active.is_(True)))).scalars())


async def staff_roles(s: AsyncSession) -> dict[int, str]:
    return {int(u): str(r) for u, r in (await s.execute(select(User.id, User.role).where(User.is_active.is_(True))))}


async def bot_consent(s: AsyncSession, telegram_id: str, granted: bool) -> bool:
    """The bot's /agree or /stop: the marketing consent of the client this Telegram id belongs to."""
    client_id = (await s.execute(select(Contact.client_id).where(
        Contact.kind == ContactKind.TELEGRAM, Contact.value == telegram_id))).scalar()
    if client_id is None:
        return False
    await record_consents(s, client_id, {"marketing": granted}, source="bot", source_ref=f"telegram:{telegram_id}")
    return True
