"""The DID → advertising source table: read when a call opens an inquiry, edited on the sources page.

Seeded once from the ``[dids]`` settings section (the first start after the table appeared); from then on
the page is where the table is kept, and the settings section is not read again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.models import ConnectorState, utcnow
from crm_core.models.call_sources import DidSource

log = logging.getLogger("hub.did_sources")
SEEDED = "did_sources.seeded"
_NOT_DIGIT = re.compile(r"\D")


def did_key(did: str | None) -> str:
    """A dialed number as the table keeps it: its digits, a Russian 8… written as 7… (``+7 (495) 000-00-01``,
    ``84950000001`` and ``74950000001`` are one number)."""
    digits = _NOT_DIGIT.sub("", did or "")
    if len(digits) == 11 and digits.startswith("8"):
        digits = "7" + digits[1:]
    return digits


async def source_of(s: AsyncSession, did: str | None) -> str | None:
    key = did_key(did)
    if not key:
        return None
    return (await s.execute(select(DidSource.source).where(DidSource.did == key))).scalar()


async def all_sources(s: AsyncSession) -> list[DidSource]:
    return list((await s.execute(select(DidSource).order_by(DidSource.did))).scalars())


async def save_source(s: AsyncSession, did: str, source: str, actor_id: int | None) -> DidSource:
    key = did_key(did)
    if not key or not source.strip():
        raise ValueError("a number and a source are both needed")
    row = await s.get(DidSource, key)
    if row is None:
        row = DidSource(did=key, source=source.strip()[:200], updated_by=actor_id)
        s.add(row)
    else:
        row.source, row.updated_by = source.strip()[:200], actor_id
    await s.flush()
    return row


async def delete_source(s: AsyncSession, did: str) -> bool:
    result = await s.execute(delete(DidSource).where(DidSource.did == did_key(did)))
    return bool(getattr(result, "rowcount", 0))  # a CursorResult for a DELETE


async def seed_once(sessions: async_sessionmaker[AsyncSession], dids: Mapping[str, str]) -> int:
    """Copy the ``[dids]`` settings into the table, once per database (an admin's later deletions stay
    deleted). Returns the rows added."""
    async with sessions() as s:
        if await s.get(ConnectorState, SEEDED) is not None:
            return 0
    added = 0
    try:
        async with sessions() as s, s.begin():
            s.add(ConnectorState(key=SEEDED, value={"from_settings": len(dids)}, updated_at=utcnow()))
            await s.flush()  # a second instance seeding at the same moment stops here
            for did, source in dids.items():
                key = did_key(did)
                if key and source.strip() and await s.get(DidSource, key) is None:
                    s.add(DidSource(did=key, source=source.strip()[:200]))
                    added += 1
    except IntegrityError:
        return 0
    log.info("did sources seeded from the settings: %d", added)
    return added
