"""The ``[reports]`` settings: the KPI norm an agent is measured against, and export limits."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class KpiNorm(BaseModel):
    """What one agent is expected to do on one working day (Monday to Friday) and overall."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    answered_calls_per_day: float = Field(default=30, ge=0, description="answered calls a working day")
    talk_minutes_per_day: float = Field(default=120, ge=0, description="minutes of talk a working day")
    processed_share: float = Field(default=0.9, ge=0, le=1, description="share of received inquiries processed")
    conversion: float = Field(default=0.1, ge=0, le=1, description="share of received inquiries with a positive result")


class ReportSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kpi: KpiNorm = KpiNorm()
    page_rows: int = Field(default=500, ge=10, le=10_000, description="rows a report page shows")
    export_rows: int = Field(default=200_000, ge=100, le=1_000_000, description="rows an export holds at most")
    callback_buckets_min: tuple[int, ...] = Field(
        default=(5, 15, 60, 240, 1440), description="how fast a missed call was called back: bucket edges, minutes")


def report_settings(settings: object) -> ReportSettings:
    """The hub's ``[reports]`` section when the settings schema has one, the defaults otherwise."""
    found = getattr(settings, "reports", None)
    return found if isinstance(found, ReportSettings) else ReportSettings()
