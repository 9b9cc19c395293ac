from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class AvitoSettings(BaseModel):
    """The agency's Avito account (messenger API). Secrets only from here or the environment:
    HUB_AVITO__CLIENT_ID, HUB_AVITO__CLIENT_SECRET, HUB_AVITO__WEBHOOK_SECRET."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    client_id: str = Field(default="", max_length=200, description="The application's client_id (developers.avito.ru)")
    client_secret: SecretStr | None = Field(default=None, description="The application's client_secret")
    user_id: int = Field(default=0, ge=0, description="The agency's Avito account id (the messenger's user_id)")
    webhook_secret: SecretStr | None = Field(default=None, description=(
        "A long random string: the last part of the webhook's address (Avito signs nothing, so the address is "
        "the secret)"))
    public_url: str = Field(default="", max_length=500, description=(
        "The hub's public https address; when set, the hub subscribes its webhook (messenger v3) at start"))
    webhook_path: str = "/avito/webhook"
    api_url: str = Field(default="https://api.avito.ru", description="Avito API address (tests: a fake)")
    listings: dict[str, int] = Field(default_factory=dict, description=(
        "Avito listing id → the hub's property id: a chat under that listing carries the property"))
    history_limit: int = Field(default=20, ge=0, le=100, description="Earlier messages fetched on a chat's first sight")
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    timeout_s: float = Field(default=20.0, gt=0, le=120)
    max_retry_after_s: float = Field(default=5.0, ge=0, description="Longest pause waited inline on a 429")
    join_window_days: float = Field(default=30.0, ge=0, description=(
        "A message joins the client's open inquiry (any channel) active within this many days"))
