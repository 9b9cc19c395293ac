"""The ``[agency]`` settings section, apart from agency.deals so reading settings imports no database code."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class AgencySettings(BaseSettings):
    """The ``[agency]`` settings section (config/settings.py); every key also from the environment
    (``HUB_AGENCY__RETRY_AFTER_MINUTES``, ``HUB_AGENCY__IMPORT_TOKEN`` …)."""

    model_config = SettingsConfigDict(env_prefix="HUB_AGENCY__", extra="forbid", frozen=True)

    retry_after_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    max_attempts: int = Field(default=5, ge=1, le=50)
    viewing_due_hours: int = Field(default=24, ge=1, le=24 * 30)
    lead_source: str = Field(default="Собственник (холодный обзвон)", max_length=200)
    import_token: SecretStr | None = Field(default=None, description="Bearer token of POST /api/agency/owner-leads")
    call_center_department: int | None = Field(default=None, description="Department that gets cold calls")
