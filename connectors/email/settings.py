from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class EmailSettings(BaseModel):
    """Mail in (IMAP) and out (SMTP). Passwords only from here or the environment; never logged."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    from_address: str = Field(default="hub@localhost", max_length=320)
    from_name: str = Field(default="Агентство недвижимости", max_length=200)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: str = Field(default="none", pattern="^(none|starttls|tls)$")
    smtp_timeout_s: float = Field(default=20.0, gt=0, le=300)
    retry_delays_s: tuple[float, ...] = Field(default=(60, 300, 1800, 7200),
                                              description="Waits between attempts after a temporary failure")
    imap_host: str = "127.0.0.1"
    imap_port: int = Field(default=993, ge=1, le=65535)
    imap_user: str | None = None
    imap_password: SecretStr | None = None
