"""The ``[webhooks]`` settings section (defaults that work without any configuration)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class WebhookSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    timeout_s: float = Field(10.0, gt=0, le=120)  # one POST, connect to last byte; past it: a failed attempt
    retry_base_s: float = Field(30.0, gt=0, le=3600)  # the first retry waits this long, each next one twice as long
    retry_max_s: float = Field(3600.0, gt=0, le=86400)  # the longest wait between two attempts
    give_up_after_s: float = Field(86400.0, gt=0, le=7 * 86400)  # retried for 24 h from the event, then failed
    per_subscription: int = Field(4, ge=1, le=64)  # deliveries in flight to one receiver at once
    max_in_flight: int = Field(32, ge=1, le=512)  # deliveries in flight in all
    poll_s: float = Field(5.0, gt=0, le=300)  # the outbox is looked at this often (and at once on a new event)
    subscriptions_ttl_s: float = Field(10.0, ge=0, le=600)  # the active subscriptions are re-read this often
    task_scan_s: float = Field(30.0, gt=0, le=3600)  # due tasks are looked for this often
    allow_private: bool = True
    """Receivers on private and loopback addresses are allowed (an agency's 1С is often on its LAN). Link-local
    (169.254.0.0/16, cloud metadata), multicast and unspecified addresses are always refused."""
