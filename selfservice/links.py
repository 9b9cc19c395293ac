"""One-time sign-in links and client sessions, and what the client's page shows.

A link carries 256 random bits; only their SHA-256 is stored. Redeeming is one conditional UPDATE (not
used, not expired), so a link works once even with two clicks on two instances. The session it opens is
another random id, also stored hashed, bound to that one client: every read on the page filters by it.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.intake import OPEN_STATUSES
from crm_core.models import Client, Contact, ContactKind, Inquiry, Property, User, utcnow
from crm_core.models.agency import Deal, DealStep
from crm_core.models.selfservice import SelfServiceLink, SelfServiceSession

log = logging.getLogger("hub.selfservice")
SIGN_IN_PATH = "/my/in/"
CHANNELS = ("telegram", "email", "sms")  # "auto" tries them in this order (an SMS costs money: last)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class LinkRefused(ValueError):
    """No address on that channel for the client, or too many links lately (``reason``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def address_of(s: AsyncSession, client_id: int, channel: str) -> str | None:
    """The client's Telegram chat, email address or phone (a contact marked ``blocked`` is skipped)."""
    kind = {"telegram": ContactKind.TELEGRAM, "email": ContactKind.EMAIL, "sms": ContactKind.PHONE}[channel]
    return (await s.execute(select(Contact.value).where(
        Contact.client_id == client_id, Contact.kind == kind, or_(Contact.label.is_(None), Contact.label != "blocked"))
        .order_by(Contact.id).limit(1))).scalar()


async def issue(s: AsyncSession, client_id: int, channel: str, *, requested_by: int | None, minutes: int,
                per_hour: int, now: datetime | None = None) -> tuple[str, SelfServiceLink]:
    """A new link for the client (the secret is returned once, never stored)."""
    now = now or utcnow()
    recent = (await s.execute(select(func.count(SelfServiceLink.id)).where(
        SelfServiceLink.client_id == client_id, SelfServiceLink.created_at > now - timedelta(hours=1)))).scalar()
    if recent >= per_hour:
        raise LinkRefused("too_many")
    secret = secrets.token_urlsafe(32)
    link = SelfServiceLink(token_hash=digest(secret), client_id=client_id, channel=channel,
                           requested_by=requested_by, created_at=now, expires_at=now + timedelta(minutes=minutes))
    s.add(link)
    await s.flush()
    return secret, link


async def is_valid(s: AsyncSession, secret: str, now: datetime | None = None) -> bool:
    """Whether the link would sign in now (looked at before the client presses the button; not used up)."""
    now = now or utcnow()
    return (await s.execute(select(SelfServiceLink.id).where(
        SelfServiceLink.token_hash == digest(secret), SelfServiceLink.used_at.is_(None),
        SelfServiceLink.expires_at > now))).first() is not None


async def redeem(s: AsyncSession, secret: str, *, session_minutes: int,
                 now: datetime | None = None) -> tuple[str, int] | None:
    """Use the link up and open a client session: (session id, client id), or None for a bad, used or
    expired link. The caller commits."""
    now = now or utcnow()
    h = digest(secret)
    won = await s.execute(update(SelfServiceLink).where(
        SelfServiceLink.token_hash == h, SelfServiceLink.used_at.is_(None), SelfServiceLink.expires_at > now)
        .values(used_at=now).execution_options(synchronize_session=False))
    if won.rowcount != 1:
        return None
    client_id = (await s.execute(select(SelfServiceLink.client_id).where(SelfServiceLink.token_hash == h))).scalar_one()
    sid = secrets.token_urlsafe(32)
    s.add(SelfServiceSession(id_hash=digest(sid), client_id=client_id, created_at=now,
                             expires_at=now + timedelta(minutes=session_minutes)))
    return sid, client_id


async def session_client(s: AsyncSession, sid: str | None, now: datetime | None = None) -> int | None:
    if not sid or len(sid) > 100:
        return None
    return (await s.execute(select(SelfServiceSession.client_id).where(
        SelfServiceSession.id_hash == digest(sid), SelfServiceSession.expires_at > (now or utcnow())))).scalar()


async def end_session(s: AsyncSession, sid: str | None) -> None:
    if sid and len(sid) <= 100:
        await s.execute(delete(SelfServiceSession).where(SelfServiceSession.id_hash == digest(sid)))


async def purge(s: AsyncSession, now: datetime | None = None) -> int:
    """Forget expired links (a day after) and sessions."""
    now = now or utcnow()
    a = await s.execute(delete(SelfServiceLink).where(SelfServiceLink.expires_at < now - timedelta(days=1)))
    b = await s.execute(delete(SelfServiceSession).where(SelfServiceSession.expires_at < now))
    return (a.rowcount or 0) + (b.rowcount or 0)


# --- the client's page ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Agent:
    name: str
    email: str | None


@dataclass(frozen=True, slots=True)
class OpenInquiry:
    id: int
    subject: str
    status: str
    created_at: datetime
    planned_action: str | None
    planned_at: datetime | None
    agent: str | None


@dataclass(frozen=True, slots=True)
class Viewing:
    at: datetime
    status: str
    address: str | None
    agent: str | None


@dataclass(frozen=True, slots=True)
class MyPage:
    name: str
    inquiries: list[OpenInquiry]
    viewings: list[Viewing]
    agents: list[Agent]


async def my_page(s: AsyncSession, client_id: int, now: datetime | None = None) -> MyPage | None:
    """Only this client's records: open inquiries, planned (and last month's) viewings, their agents."""
    now = now or utcnow()
    client = await s.get(Client, client_id)
    if client is None:
        return None
    rows = (await s.execute(
        select(Inquiry, User.full_name).outerjoin(User, User.id == Inquiry.owner_id)
        .where(Inquiry.client_id == client_id, Inquiry.status.in_(OPEN_STATUSES))
        .order_by(Inquiry.created_at.desc()).limit(50))).all()
    inquiries = [OpenInquiry(i.id, i.subject or "", i.status, i.created_at, i.planned_action, i.planned_at, name)
                 for i, name in rows]
    steps = (await s.execute(
        select(DealStep.at, DealStep.status, Property.address, User.full_name)
        .join(Deal, Deal.id == DealStep.deal_id)
        .outerjoin(Property, Property.id == DealStep.property_id).outerjoin(User, User.id == DealStep.agent_id)
        .where(Deal.client_id == client_id, DealStep.kind == "viewing", DealStep.status != "cancelled",
               or_(DealStep.status == "planned", DealStep.at > now - timedelta(days=30)))
        .order_by(DealStep.at).limit(50))).all()
    viewings = [Viewing(at, status, address, agent) for at, status, address, agent in steps]
    agent_ids = [x for x in [client.owner_id, *(i.owner_id for i, _ in rows)] if x is not None]
    agents: list[Agent] = []
    if agent_ids:
        found = {u.id: u for u in (await s.execute(select(User).where(User.id.in_(agent_ids),
                                                                       User.is_active.is_(True)))).scalars()}
        for uid in dict.fromkeys(agent_ids):
            if uid in found:
                agents.append(Agent(found[uid].full_name, found[uid].email))
    return MyPage(client.name or client.company_name or "", inquiries, viewings, agents)
