from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class VkSettings(BaseModel):
    """The agency's VK community (messages through the Callback API). Secrets only from here or the
    environment: HUB_VK__ACCESS_TOKEN, HUB_VK__SECRET."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    group_id: int = Field(default=0, ge=0, description="The community's id (the Callback API sends it)")
    access_token: SecretStr | None = Field(default=None, description="The community's access key (messages)")
    secret: SecretStr | None = Field(default=None, description="The Callback API's secret key")
    confirmation: str = Field(default="", max_length=100,
                              description="The string the server returns to confirm its address")
    webhook_path: str = "/vk/callback"
    api_url: str = Field(default="https://api.vk.com/method", description="VK API address (tests: a fake)")
    api_version: str = "5.199"
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    timeout_s: float = Field(default=20.0, gt=0, le=120)
    max_retry_after_s: float = Field(default=5.0, ge=0, description="Longest pause waited inline on a 429")
    join_window_days: float = Field(default=30.0, ge=0, description=(
        "A message joins the client's open inquiry (any channel) active within this many days (0: only "
        "the VK dialogue's own inquiry)"))
