from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class WhatsAppSettings(BaseModel):
    """The agency's WhatsApp Business number on the Cloud API. Secrets only from here or the environment:
    HUB_WHATSAPP__ACCESS_TOKEN, HUB_WHATSAPP__APP_SECRET, HUB_WHATSAPP__VERIFY_TOKEN."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    phone_number_id: str = Field(default="", max_length=40, description="The business number's id in Meta")
    access_token: SecretStr | None = Field(default=None, description="A system user's token (messages, media)")
    app_secret: SecretStr | None = Field(default=None, description="The app secret: X-Hub-Signature-256 key")
    verify_token: SecretStr | None = Field(default=None, description="The webhook's verify token (hub.verify_token)")
    webhook_path: str = "/whatsapp/webhook"
    graph_url: str = Field(default="https://graph.facebook.com", description="Graph API address (tests: a fake)")
    api_version: str = "v21.0"
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_media_bytes: int = Field(default=16 * 1024 * 1024, ge=0, description="Media above it are not downloaded")
    timeout_s: float = Field(default=20.0, gt=0, le=120)
    max_retry_after_s: float = Field(default=5.0, ge=0, description="Longest pause waited inline on a 429")
    window_hours: float = Field(default=24.0, gt=0, le=24, description=(
        "WhatsApp's customer service window: free-form replies only this long after the client's last message"))
    template_name: str = Field(default="", max_length=512, description=(
        "An approved template with one body parameter, sent instead of the reply outside the window "
        "(empty: such a reply is refused with the reason)"))
    template_language: str = Field(default="ru", max_length=15)
    join_window_days: float = Field(default=30.0, ge=0, description=(
        "A message joins the client's open inquiry (any channel) active within this many days"))
