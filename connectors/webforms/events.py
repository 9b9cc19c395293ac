from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class FormReceived:
    """A validated form from a website. ``external_id`` is its idempotency key."""

    external_id: str
    site: str
    name: str | None
    phone: str | None
    email: str | None
    message: str
    utm: dict = field(hash=False, default_factory=dict)
    page_url: str | None = None
    referrer: str | None = None
    client_ip: str | None = None
    consents: dict = field(hash=False, default_factory=dict)  # purpose → True for each ticked consent box
    listing: dict = field(hash=False, default_factory=dict)  # price, lat, lon, district, … of the listing page


@dataclass(frozen=True, slots=True)
class FormOutcome:
    inquiry_id: int
    duplicate: bool
