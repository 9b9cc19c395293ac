"""What a website may send, validated field by field (messages in Russian first, then English)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from crm_core.phones import BadPhone, normalize_email, normalize_phone

LISTING_KEYS = ("price", "lat", "lon", "district", "metro", "deal_type", "property_type")
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
CONTROL = {c for c in range(32) if c not in (9, 10, 13)}


class FormSubmission(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=320)
    message: str = Field(default="", max_length=5000)
    page_url: str | None = Field(default=None, max_length=2000)
    referrer: str | None = Field(default=None, max_length=2000)
    idempotency_key: str | None = Field(default=None, min_length=8, max_length=200, pattern=r"^[A-Za-z0-9._:-]+$")
    utm_source: str | None = Field(default=None, max_length=200)
    utm_medium: str | None = Field(default=None, max_length=200)
    utm_campaign: str | None = Field(default=None, max_length=200)
    utm_content: str | None = Field(default=None, max_length=200)
    utm_term: str | None = Field(default=None, max_length=200)
    # the form's consent checkboxes (152-ФЗ): "on", "1", "yes", "да" … for ticked; absent or empty for not
    consent_processing: str | None = Field(default=None, max_length=20)
    consent_recording: str | None = Field(default=None, max_length=20)
    consent_marketing: str | None = Field(default=None, max_length=20)
    # the listing the form was sent from (a property page on the agency's site): routing rules match on these
    price: float | None = Field(default=None, ge=0, le=1e13)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    district: str | None = Field(default=None, max_length=200)
    metro: str | None = Field(default=None, max_length=200)
    deal_type: Literal["sale", "rent"] | None = None
    property_type: str | None = Field(default=None, max_length=100)

    @field_validator("*", mode="before")
    @classmethod
    def _text_only(cls, v: object) -> object:
        if v is None or isinstance(v, str):
            return None if v is not None and not v.strip() else v
        if isinstance(v, int | float) and not isinstance(v, bool):
            return str(v)
        raise ValueError("должно быть текстом / must be text")

    @field_validator("consent_processing", "consent_recording", "consent_marketing", mode="before")
    @classmethod
    def _checkbox(cls, v: object) -> object:
        """A JSON form may send a consent as true/false."""
        return ("1" if v else "0") if isinstance(v, bool) else v

    @field_validator("price", "lat", "lon", mode="before")
    @classmethod
    def _number(cls, v: object) -> object:
        """"25 000 000", "55,75" as a site may send them."""
        return v.replace(" ", "").replace("\u00a0", "").replace(",", ".") if isinstance(v, str) else v

    @field_validator("name", "phone", "email", "utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
    @classmethod
    def _single_line(cls, v: str | None) -> str | None:
        """No line breaks or control characters in one-line fields (they end up in headers and subjects)."""
        if v is not None and any(ord(c) in CONTROL or c in "\r\n" for c in v):
            raise ValueError("недопустимые символы / control characters are not allowed")
        return v

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        if v is None:
            return None
        try:
            return normalize_phone(v)
        except BadPhone:
            raise ValueError("не похоже на номер телефона / not a phone number") from None

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v is None:
            return None
        try:
            return normalize_email(v)
        except ValueError:
            raise ValueError("не похоже на email / not an email address") from None

    @model_validator(mode="after")
    def _reachable(self) -> FormSubmission:
        if not self.phone and not self.email:
            raise ValueError("укажите телефон или email / give a phone or an email")
        return self

    def listing(self) -> dict[str, str | float]:
        """The listing's details the form carried (only those given; lat and lon only together)."""
        out = {k: getattr(self, k) for k in LISTING_KEYS if getattr(self, k) is not None}
        if ("lat" in out) != ("lon" in out):
            out.pop("lat", None)
            out.pop("lon", None)
        return out

    def utm(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in UTM_KEYS if getattr(self, k)}

    def consents(self) -> dict[str, bool]:
        """The consents the form's checkboxes gave (only the ticked ones: an unticked box withdraws nothing)."""
        ticked = ("1", "on", "yes", "true", "да", "y")
        return {p: True for p in ("processing", "recording", "marketing")
                if (getattr(self, f"consent_{p}") or "").strip().lower() in ticked}


def field_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for err in exc.errors(include_input=False, include_url=False):
        key = str(err["loc"][0]) if err["loc"] else "form"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "string_too_long":
            message = f"слишком длинно / too long (max {err['ctx']['max_length']})"
        errors.setdefault(key, message)
    return errors
