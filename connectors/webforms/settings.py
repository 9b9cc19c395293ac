from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class WebFormsSettings(BaseModel):
    """The public endpoint that websites post their request forms to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    path: str = Field(default="/forms/{site}", description="{site} names the website in the source")
    allowed_origins: tuple[str, ...] = Field(default=(), description="Sites allowed to post from a browser (CORS)")
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=10 * 1024 * 1024)
    max_field_chars: int = Field(default=5000, ge=100, le=100_000)
    per_ip_per_minute: int = Field(default=20, ge=1)
    max_in_flight: int = Field(default=256, ge=1, description="Forms being stored at once before new ones get 503 "
                               "(four of intake's groups of 64: a short stall queues forms, it does not refuse them)")
    honeypot_field: str = "website"
