"""The hub's one settings schema.

Every section is a pydantic model; unknown keys are refused so a typo in the
TOML file stops start-up instead of being silently ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from agency.settings import AgencySettings
from bus.settings import ClusterSettings
from callfeed.settings import CallFeedSettings
from connectors.asterisk.settings import AsteriskSettings
from connectors.avito.settings import AvitoSettings
from connectors.email.settings import EmailSettings
from connectors.sms.settings import SmsSettings
from connectors.telegram.settings import TelegramSettings
from connectors.vk.settings import VkSettings
from connectors.webforms.settings import WebFormsSettings
from connectors.whatsapp.settings import WhatsAppSettings
from notifications.settings import NotificationSettings
from ops.settings import BackupSettings
from privacy.settings import PrivacySettings
from reports.settings import ReportSettings
from routing.settings import RoutingSettings
from selfservice.settings import SelfServiceSettings
from speech.settings import SpeechSettings
from wallboard.settings import WallboardSettings
from webhooks.settings import WebhookSettings
from workflow.settings import WorkflowSettings


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(Section):
    url: str = Field(
        default="sqlite+aiosqlite:///./var/hub.sqlite3",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB",
    )
    password: SecretStr | None = Field(default=None, description="Database password (kept out of the URL)")
    connect_retries: int = Field(default=30, ge=0, description="Attempts to reach the database at start")
    retry_delay_s: float = Field(default=2.0, gt=0, le=60)
    busy_timeout_ms: int = Field(default=5000, ge=0, description="SQLite busy timeout")
    sqlite_one_hop: bool = Field(default=True, description="SQLite: each statement one trip to the database "
                                 "thread (crm_core/sqlite_onehop.py); false: SQLAlchemy's stock aiosqlite cursor")
    pool_size: int = Field(default=10, ge=1, le=200)
    idle_in_transaction_timeout_s: float = Field(
        default=5.0, ge=0, description="PostgreSQL aborts a transaction left idle this long (0: never), so an "
        "instance that froze or lost its network mid-transaction does not hold its locks over the others")

    @field_validator("url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value


class WebSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str | None = Field(default=None, description="External URL, used for the WebSocket Origin check")
    secure_cookies: bool = Field(default=False, description="Set the Secure flag on cookies (behind HTTPS)")
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    login_attempts: int = Field(default=5, ge=1, description="Failed logins allowed per window for one login from "
                                "one address; past it the login (from anywhere) is only slowed down, never locked")
    login_window_s: int = Field(default=300, ge=1)
    trusted_proxies: tuple[str, ...] = Field(
        default=(), description="Reverse proxies (addresses or CIDRs) whose X-Forwarded-For is believed: the "
        "client is its right-most address not in this list. Empty: the connecting address is the client")
    ws_queue_size: int = Field(default=256, ge=1, description="Frames queued per browser socket before it is cut")
    ws_heartbeat_s: float = Field(default=20.0, gt=0)
    default_locale: Literal["ru", "en"] = "ru"

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        import ipaddress

        try:
            return tuple(str(ipaddress.ip_network(item.strip(), strict=False)) for item in value)
        except ValueError as exc:
            raise ValueError(f"not an address or network: {exc}") from None


class PhoneSettings(Section):
    default_region: str = Field(default="RU", min_length=2, max_length=2)


class StorageSettings(Section):
    var_dir: Path = Path("./var")


class LogSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = Field(default="text", description="json: one JSON object a line")
    levels: dict[str, Literal["DEBUG", "INFO", "WARNING", "ERROR"]] = Field(
        default_factory=dict, description='Per component, e.g. {"hub.telephony" = "DEBUG"}')


class Settings(Section):
    database: DatabaseSettings = DatabaseSettings()
    web: WebSettings = WebSettings()
    phones: PhoneSettings = PhoneSettings()
    storage: StorageSettings = StorageSettings()
    asterisk: AsteriskSettings = AsteriskSettings()
    routing: RoutingSettings = RoutingSettings()
    speech: SpeechSettings = SpeechSettings()
    reports: ReportSettings = ReportSettings()
    agency: AgencySettings = Field(default_factory=AgencySettings)  # reads HUB_AGENCY__* when built
    telegram: TelegramSettings = TelegramSettings()
    vk: VkSettings = VkSettings()
    whatsapp: WhatsAppSettings = WhatsAppSettings()
    avito: AvitoSettings = AvitoSettings()
    sms: SmsSettings = SmsSettings()
    email: EmailSettings = EmailSettings()
    webforms: WebFormsSettings = WebFormsSettings()
    log: LogSettings = LogSettings()
    backup: BackupSettings = BackupSettings()
    cluster: ClusterSettings = ClusterSettings()
    wallboard: WallboardSettings = WallboardSettings()
    workflow: WorkflowSettings = WorkflowSettings()
    notifications: NotificationSettings = NotificationSettings()
    callfeed: CallFeedSettings = CallFeedSettings()
    selfservice: SelfServiceSettings = SelfServiceSettings()
    webhooks: WebhookSettings = WebhookSettings()
    privacy: PrivacySettings = PrivacySettings()
    time_zone: str = "Europe/Moscow"
    dids: dict[str, str] = Field(default_factory=dict, description="DID (dialed number) → advertising source")

    @model_validator(mode="after")
    def _one_time_zone(self) -> Settings:
        """One time zone for the agency: the working hours (deadlines, rotas, ``simulate``) use ``time_zone``
        unless ``[routing.hours] time_zone`` is set on purpose."""
        hours = self.routing.hours
        if "time_zone" not in hours.model_fields_set and hours.time_zone != self.time_zone:
            zoned = type(hours).model_validate({**hours.model_dump(), "time_zone": self.time_zone})
            object.__setattr__(self, "routing", self.routing.model_copy(update={"hours": zoned}))
        return self
