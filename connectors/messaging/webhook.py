"""What every provider's webhook does before it reads an event: a bounded body, JSON or a 400, and an
answer that makes the provider send it again when the hub could not take it."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from aiohttp import web


class BadBody(Exception):
    """The request cannot be an event: too large, not JSON, not an object. Answered 400, nothing stored."""


async def read_body(request: web.Request, limit: int) -> bytes:
    """The raw body (a signature is computed over these bytes), at most ``limit`` bytes."""
    if request.content_length is not None and request.content_length > limit:
        raise BadBody(f"body over {limit} bytes")
    body = await request.content.read(limit + 1)
    if len(body) > limit:
        raise BadBody(f"body over {limit} bytes")
    return body


def json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadBody("not JSON") from None
    if not isinstance(value, dict):
        raise BadBody("not a JSON object")
    return value


def same_secret(sent: object, expected: str) -> bool:
    """Constant-time comparison; an empty expected secret never matches (an unset secret opens nothing)."""
    return bool(expected) and isinstance(sent, str) and hmac.compare_digest(sent.encode(), expected.encode())


def hmac_sha256_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def bad_request(reason: str) -> web.Response:
    return web.json_response({"ok": False, "error": reason}, status=400)


def forbidden() -> web.Response:
    return web.json_response({"ok": False, "error": "forbidden"}, status=403)


def retry_later() -> web.Response:
    """The hub could not store the event (database away…): not a success, so the provider sends it again."""
    return web.json_response({"ok": False, "error": "not handled, retry"}, status=503, headers={"Retry-After": "5"})
