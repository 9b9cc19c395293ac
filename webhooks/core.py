"""The pure core of outgoing webhooks: the event types, the body, the signature, the back-off, the URL rule.

Values in, values out: no database, no sockets."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

EVENT_TYPES = (
    "call.ringing", "call.answered", "call.ended",
    "inquiry.opened", "inquiry.assigned", "inquiry.status_changed", "inquiry.closed",
    "message.received", "task.due", "deal.stage_changed", "client.changed",
)
TEST_EVENT = "ping"  # the «send a test event» button; goes to one subscription whatever its events
SIGNATURE_HEADER = "X-Hub-Signature"
MAX_URL = 2000


def envelope(delivery_id: str, event_type: str, occurred_at: datetime, data: dict[str, Any]) -> str:
    """The body posted for one delivery: compact JSON, the same bytes at every attempt."""
    return json.dumps({"id": delivery_id, "type": event_type, "occurred_at": occurred_at.isoformat(),
                       "data": data}, ensure_ascii=False, separators=(",", ":"), default=str)


def sign(secret: str, timestamp: int, body: str) -> str:
    """The signature header's value: ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: str, now: int, tolerance_s: int = 300) -> bool:
    """What a receiver does (docs/webhooks.md has it in Python and PHP): the signature matches and is fresh."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    if not parts.get("t", "").isdigit() or "v1" not in parts:
        return False
    timestamp = int(parts["t"])
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


def next_attempt(attempts: int, created_at: datetime, now: datetime, *, base_s: float, max_s: float,
                 give_up_after_s: float) -> datetime | None:
    """When to try again after ``attempts`` failed attempts (30 s, 1 min, 2 min, … at most ``max_s``), or None
    when the next try would fall past ``give_up_after_s`` from the event: the delivery has failed."""
    wait = min(max_s, base_s * 2 ** max(0, attempts - 1))
    at = now + timedelta(seconds=wait)
    if at - created_at > timedelta(seconds=give_up_after_s):
        return None
    return at


def retryable(status: int) -> bool:
    """A 2xx is delivered; anything else is tried again until the 24 h are over (a receiver being deployed
    answers 404 or 502 for a minute)."""
    return not 200 <= status < 300


class BadUrl(ValueError):
    """The address cannot be a receiver; ``code`` names why (a translation key's last part)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def refused_address(address: str, allow_private: bool) -> bool:
    """True for an IP address the hub never posts to: link-local (cloud metadata at 169.254.169.254),
    multicast, unspecified, reserved; and private or loopback ones unless ``allow_private``."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return True
    return not allow_private and (ip.is_private or ip.is_loopback)


def check_url(url: str, allow_private: bool = True) -> str:
    """The receiver's URL as stored, or ``BadUrl``: http or https only, a host, no user:password in it, and a
    literal IP address that ``refused_address`` allows (names are checked when they are resolved)."""
    url = url.strip()
    if not url or len(url) > MAX_URL:
        raise BadUrl("empty" if not url else "too_long")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BadUrl("invalid") from None
    if parts.scheme not in ("http", "https"):
        raise BadUrl("scheme")
    if not parts.hostname or port == 0:
        raise BadUrl("invalid")
    if parts.username is not None or parts.password is not None:
        raise BadUrl("credentials")
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return url
    if refused_address(str(literal), allow_private):
        raise BadUrl("address")
    return url
