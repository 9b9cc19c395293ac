from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class SmsSettings(BaseModel):
    """Outgoing SMS (reminders, notifications) through SMS.ru's HTTP API. Secrets only from here or the
    environment: HUB_SMS__API_ID, HUB_SMS__REPORT_SECRET."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    api_id: SecretStr | None = Field(default=None, description="The SMS.ru account's api_id")
    sender: str = Field(default="", max_length=11, description="An approved sender name (empty: SMS.ru's default)")
    api_url: str = Field(default="https://sms.ru", description="SMS.ru's address (tests: a fake)")
    report_secret: SecretStr | None = Field(default=None, description=(
        "The last part of the delivery reports' address (SMS.ru signs nothing, so the address is the secret)"))
    report_path: str = "/sms/status"
    daily_cap: int = Field(default=300, ge=0, description="At most this many SMS in 24 hours (0: none are sent)")
    max_text: int = Field(default=670, ge=70, le=2000, description="Longest text (670: ten Cyrillic parts)")
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    timeout_s: float = Field(default=20.0, gt=0, le=120)
    max_retry_after_s: float = Field(default=5.0, ge=0)
