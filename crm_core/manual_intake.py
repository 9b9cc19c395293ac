"""Inquiries that reach the agency outside the connectors: a walk-in visit, a lead from the mobile operator,
a recommendation. The agent types them in; they go through the same intake service (the same client
identification and de-duplication, the same routing through its InquiryOpened event). The form carries a
one-time token, so a double click or a resent form gives one inquiry.

The advertising source of any inquiry can be set or corrected by whoever may change the inquiry.
"""

from __future__ import annotations

import logging
import re

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.access import Actor, get_inquiry
from crm_core.forms import blank_to_none
from crm_core.intake import IntakeRequest, IntakeResult, IntakeService
from crm_core.models import Channel, InquiryEvent, TimelineEntry, utcnow
from crm_core.phones import normalize_email, try_normalize_phone

log = logging.getLogger("hub.manual_intake")

KINDS = ("visit", "mobile_operator", "recommendation")
CHANNEL = {"visit": Channel.VISIT, "mobile_operator": Channel.MANUAL, "recommendation": Channel.MANUAL}
DEFAULT_SOURCE = {"visit": "Визит в офис", "mobile_operator": "Мобильный оператор", "recommendation": "Рекомендация"}
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class ManualInquiry(BaseModel):
    kind: str
    token: str
    name: str | None = Field(default=None, max_length=300)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=320)
    text: str | None = Field(default=None, max_length=5000)
    source: str | None = Field(default=None, max_length=200)
    recommended_by: str | None = Field(default=None, max_length=300)
    region: str = "RU"

    @field_validator("*", mode="before")
    @classmethod
    def _blank(cls, v: object) -> object:
        v = blank_to_none(v)
        return v.strip() if isinstance(v, str) else v

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if v not in KINDS:
            raise ValueError("visit, mobile_operator or recommendation")
        return v

    @field_validator("token")
    @classmethod
    def _token(cls, v: str) -> str:
        if not TOKEN_RE.match(v):
            raise ValueError("the form is out of date: open it again")
        return v

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            return normalize_email(v)
        except ValueError:
            raise ValueError("not an email address") from None

    @model_validator(mode="after")
    def _reachable(self) -> ManualInquiry:
        if self.phone is not None and try_normalize_phone(self.phone, self.region) is None:
            raise PydanticCustomError("phone", "not a phone number")
        if self.phone is None and self.email is None:
            raise PydanticCustomError("contact", "a phone or an email is required to know the client")
        return self


def manual_request(data: ManualInquiry, actor: Actor) -> IntakeRequest:
    source = data.source or DEFAULT_SOURCE[data.kind]
    if data.kind == "recommendation" and data.recommended_by and not data.source:
        source = f"Рекомендация: {data.recommended_by}"[:200]
    return IntakeRequest(
        channel=CHANNEL[data.kind], external_id=f"manual:{data.token}", text=data.text or "",
        subject=(data.text or source).splitlines()[0][:200] if (data.text or source) else None,
        name=data.name, phone=data.phone, email=data.email, source=source[:200],
        meta={"manual_kind": data.kind, "registered_by": actor.user_id,
              **({"recommended_by": data.recommended_by} if data.recommended_by else {})},
    )


async def register(intake: IntakeService, actor: Actor, data: ManualInquiry) -> IntakeResult:
    result = await intake.accept(manual_request(data, actor))
    log.info("manual inquiry kind=%s inquiry=%s client=%s new=%s duplicate=%s by user=%s", data.kind,
             result.inquiry_id, result.client_id, result.new_inquiry, result.duplicate, actor.user_id)
    return result


class SourceChange(BaseModel):
    source: str = Field(min_length=1, max_length=200)

    @field_validator("source", mode="before")
    @classmethod
    def _trim(cls, v: object) -> object:
        return " ".join(v.split()) if isinstance(v, str) else v


async def set_source(sessions: async_sessionmaker[AsyncSession], actor: Actor, inquiry_id: int,
                     change: SourceChange) -> bool:
    """Set or correct the advertising source; the old value stays in the history. False when unchanged."""
    now = utcnow()
    async with sessions() as s, s.begin():
        inquiry = await get_inquiry(s, actor, inquiry_id, write=True)
        if inquiry.source == change.source:
            return False
        old = inquiry.source
        inquiry.source = change.source
        s.add(InquiryEvent(inquiry_id=inquiry.id, at=now, actor_id=actor.user_id, kind="source",
                           note=f"{old or '—'} → {change.source}", data={"from": old, "to": change.source}))
        s.add(TimelineEntry(client_id=inquiry.client_id, at=now, kind="source", inquiry_id=inquiry.id,
                            actor_id=actor.user_id, summary=change.source))
    log.info("inquiry=%s source %r -> %r by user=%s", inquiry_id, old, change.source, actor.user_id)
    return True
