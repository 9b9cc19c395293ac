"""``[privacy]`` settings: retention periods, hidden phone numbers, the access log and its watch.

Read as ``getattr(hub.settings, "privacy", PrivacySettings())``. A period of 0 days keeps that kind forever.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RetentionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    recordings_days: int = Field(default=365, ge=0, description="call recordings: files deleted, calls stay")
    transcripts_days: int = Field(default=365, ge=0, description="transcripts' text and words cleared")
    messages_days: int = Field(default=1095, ge=0, description="messages' text cleared, attachments deleted")
    closed_inquiries_days: int = Field(default=1095, ge=0, description=(
        "inquiries closed this long ago: subject, history notes and timeline lines cleared (rows stay for reports)"))
    web_sessions_days: int = Field(default=30, ge=0, description="expired browser sessions removed")
    logs_days: int = Field(default=1095, ge=0, description="the access log's rows removed")
    hour: int = Field(default=3, ge=0, le=23, description="the daily run's hour, agency time")
    batch: int = Field(default=1000, ge=10, le=20000, description="rows per transaction")


class PrivacySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    marketing_needs_consent: bool = Field(default=True, description=(
        "greetings and other marketing go only to clients who agreed to marketing"))
    retention: RetentionSettings = RetentionSettings()
    masked_roles: tuple[str, ...] = Field(default=(), description=(
        "roles that see clients' phone numbers masked (+7 916 ***-**-67), e.g. [\"agent\"]"))
    masked_departments: tuple[int, ...] = Field(default=(), description=(
        "department ids whose staff see numbers masked (an administrator and the DPO always see them)"))
    access_flush_s: float = Field(default=1.0, gt=0, le=60, description="the access log is written this often")
    access_buffer: int = Field(default=500, ge=1, le=100000, description="…or as soon as this many rows wait")
    unusual_min_cards: int = Field(default=40, ge=1, description=(
        "a user opening at least this many client cards in an hour …"))
    unusual_factor: float = Field(default=5.0, ge=1, description=(
        "… and this many times their usual hourly count (over the last 14 days) is reported to admins"))
    check_every_s: float = Field(default=900.0, gt=0, description="how often the unusual reading is looked for")
    exports_keep_h: float = Field(default=24.0, gt=0, description="a client's export ZIP is deleted after this")
