"""Clients out to CSV that a spreadsheet opens safely: a cell never becomes a formula.

The columns are the importer's own headers, so an exported file imports back to the same clients.
Encode the text as ``utf-8-sig`` for Excel to show Cyrillic.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.importer.limits import csv_safe
from crm_core.models import Client, Contact, ContactKind, MemorableDate, Segment, client_segments

EXPORT_HEADER = ("ФИО", "Компания", "Телефон", "Email", "Примечание", "День рождения", "Сегмент")
PARTITION = 1000


def export_clients_csv(rows: Iterable[Sequence[object]], header: Sequence[str] = EXPORT_HEADER) -> str:
    """CSV (``;``, CRLF) of the given rows; every cell that starts like a formula is prefixed with ``'``."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([csv_safe(h) for h in header])
    for row in rows:
        writer.writerow([csv_safe(v) for v in row])
    return out.getvalue()


async def export_clients(session: AsyncSession, clients: Select) -> str:
    """Export the clients an access-scoped select gives (e.g. ``crm_core.access.scoped_clients(actor)``)."""
    query = clients.with_only_columns(
        Client.id, Client.kind, Client.name, Client.company_name, Client.note
    ).order_by(Client.id)
    lines: list[list[object]] = []
    result = await session.stream(query)
    async for part in result.partitions(PARTITION):
        ids = [r.id for r in part]
        contacts: dict[tuple[int, str], list[str]] = {}
        for client_id, kind, value in await session.execute(
            select(Contact.client_id, Contact.kind, Contact.value)
            .where(Contact.client_id.in_(ids), Contact.kind.in_((ContactKind.PHONE, ContactKind.EMAIL)))
            .order_by(Contact.id)
        ):
            contacts.setdefault((client_id, kind), []).append(value)
        birthdays = dict((await session.execute(
            select(MemorableDate.client_id, MemorableDate.on)
            .where(MemorableDate.client_id.in_(ids), MemorableDate.kind == "birthday")
        )).all())
        segments: dict[int, list[str]] = {}
        for client_id, name in await session.execute(
            select(client_segments.c.client_id, Segment.name)
            .join(Segment, Segment.id == client_segments.c.segment_id)
            .where(client_segments.c.client_id.in_(ids)).order_by(Segment.name)
        ):
            segments.setdefault(client_id, []).append(name)
        for r in part:
            company_only = r.kind == "company" and r.name == (r.company_name or "")
            born = birthdays.get(r.id)
            lines.append([
                "" if company_only else r.name, r.company_name or "",
                ", ".join(contacts.get((r.id, ContactKind.PHONE), [])),
                ", ".join(contacts.get((r.id, ContactKind.EMAIL), [])),
                r.note or "", born.strftime("%d.%m.%Y") if born else "", ", ".join(segments.get(r.id, [])),
            ])
    return export_clients_csv(lines)
