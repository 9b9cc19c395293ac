"""How several hub instances share live pushes: the broker that carries them between instances."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class ClusterSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    broker: Literal["postgres", "redis", "nats"] = "postgres"
    """postgres: LISTEN/NOTIFY on the hub's own database (only when the database is PostgreSQL)."""
    redis_url: str = "redis://127.0.0.1:6379/0"
    nats_url: str = "nats://127.0.0.1:4222"
    channel: str = "hub_push"
