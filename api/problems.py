"""RFC 9457 problem details (``application/problem+json``) for every error under ``/api/``.

Handlers raise ``ApiProblem``; the middleware ``problem_details`` also turns what the shell answers for any
path (404 unknown path, 405 wrong method with ``Allow``, 401, 403 CSRF, 503 database away, the ``{"error"}``
bodies of the domain errors) into the same form, so an integrator parses one shape of error.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

log = logging.getLogger("hub.api")
MEDIA = "application/problem+json"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FieldError(BaseModel):
    field: str = Field(description="The field's path: `name`, `contacts.0.value`, `query.limit`")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details; ``errors`` lists each bad field of a 400."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


class ApiProblem(Exception):
    def __init__(self, status: int, detail: str | None = None, *, errors: list[FieldError] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or HTTPStatus(status).phrase)
        self.status, self.detail, self.errors, self.headers = status, detail, errors, headers or {}


def response(status: int, detail: str | None = None, *, instance: str | None = None,
             errors: list[FieldError] | None = None, headers: dict[str, str] | None = None) -> web.Response:
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail, instance=instance, errors=errors)
    return web.Response(status=status, text=body.model_dump_json(exclude_none=True), content_type=MEDIA,
                        headers=headers)


def field_errors(exc: ValidationError, where: str = "") -> list[FieldError]:
    out = []
    for e in exc.errors(include_url=False, include_input=False):
        path = ".".join(str(p) for p in e["loc"])
        out.append(FieldError(field=f"{where}.{path}" if where and path else (path or where or "body"),
                              message=e["msg"]))
    return out


def bad_request(exc: ValidationError, where: str = "") -> ApiProblem:
    return ApiProblem(400, "the request has invalid fields", errors=field_errors(exc, where))


@web.middleware
async def problem_details(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost for ``/api/``: whatever error the inner layers answer leaves as problem details."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    try:
        resp = await handler(request)
    except ApiProblem as exc:
        return response(exc.status, exc.detail, instance=request.path, errors=exc.errors, headers=exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _rewrite(request, exc.status, exc.text, dict(exc.headers))
    except Exception:  # a fault of ours: logged with its trace, answered without it
        log.exception("api error method=%s path=%s", request.method, request.path)
        return response(500, "internal error", instance=request.path)
    if resp.status < 400 or resp.prepared or resp.content_type == MEDIA or not isinstance(resp, web.Response):
        return resp
    return _rewrite(request, resp.status, resp.text, dict(resp.headers))


def _rewrite(request: web.Request, status: int, text: str | None, headers: dict[str, str]) -> web.Response:
    detail = None
    try:
        parsed = json.loads(text or "")
        if isinstance(parsed, dict) and isinstance(parsed.get("error"), str):
            detail = parsed["error"]
    except ValueError:
        detail = (text or "").strip()[:300] or None
    keep = {k: v for k, v in headers.items() if k in ("Allow", "Retry-After", "WWW-Authenticate")}
    return response(status, detail, instance=request.path, headers=keep)
