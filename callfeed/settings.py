"""``[callfeed]`` settings (read as ``getattr(hub.settings, "callfeed", CallFeedSettings())``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CallFeedSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    queues: dict[str, str] = Field(default_factory=dict, description=(
        "queue name → department (its name or id); without an entry a queue belongs to the departments of its "
        "members"))
    dids: dict[str, str] = Field(default_factory=dict, description=(
        "dialed number → department (name or id), for calls not (yet) in a queue"))
    coalesce_ms: int = Field(default=50, ge=0, le=5000, description="changes close together go out as one frame")
    min_interval_ms: int = Field(default=250, ge=0, le=10000, description=(
        "frames go out at most this often; under a burst of calls what changed meanwhile goes in the next one "
        "(every supervisor's page holds the feed: a frame per call event was as many sends again as the "
        "wallboard's)"))
    refresh_s: float = Field(default=15.0, gt=0, description="who watches, the bin and the mapping re-read")
    max_cards: int = Field(default=50, ge=1, le=500, description="cards per department frame (longest wait first)")
