"""The API's reads and writes: tokens (create, list, revoke, find by digest, note their use) and the answers
kept for ``Idempotency-Key``. Each takes an ``AsyncSession``; the caller commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api import tokens
from crm_core import audit
from crm_core.models import User, utcnow
from crm_core.models.api_tokens import ApiIdempotency, ApiToken

IDEMPOTENCY_DAYS = 2  # how long a write's answer is replayed to a repeat of its key


@dataclass(frozen=True, slots=True)
class NewToken:
    row: ApiToken
    text: str  # shown once to the administrator, never stored


async def create_token(s: AsyncSession, *, name: str, user_id: int, scopes: list[str], allowed_ips: list[str],
                       expires_at: datetime | None, rate_per_minute: int, created_by: int | None) -> NewToken:
    text = tokens.new_token()
    row = ApiToken(name=name, token_hash=tokens.digest(text), prefix=text[:12], user_id=user_id,
                   scopes=tokens.clean_scopes(scopes), allowed_ips=allowed_ips, expires_at=expires_at,
                   rate_per_minute=rate_per_minute, created_by=created_by, created_at=utcnow())
    s.add(row)
    await s.flush()
    await audit.record(s, created_by, "api.token.create", f"api_token:{row.id}",
                       {"name": name, "user_id": user_id, "scopes": row.scopes})
    return NewToken(row, text)


async def list_tokens(s: AsyncSession) -> list[tuple[ApiToken, str]]:
    """Every token, newest first, with the name of the user it acts as."""
    rows = await s.execute(select(ApiToken, User.full_name).join(User, User.id == ApiToken.user_id)
                           .order_by(ApiToken.id.desc()))
    return [(t, n) for t, n in rows.all()]


async def revoke_token(s: AsyncSession, token_id: int, by: int | None) -> bool:
    stmt = (update(ApiToken).where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=utcnow()).execution_options(synchronize_session=False))
    done = cast(CursorResult, await s.execute(stmt))
    if done.rowcount == 1:
        await audit.record(s, by, "api.token.revoke", f"api_token:{token_id}")
        return True
    return False


async def token_by_text(s: AsyncSession, text: str) -> ApiToken | None:
    if not tokens.looks_like_token(text):
        return None
    return (await s.execute(select(ApiToken).where(ApiToken.token_hash == tokens.digest(text)))).scalar_one_or_none()


async def note_use(s: AsyncSession, token_id: int, address: str | None, at: datetime) -> None:
    await s.execute(update(ApiToken).where(ApiToken.id == token_id)
                    .values(last_used_at=at, last_used_ip=(address or "")[:64] or None)
                    .execution_options(synchronize_session=False))


async def kept_answer(s: AsyncSession, principal: str, key: str) -> ApiIdempotency | None:
    return (await s.execute(select(ApiIdempotency).where(ApiIdempotency.principal == principal,
                                                         ApiIdempotency.key == key))).scalar_one_or_none()


async def keep_answer(s: AsyncSession, principal: str, key: str, request_hash: str, status: int, body: str) -> None:
    now = utcnow()
    await s.execute(delete(ApiIdempotency).where(ApiIdempotency.created_at < now - timedelta(days=IDEMPOTENCY_DAYS)))
    s.add(ApiIdempotency(principal=principal, key=key, request_hash=request_hash, status=status, body=body,
                         created_at=now))
