"""Who calls the API: an integration with ``Authorization: Bearer <token>`` or a logged-in person's browser.

A token acts as its user (whose role and reach ``crm_core.access`` judges, the same as the pages), narrowed to
its scopes, from its allowed addresses, at its rate. A token needs no CSRF token (no cookie carries it); a
browser's change (POST, PATCH, PUT, DELETE) keeps the CSRF check of the pages (header ``X-CSRF-Token``).
"""

from __future__ import annotations

import hmac
import logging
import time
import weakref
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web

from api import queries, tokens
from api.problems import ApiProblem
from crm_core.access import Actor, NotFound, actor_for
from crm_core.models import User, utcnow
from crm_core.models.api_tokens import ApiToken
from web.keys import ACTOR, LIMITER, SESSION, USER, sessions

log = logging.getLogger("hub.api")
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
USE_NOTE_EVERY = timedelta(seconds=60)  # "last used" is written at most this often per token
_buckets: weakref.WeakKeyDictionary[web.Application, tokens.Buckets] = weakref.WeakKeyDictionary()
CHALLENGE = 'Bearer realm="hub"'


@dataclass(frozen=True, slots=True)
class Principal:
    actor: Actor
    user_id: int
    token_id: int | None = None
    token_name: str | None = None
    scopes: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """Who owns an Idempotency-Key: the token, or the person."""
        return f"token:{self.token_id}" if self.token_id is not None else f"user:{self.user_id}"


def _unauthorized(detail: str) -> ApiProblem:
    return ApiProblem(401, detail, headers={"WWW-Authenticate": CHALLENGE})


async def authenticate(request: web.Request, resource: str, write: bool) -> Principal:
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, text = header.partition(" ")
        if scheme.lower() != "bearer" or not text.strip():
            raise _unauthorized("use Authorization: Bearer <token>")
        return await _by_token(request, text.strip(), resource, write)
    user = request.get(USER)
    if user is None:
        raise _unauthorized("an API token (Authorization: Bearer) or a login is required")
    if request.method in UNSAFE:
        session = request.get(SESSION)
        sent = request.headers.get("X-CSRF-Token", "")
        if session is None or not hmac.compare_digest(sent.encode("utf-8", "replace"), session.csrf.encode()):
            log.warning("api csrf check failed path=%s user=%s", request.path, user.id)
            raise ApiProblem(403, "a change from a browser needs the X-CSRF-Token header")
    return Principal(request[ACTOR], user.id)


async def _by_token(request: web.Request, text: str, resource: str, write: bool) -> Principal:
    now = utcnow()
    address = request.app[LIMITER].address(request)
    async with sessions(request)() as s, s.begin():
        token = await queries.token_by_text(s, text)
        if token is None or token.revoked_at is not None or (token.expires_at and token.expires_at <= now):
            log.info("api token refused path=%s reason=%s", request.path,
                     "unknown" if token is None else "revoked or expired")
            raise _unauthorized("the token is unknown, revoked or expired")
        user = await s.get(User, token.user_id)
        if user is None or not user.is_active:
            raise _unauthorized("the token's user is inactive")
        if not tokens.address_allowed(address, token.allowed_ips):
            log.info("api token=%s refused from an address outside its allow-list", token.id)
            raise ApiProblem(403, "this token is not allowed from this address")
        wait = _buckets.setdefault(request.app, tokens.Buckets()).take(token.id, token.rate_per_minute,
                                                                        time.monotonic())
        if wait:
            raise ApiProblem(429, f"at most {token.rate_per_minute} requests a minute for this token",
                             headers={"Retry-After": str(wait)})
        if not tokens.allows(token.scopes, resource, write):
            raise ApiProblem(403, f"the token has no {resource}:{'write' if write else 'read'} scope")
        try:
            actor = await actor_for(s, token.user_id)
        except NotFound:
            raise _unauthorized("the token's user is inactive") from None
        if _due(token, now):
            await queries.note_use(s, token.id, address, now)
    request[USER] = user
    request[ACTOR] = actor
    return Principal(actor, user.id, token.id, token.name, tuple(token.scopes))


def _due(token: ApiToken, now) -> bool:  # noqa: ANN001
    return token.last_used_at is None or now - token.last_used_at >= USE_NOTE_EVERY
