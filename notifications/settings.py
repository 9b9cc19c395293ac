"""The ``[notifications]`` settings section (defaults that work without any configuration)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class NotificationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    poll_s: float = Field(30.0, gt=0, le=3600)  # dates, callbacks and retries are looked at this often
    retry_delays_s: tuple[float, ...] = (60, 300, 1800, 7200)  # Telegram/email; then the delivery fails
    link_code_ttl_s: int = Field(900, ge=60, le=86400)  # how long an agent's /link code is valid
    default_lead_days: int = Field(3, ge=0, le=60)  # reminder lead for dates without their own setting
    greeting_late_days: int = Field(3, ge=0, le=14)  # a greeting on a day off waits for the next working
    # time, at most this many days after the date; later it is not sent at all
    public_url: str = ""  # e.g. https://hub.example.ru: links in Telegram and email notices
    agency_name: str = "Агентство недвижимости"  # {agency} in greeting templates
    # SMS to clients (when [sms] is on; service messages, so no marketing consent is asked; the client's opt-out
    # and [sms] daily_cap apply): a reminder this many hours before a planned viewing, and «we will call you
    # back» when a missed call becomes a callback; none between sms_day_end and sms_day_start (agency's time)
    sms_viewing_reminders: bool = True
    sms_viewing_lead_hours: int = Field(24, ge=1, le=72)
    sms_callbacks: bool = True
    sms_day_start: int = Field(9, ge=0, le=23)
    sms_day_end: int = Field(21, ge=1, le=24)
