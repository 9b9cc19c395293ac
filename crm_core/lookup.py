"""Who is calling: the caller-ID lookup behind the pop-up. One indexed query, columns only.

The statement is built once, on the tables rather than the mapped classes, with the number as a bound
parameter: each call then skips statement building and the ORM's result machinery, and SQLAlchemy finds
the compiled SQL in its cache. The query uses the UNIQUE (kind, value) index on contacts, then the
clients primary key.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Client, Contact, ContactKind
from crm_core.phones import try_normalize_phone

_clients = Client.__table__
_contacts = Contact.__table__

_BY_PHONE = (
    select(_clients.c.id, _clients.c.name, _clients.c.company_name, _clients.c.owner_id)
    .select_from(_contacts.join(_clients, _contacts.c.client_id == _clients.c.id))
    .where(_contacts.c.kind == ContactKind.PHONE.value, _contacts.c.value == bindparam("e164"))
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
    row = (await session.execute(_BY_PHONE, {"e164": e164})).first()
    return ClientCard(row[0], row[1], row[2], row[3]) if row is not None else None
