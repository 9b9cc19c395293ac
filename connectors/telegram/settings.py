from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class TelegramSettings(BaseModel):
    """The company's Telegram bot. The token and webhook secret only from here or the environment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    token: SecretStr | None = None
    base_url: str = Field(default="https://api.telegram.org/bot", description="Bot API address (tests: a fake)")
    base_file_url: str = Field(default="https://api.telegram.org/file/bot", description="Where files are fetched")
    max_file_bytes: int = Field(default=20 * 1024 * 1024, ge=0,
                                description="Files above it are not downloaded (the Bot API serves up to 20 MB)")
    mode: str = Field(default="polling", pattern="^(polling|webhook)$")
    webhook_path: str = "/telegram/webhook"
    webhook_secret: SecretStr | None = None
    poll_timeout_s: int = Field(default=25, ge=0, le=50)
    max_retry_after_s: float = Field(default=60.0, ge=1, description="Longest flood-limit wait before giving up")
