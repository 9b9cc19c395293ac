"""API tokens, pure: making one, its digest, its scopes, its address allow-list, its rate.

The token's text is ``hub_`` and 43 characters of 256 random bits. Only its SHA-256 is stored: with that much
randomness a digest cannot be reversed or guessed (no salt or slow hash is needed, unlike passwords), a copy
of the table gives no usable key, and a request costs one hash, not argon2's tens of milliseconds.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

PREFIX = "hub_"
RESOURCES = ("clients", "inquiries", "calls", "tasks", "deals", "properties", "reports", "users", "departments")
"""What a scope names; each is read (``<resource>:read``) or change (``<resource>:write``, implies read)."""
ACCESS = ("read", "write")
ALL_SCOPES = tuple(f"{r}:{a}" for r in RESOURCES for a in ACCESS)


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def looks_like_token(text: str) -> bool:
    return text.startswith(PREFIX) and 20 <= len(text) <= 100 and text.isascii()


def allows(scopes: Iterable[str], resource: str, write: bool) -> bool:
    granted = set(scopes)
    return f"{resource}:write" in granted or (not write and f"{resource}:read" in granted)


def clean_scopes(scopes: Iterable[str]) -> list[str]:
    """Known scopes only, in the fixed order; a write scope brings its read scope along."""
    granted = set(scopes)
    for resource in RESOURCES:
        if f"{resource}:write" in granted:
            granted.add(f"{resource}:read")
    return [s for s in ALL_SCOPES if s in granted]


def parse_networks(text: str) -> list[str]:
    """An allow-list typed by the administrator (one address or network a line, or comma-separated)."""
    networks = []
    for part in text.replace(",", "\n").splitlines():
        part = part.strip()
        if part:
            networks.append(str(ipaddress.ip_network(part, strict=False)))  # ValueError names the bad one
    return networks


def address_allowed(address: str | None, networks: Iterable[str]) -> bool:
    nets = list(networks)
    if not nets:
        return True
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in ipaddress.ip_network(n) for n in nets if ipaddress.ip_network(n).version == ip.version)


@dataclass
class Bucket:
    """A token bucket: ``rate`` requests a minute, as a burst or spread out."""

    rate: int
    tokens: float = -1.0
    at: float = 0.0

    def take(self, now: float) -> int:
        """0 when the request may go, else the seconds to wait (``Retry-After``)."""
        per_s = self.rate / 60.0
        if self.tokens < 0:
            self.tokens, self.at = float(self.rate), now
        self.tokens = min(float(self.rate), self.tokens + (now - self.at) * per_s)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0
        return max(1, math.ceil((1.0 - self.tokens) / per_s))


@dataclass
class Buckets:
    """One bucket per token, in this process (each instance of a cluster limits on its own)."""

    buckets: dict[int, Bucket] = field(default_factory=dict)

    def take(self, token_id: int, rate: int, now: float) -> int:
        bucket = self.buckets.get(token_id)
        if bucket is None or bucket.rate != rate:
            bucket = self.buckets[token_id] = Bucket(rate)
        return bucket.take(now)
