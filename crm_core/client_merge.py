"""Two client records that are one person become one: a VK id, a WhatsApp number, a Telegram id and a phone
met as separate clients, merged when an agent says so (both cards must be theirs to change) or by the hub
when a WhatsApp number is a phone the agency already knows.

Every row that points at the client that goes (inquiries, messages, calls, contacts, timeline, deals…) is
moved to the one that stays, found from the schema's foreign keys, so a table added later is moved too.
Where a row would clash with the kept client's (a segment both are in), the kept one's stays."""

from __future__ import annotations

import logging

from sqlalchemy import and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core import audit
from crm_core.access import Actor, get_client
from crm_core.models import Base, Client, TimelineEntry, utcnow

log = logging.getLogger("hub.clients")


class SameClient(ValueError):
    """Both ids are the same client."""


async def merge_clients(s: AsyncSession, keep_id: int, gone_id: int, *, actor: Actor | None, reason: str) -> int:
    """Move everything of ``gone_id`` to ``keep_id`` and delete ``gone_id``; returns rows moved. ``actor``:
    the agent who asked (both clients must be theirs to write), None for the hub's own rule. The caller
    commits."""
    if keep_id == gone_id:
        raise SameClient("это тот же клиент / the same client")
    if actor is not None:
        keep = await get_client(s, actor, keep_id, write=True)
        gone = await get_client(s, actor, gone_id, write=True)
    else:
        found, lost = await s.get(Client, keep_id), await s.get(Client, gone_id)
        if found is None or lost is None:
            raise SameClient("клиент не найден / no such client")
        keep, gone = found, lost
    moved = 0
    clients = Base.metadata.tables["clients"]
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table is not clients:
                continue
            col = fk.parent
            for others in _clashing(table, col.name):
                twin = table.alias()
                await s.execute(delete(table).where(col == gone_id, select(twin).where(
                    twin.c[col.name] == keep_id, and_(*(twin.c[o] == table.c[o] for o in others))).exists()))
            result = await s.execute(update(table).where(col == gone_id).values({col.name: keep_id})
                                     .execution_options(synchronize_session=False))
            moved += getattr(result, "rowcount", 0) or 0
    await s.flush()
    if not keep.name and gone.name:
        keep.name = gone.name
    if keep.owner_id is None and gone.owner_id is not None:
        keep.owner_id, keep.department_id = gone.owner_id, gone.department_id
    s.expunge(gone)
    await s.execute(delete(Client).where(Client.id == gone_id))
    s.add(TimelineEntry(client_id=keep_id, at=utcnow(), kind="clients_merged",
                        actor_id=actor.user_id if actor else None, summary=f"№{gone_id}: {reason}"[:200]))
    await audit.record(s, actor.user_id if actor else None, "client.merge", f"client:{keep_id}",
                       {"merged": gone_id, "reason": reason, "rows": moved})
    log.info("client=%s merged into client=%s (%s rows) by user=%s", gone_id, keep_id, moved,
             actor.user_id if actor else "hub")
    return moved


def _clashing(table, column: str) -> list[list[str]]:  # noqa: ANN001 - sqlalchemy Table
    """For each unique key or primary key holding ``column``: its other columns."""
    keys = [c for c in table.constraints if type(c).__name__ in ("UniqueConstraint", "PrimaryKeyConstraint")]
    keys += [i for i in table.indexes if i.unique]
    found = []
    for key in keys:
        names = [c.name for c in key.columns]
        if column in names and len(names) > 1:
            found.append([n for n in names if n != column])
    return found
