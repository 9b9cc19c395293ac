"""Corrections to a client's card by whoever answers for the client: name, company, new phone or email."""

from __future__ import annotations

import logging

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bus.bus import EventBus
from bus.events import ClientChanged
from crm_core.access import Actor, get_client
from crm_core.forms import blank_to_none
from crm_core.models import Contact, ContactKind, TimelineEntry, utcnow
from crm_core.phones import BadPhone, normalize_email, normalize_phone

log = logging.getLogger("hub.clients")


class ContactTaken(ValueError):
    """The phone or email already belongs to another client."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


class ClientUpdate(BaseModel):
    name: str | None = Field(default=None, max_length=300)
    company_name: str | None = Field(default=None, max_length=300)
    add_phone: str | None = Field(default=None, max_length=40)
    add_email: str | None = Field(default=None, max_length=320)
    region: str = "RU"

    @field_validator("name", "company_name", "add_phone", "add_email", mode="before")
    @classmethod
    def _blank_is_none(cls, v: object) -> object:
        return blank_to_none(v)

    @field_validator("add_email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        return normalize_email(v) if v else None

    def phone_e164(self) -> str | None:
        if not self.add_phone:
            return None
        try:
            return normalize_phone(self.add_phone, self.region)
        except BadPhone as exc:
            raise ValueError(str(exc)) from None


async def update_client(
    sessions: async_sessionmaker[AsyncSession], actor: Actor, client_id: int, change: ClientUpdate,
    bus: EventBus | None = None,
) -> list[str]:
    phone = change.phone_e164()
    changed: list[str] = []
    now = utcnow()
    async with sessions() as s, s.begin():
        client = await get_client(s, actor, client_id, write=True)
        for field in ("name", "company_name"):
            value = getattr(change, field)
            if value is not None and value.strip() != (getattr(client, field) or ""):
                setattr(client, field, value.strip())
                changed.append(field)
        for kind, value, field in ((ContactKind.PHONE, phone, "add_phone"),
                                   (ContactKind.EMAIL, change.add_email, "add_email")):
            if value is None:
                continue
            owner = (await s.execute(select(Contact.client_id).where(Contact.kind == kind,
                                                                     Contact.value == value))).scalar()
            if owner is not None and owner != client.id:
                raise ContactTaken(field)
            if owner is None:
                s.add(Contact(client_id=client.id, kind=kind, value=value))
                changed.append(field)
        if changed:
            s.add(TimelineEntry(client_id=client.id, at=now, kind="client_updated", actor_id=actor.user_id,
                                summary=", ".join(changed)))
    if changed:
        log.info("client=%s updated by user=%s: %s", client_id, actor.user_id, ",".join(changed))
        if bus is not None:  # outgoing webhooks (client.changed), after the commit
            await bus.publish(ClientChanged(client_id, tuple(changed), actor.user_id))
    return changed
