"""How several hub instances work together: the broker that carries live pushes between them and the timing
of the leaderships (one consumer per PBX, mailbox, bot and SLA scheduler)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ClusterSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    broker: Literal["postgres", "redis", "nats"] = "postgres"
    """postgres: LISTEN/NOTIFY on the hub's own database (only when the database is PostgreSQL)."""
    redis_url: str = "redis://127.0.0.1:6379/0"
    nats_url: str = "nats://127.0.0.1:4222"
    channel: str = Field("hub_push", pattern=r"^[a-z_][a-z0-9_.]{0,62}$")
    lease_s: float = Field(5.0, ge=1.0, le=60.0)
    """A leader silent this long loses its lock (the server ends its session) and fences itself."""
    heartbeat_s: float = Field(1.0, ge=0.1, le=20.0)
    """How often the leader renews its lease, and a standby retries the lock."""

    @model_validator(mode="after")
    def _heartbeat_within_lease(self) -> ClusterSettings:
        if self.heartbeat_s * 2 > self.lease_s:
            raise ValueError("heartbeat_s must be at most half of lease_s")
        return self

    @property
    def leader_timing(self) -> dict[str, float]:
        """Keyword arguments for ``bus.leader.LedConnector``/``Leadership``."""
        return {"lease_s": self.lease_s, "heartbeat_s": self.heartbeat_s}
