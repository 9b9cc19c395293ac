"""The ``[wallboard]`` settings section."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class WallboardSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    service_level_s: int = Field(20, ge=1, le=3600)
    """A call answered within this many seconds of joining the queue counts toward the service level."""
    soon_overdue_min: int = Field(60, ge=1, le=7 * 24 * 60)
    """An inquiry whose next SLA step falls within this many minutes is listed as soon overdue."""
    coalesce_ms: float = Field(2.0, ge=0, le=1000)
    """After a quiet spell, a change waits this long for the changes that come with it (one frame for them all)."""
    min_interval_ms: float = Field(15.0, ge=0, le=5000)
    """Frames go out at most this often: under a burst, what changed meanwhile goes together in the next."""
    refresh_s: float = Field(10.0, gt=0, le=3600)
    """How often agents' load, SLA deadlines and flagged calls are re-read from the database."""
    supervisor_device: str = "PJSIP/{extension}"
    """The supervisor's phone that rings for listen/whisper/barge (Originate's Channel)."""
    spy_channel: str = "PJSIP/{extension}"
    """The agent's channel prefix ChanSpy looks for (``PJSIP/101`` spies on ``PJSIP/101-0000002a``)."""
    listen_options: str = "qbE"    # q: no beep, b: only a bridged call, E: leave when the call ends
    whisper_options: str = "qbEw"  # w: the agent hears the supervisor, the client does not
    barge_options: str = "qbEB"    # B: both hear the supervisor
    spy_timeout_s: int = Field(30, ge=5, le=300)
    """How long the supervisor's phone rings before the spy attempt is given up."""
    max_inquiries: int = Field(50, ge=1, le=1000)
    max_flags: int = Field(20, ge=1, le=500)
