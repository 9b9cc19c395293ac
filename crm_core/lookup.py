"""Who is calling: the caller-ID lookup behind the pop-up. One indexed query, columns only."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Client, Contact, ContactKind
from crm_core.phones import try_normalize_phone

_BY_PHONE = (
    select(Client.id, Client.name, Client.company_name, Client.owner_id)
    .join(Contact, Contact.client_id == Client.id)
    .where(Contact.kind == ContactKind.PHONE)
)


@dataclass(frozen=True, slots=True)
class ClientCard:
    client_id: int
    name: str
    company_name: str | None
    owner_id: int | None


async def find_client_by_phone(session: AsyncSession, raw_phone: str, region: str = "RU") -> ClientCard | None:
    """The client with this number in any format (8…, +7…, 7…, 9…), or None for unknown or garbage numbers."""
    e164 = try_normalize_phone(raw_phone, region)
    if e164 is None:
        return None
    row = (await session.execute(_BY_PHONE.where(Contact.value == e164))).first()
    return ClientCard(*row) if row else None
