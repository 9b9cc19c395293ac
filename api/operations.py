"""An operation of the API, declared once: its path, its models (which validate the request and describe it in
the OpenAPI document), its scope and roles. ``endpoint(op)`` is the aiohttp handler that carries it out:
who calls (``api.auth``), the role check, the query and body validated (400 with each bad field), the
``Idempotency-Key`` replay, ``ETag``/``If-Match``, the domain errors as problem details, and the audit entry
of every change a token makes."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.exc import IntegrityError

from api import queries
from api.auth import Principal, authenticate
from api.problems import ApiProblem, FieldError, bad_request
from crm_core import audit
from crm_core.access import Forbidden, NotFound
from crm_core.models import Role
from web.guard import EVERY_ROLE, csrf_exempt, public
from web.keys import HUB, sessions

log = logging.getLogger("hub.api")
JSON = "application/json"


class Input(BaseModel):
    """A request body: strict types (``"5"`` is not a number), unknown fields refused."""

    model_config = ConfigDict(strict=True, extra="forbid")


class Query(BaseModel):
    """Query parameters arrive as text: numbers and dates are read from it; unknown ones are ignored."""

    model_config = ConfigDict(extra="ignore")


class Conflict(Exception):
    """The change cannot be made in the record's present state (409)."""


class Unprocessable(ValueError):
    """Well-formed but refused by the rules (422), e.g. a phone that belongs to another client."""


@dataclass(frozen=True, slots=True)
class Reply:
    model: BaseModel | None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Ctx:
    request: web.Request
    principal: Principal
    query: Any = None
    body: Any = None
    idempotency_key: str | None = None

    @property
    def actor(self):  # noqa: ANN201 - crm_core.access.Actor
        return self.principal.actor

    @property
    def hub(self):  # noqa: ANN201 - bootstrap.Hub
        return self.request.app[HUB]

    @property
    def sessions(self):  # noqa: ANN201
        return sessions(self.request)

    def id(self, name: str = "id") -> int:
        return int(self.request.match_info[name])  # the routes middleware let only a row id through

    def check_etag(self, current: BaseModel) -> None:
        """412 when the caller's ``If-Match`` names another version than the stored one."""
        wanted = self.request.headers.get("If-Match")
        if wanted is None or wanted.strip() == "*":
            return
        if etag(current) not in {w.strip().removeprefix("W/") for w in wanted.split(",")}:
            raise ApiProblem(412, "the record changed since it was read (If-Match does not match its ETag)")


Handler = Callable[[Ctx], Awaitable[BaseModel | Reply | web.StreamResponse | None]]


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    summary: str
    resource: str
    handler: Handler
    write: bool = False
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    roles: frozenset[Role] = EVERY_ROLE
    deprecated: bool = False
    binary: str | None = None
    etag: bool = False
    idempotent: bool = False
    description: str = ""
    tag: str = ""

    @property
    def operation_id(self) -> str:
        return self.handler.__name__.strip("_")


def etag(model: BaseModel) -> str:
    return '"' + hashlib.sha256(model.model_dump_json().encode()).hexdigest()[:24] + '"'


def endpoint(op: Op) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        principal = await authenticate(request, op.resource, op.write)
        if principal.actor.role not in op.roles:
            raise ApiProblem(403, "this role may not do this")
        ctx = Ctx(request, principal)
        if op.query is not None:
            repeated = sorted({k for k in request.query if len(request.query.getall(k)) > 1})
            if repeated:  # each parameter takes one value: a repeat would silently lose all but the first
                raise ApiProblem(400, "the request has invalid fields", errors=[
                    FieldError(field=f"query.{k}", message="given more than once") for k in repeated])
            try:
                ctx.query = op.query.model_validate(dict(request.query))
            except ValidationError as exc:
                raise bad_request(exc, "query") from None
        raw = b""
        if op.body is not None:
            raw = await request.read()
            try:
                ctx.body = op.body.model_validate_json(raw or b"null")
            except ValidationError as exc:
                raise bad_request(exc) from None
        if op.idempotent:
            ctx.idempotency_key = _key(request)
            if ctx.idempotency_key is not None:
                return await _idempotent(op, ctx, raw)
        return await _run(op, ctx)

    handle.__name__ = handle.__qualname__ = op.operation_id
    return csrf_exempt(public(handle))  # api.auth checks the token, or the session and its CSRF token


def _key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not 1 <= len(key) <= 200 or not key.isascii() or not key.isprintable():
        raise ApiProblem(400, "Idempotency-Key: 1 to 200 printable ASCII characters")
    return key


async def _idempotent(op: Op, ctx: Ctx, raw: bytes) -> web.StreamResponse:
    assert ctx.idempotency_key is not None
    digest = hashlib.sha256(f"{op.method} {ctx.request.path}\n".encode() + raw).hexdigest()
    async with ctx.sessions() as s:
        kept = await queries.kept_answer(s, ctx.principal.key, ctx.idempotency_key)
    if kept is not None:
        if kept.request_hash != digest:
            raise ApiProblem(422, "this Idempotency-Key was used for another request")
        return web.Response(status=kept.status, text=kept.body, content_type=JSON,
                            headers={"Idempotent-Replayed": "true"})
    response = await _run(op, ctx)
    if isinstance(response, web.Response) and response.status < 300 and response.text is not None:
        try:
            async with ctx.sessions() as s, s.begin():
                await queries.keep_answer(s, ctx.principal.key, ctx.idempotency_key, digest, response.status,
                                          response.text)
        except IntegrityError:  # the same key raced in twice: the intake made one record for both
            log.info("idempotency key kept by a concurrent request principal=%s", ctx.principal.key)
    return response


async def _run(op: Op, ctx: Ctx) -> web.StreamResponse:
    try:
        result = await op.handler(ctx)
    except NotFound:
        raise ApiProblem(404, "not found or out of reach") from None
    except Forbidden:
        raise ApiProblem(403, "you may see this record but not change it") from None
    except Conflict as exc:
        raise ApiProblem(409, str(exc) or None) from None
    except Unprocessable as exc:
        raise ApiProblem(422, str(exc) or None) from None
    if isinstance(result, web.StreamResponse):
        return result
    reply = result if isinstance(result, Reply) else Reply(result, op.status)
    if op.write and ctx.principal.token_id is not None:
        await _audit(op, ctx, reply.status)
    if reply.model is None:
        return web.Response(status=204 if reply.status == 200 else reply.status, headers=reply.headers)
    headers = dict(reply.headers)
    if op.etag:
        headers["ETag"] = etag(reply.model)
    return web.Response(status=reply.status, text=reply.model.model_dump_json(), content_type=JSON,
                        headers=headers)


async def _audit(op: Op, ctx: Ctx, status: int) -> None:
    """A token's change in the history: the token's user is the actor, the token is named in the details."""
    p = ctx.principal
    async with ctx.sessions() as s, s.begin():
        await audit.record(s, p.user_id, f"api.{op.operation_id}", ctx.request.path,
                           {"token_id": p.token_id, "token": p.token_name, "method": op.method, "status": status})
