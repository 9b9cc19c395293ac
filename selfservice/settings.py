"""``[selfservice]`` settings (read as ``getattr(hub.settings, "selfservice", SelfServiceSettings())``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SelfServiceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    public_url: str | None = Field(default=None, description=(
        "the address clients open the link at (default: [web] public_url, else the request's own)"))
    link_minutes: int = Field(default=30, ge=1, le=1440, description="a sign-in link works this long, once")
    session_minutes: int = Field(default=60, ge=5, le=1440, description="the client's page stays open this long")
    links_per_client_per_hour: int = Field(default=5, ge=1, description="more link requests are refused")
    per_ip_per_minute: int = Field(default=20, ge=1, description="sign-in attempts per address")
    agency_name: str = "Агентство недвижимости"
    agency_phone: str = ""
