"""The ``[routing]`` settings section: working hours, the SLA thresholds, the scheduler's poll
interval, how long the agents' snapshot is kept."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from routing.calendar import WorkingHours
from routing.sla import SlaConfig


class RoutingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    hours: WorkingHours = WorkingHours()
    sla: SlaConfig = SlaConfig()
    sla_poll_s: float = Field(30.0, gt=0, le=3600)  # the scheduler also wakes at the next deadline
    # the agents' snapshot is kept this long between decisions (0: read for every decision); see DirectoryCache
    directory_ttl_s: float = Field(5.0, ge=0, le=300)
