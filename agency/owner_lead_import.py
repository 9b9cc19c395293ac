"""Owner leads in bulk (the INTRUM process): a CSV/XLSX file or the API's rows, read in chunks, become
properties with their owner clients and one cold-call task each; a known (address, phone) pair is a repeat."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime

from pydantic import Field, ValidationError, field_validator
from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agency.property_forms import PropertyInput, address_key
from crm_core.importer.reading import TooLong, open_sheet
from crm_core.importer.report import ImportFileError
from crm_core.models import Client, Contact, ContactKind, Property, Task, TimelineEntry, utcnow
from crm_core.models.agency import OwnerLead
from crm_core.phones import try_normalize_phone

log = logging.getLogger("hub.properties")

LEAD_FIELDS = ("address", "phone", "owner_name", "district", "metro", "property_type", "deal_type", "price",
               "liquidity", "lat", "lon", "source")
_LEAD_ALIASES = {
    "address": ("адрес", "адрес объекта", "address", "object address"),
    "phone": ("телефон", "телефон собственника", "тел", "тел собственника", "контактный телефон", "phone",
              "owner phone", "mobile"),
    "owner_name": ("собственник", "владелец", "имя", "фио", "имя собственника", "owner", "owner name", "name"),
    "district": ("район", "district", "area"),
    "metro": ("метро", "станция метро", "metro", "subway"),
    "property_type": ("тип", "тип объекта", "вид объекта", "type", "property type"),
    "deal_type": ("сделка", "тип сделки", "вид сделки", "deal", "deal type"),
    "price": ("цена", "стоимость", "цена руб", "price"),
    "liquidity": ("ликвидность", "liquidity"),
    "lat": ("широта", "lat", "latitude"),
    "lon": ("долгота", "lon", "lng", "longitude"),
    "source": ("источник", "source", "площадка", "портал"),
}
_VALUE_ALIASES = {
    "property_type": {"квартира": "flat", "комната": "room", "дом": "house", "таунхаус": "townhouse",
                      "участок": "land", "земля": "land", "офис": "office", "торговое помещение": "retail",
                      "магазин": "retail", "склад": "warehouse", "гараж": "garage", "другое": "other"},
    "deal_type": {"продажа": "sale", "аренда": "rent", "продам": "sale", "сдам": "rent"},
    "liquidity": {"высокая": "high", "средняя": "medium", "низкая": "low"},
}
LEAD_CHUNK = 1000


def _header_key(text: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", text.lower().replace("ё", "е")).split())


def lead_columns(header: list[str]) -> dict[int, str]:
    """Column index → lead field, by the header's Russian or English names; address and phone required."""
    lookup = {_header_key(alias): name for name, aliases in _LEAD_ALIASES.items() for alias in aliases}
    columns: dict[int, str] = {}
    for i, title in enumerate(header):
        name = lookup.get(_header_key(str(title)))
        if name and name not in columns.values():
            columns[i] = name
    missing = [f for f in ("address", "phone") if f not in columns.values()]
    if missing:
        raise ImportFileError("нет столбцов: " + ", ".join({"address": "Адрес", "phone": "Телефон"}[m]
                                                           for m in missing))
    return columns


class LeadRow(PropertyInput):
    """One owner lead: a property with its owner's phone (the de-duplication key with the address)."""

    phone: str = Field(min_length=1, max_length=40)
    owner_name: str | None = Field(default=None, max_length=300)
    source: str | None = Field(default=None, max_length=200)

    @field_validator("property_type", "deal_type", "liquidity", mode="before")
    @classmethod
    def _russian_values(cls, v: object, info) -> object:  # noqa: ANN001
        if isinstance(v, str):
            key = v.strip().lower().replace("ё", "е")
            return _VALUE_ALIASES[info.field_name].get(key, key or None)
        return v


@dataclass(frozen=True, slots=True)
class LeadError:
    row: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"строка {self.row}, {self.field}: {self.message}"


@dataclass(slots=True)
class LeadImportReport:
    rows: int = 0
    created: int = 0
    duplicates: int = 0
    errors: list[LeadError] = dataclass_field(default_factory=list)
    lead_ids: list[int] = dataclass_field(default_factory=list)

    def summary(self) -> str:
        return (f"строк: {self.rows}, новых объектов: {self.created}, повторов: {self.duplicates}, "
                f"ошибок: {len(self.errors)}")


def _parse_lead(number: int, raw: dict[str, object], region: str) -> tuple[LeadRow | None, str | None,
                                                                              list[LeadError]]:
    data = {k: None if v is None else ("x" * 1001 if isinstance(v, TooLong) else str(v)) for k, v in raw.items()}
    try:
        row = LeadRow.model_validate(data)
    except ValidationError as exc:
        return None, None, [LeadError(number, str(e["loc"][0]) if e["loc"] else e["type"], e["msg"])
                            for e in exc.errors(include_input=False)]
    phone = try_normalize_phone(row.phone, region)
    if phone is None:
        return None, None, [LeadError(number, "phone", "not a phone number")]
    return row, phone, []


async def import_owner_leads(sessions: async_sessionmaker[AsyncSession], rows: AsyncIterator[list[tuple[int, dict]]],
                             *, department_id: int | None, source: str | None = None, region: str = "RU",
                             now: datetime | None = None, actor_id: int | None = None) -> LeadImportReport:
    """Owner leads from a file or the API, in chunks: each new (address, owner phone) becomes a property with its
    owner client and one cold-call task for the call-center department; a known pair is a repeat, never a
    second lead. Each chunk is one transaction; a chunk that collides with a simultaneous import is redone."""
    report = LeadImportReport()
    seen: set[tuple[str, str]] = set()
    async for chunk in rows:
        parsed: list[tuple[int, LeadRow, str, str]] = []
        for number, raw in chunk:
            report.rows += 1
            row, phone, errors = _parse_lead(number, raw, region)
            if errors:
                report.errors.extend(errors)
                continue
            assert row is not None and phone is not None
            key = (address_key(row.address), phone)
            if key in seen:
                report.duplicates += 1
                continue
            seen.add(key)
            parsed.append((number, row, key[0], phone))
        for attempt in range(3):
            try:
                created, repeats, ids = await _store_leads(sessions, parsed, department_id=department_id,
                                                           source=source, now=now or utcnow(), actor_id=actor_id)
                break
            except IntegrityError:
                if attempt == 2:
                    raise
        report.created += created
        report.duplicates += repeats
        report.lead_ids.extend(ids)
    log.info("owner leads imported: %s", report.summary())
    return report


async def _known_leads(s: AsyncSession, pairs: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (address, phone) pairs already imported: one probe of the unique index per pair on PostgreSQL (see
    _clients_by_phone); on SQLite by the address (the index's first column) and the pairs compared here, since
    an IN on both columns would probe every address × phone combination."""
    if (await s.connection()).dialect.name == "postgresql":
        rows = await s.execute(text(
            "SELECT v.a, v.p FROM unnest(CAST(:a AS varchar[]), CAST(:p AS varchar[])) AS v(a, p) "
            "WHERE EXISTS (SELECT 1 FROM agency_owner_leads l WHERE l.address_key = v.a AND l.phone = v.p)"
        ), {"a": [a for a, _ in pairs], "p": [p for _, p in pairs]})
        return {(r[0], r[1]) for r in rows}
    found = await s.execute(select(OwnerLead.address_key, OwnerLead.phone).where(
        OwnerLead.address_key.in_({a for a, _ in pairs})))
    return set(found.all()) & set(pairs)


async def _clients_by_phone(s: AsyncSession, phones: set[str]) -> dict[str, int]:
    """Known owners by phone. On PostgreSQL one index probe per phone (LATERAL … LIMIT 1): with a plain IN on a
    table that grows during the import, the planner, before its statistics catch up, scans every phone."""
    if (await s.connection()).dialect.name == "postgresql":
        rows = await s.execute(text(
            "SELECT v.value, c.client_id FROM unnest(CAST(:phones AS varchar[])) AS v(value) "
            "CROSS JOIN LATERAL (SELECT client_id FROM contacts WHERE kind = 'phone' AND value = v.value LIMIT 1) c"
        ), {"phones": sorted(phones)})
        return {r[0]: r[1] for r in rows}
    return dict((await s.execute(select(Contact.value, Contact.client_id).where(
        Contact.kind == ContactKind.PHONE, Contact.value.in_(phones)))).all())


async def _allocate_ids(s: AsyncSession, table: Table, n: int) -> list[int]:
    """``n`` primary keys for rows inserted in bulk (so one statement per table, not one per row, can
    insert them): from the sequence on PostgreSQL; after the highest id on SQLite, whose single writer turns
    a simultaneous import's collision into an IntegrityError that the caller answers by redoing the chunk."""
    if n == 0:
        return []
    if (await s.connection()).dialect.name == "postgresql":
        rows = await s.execute(text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
                               {"t": table.name, "n": n})
        return [r[0] for r in rows]
    start = (await s.execute(select(func.coalesce(func.max(table.c.id), 0)))).scalar_one()
    return list(range(start + 1, start + n + 1))


async def _store_leads(sessions: async_sessionmaker[AsyncSession], parsed: list[tuple[int, LeadRow, str, str]], *,
                       department_id: int | None, source: str | None, now: datetime, actor_id: int | None
                       ) -> tuple[int, int, list[int]]:
    if not parsed:
        return 0, 0, []
    async with sessions() as s, s.begin():
        known = await _known_leads(s, [(a, p) for _, _, a, p in parsed])
        fresh = [item for item in parsed if (item[2], item[3]) not in known]
        if not fresh:
            return 0, len(parsed), []
        owners = await _clients_by_phone(s, {p for _, _, _, p in fresh})
        new_owner_names: dict[str, str] = {}
        for _, row, _, phone in fresh:
            if phone not in owners and phone not in new_owner_names:
                new_owner_names[phone] = (row.owner_name or "")[:300]
        client_ids = await _allocate_ids(s, Client.__table__, len(new_owner_names))
        owners.update(zip(new_owner_names, client_ids, strict=True))
        prop_ids = await _allocate_ids(s, Property.__table__, len(fresh))
        task_ids = await _allocate_ids(s, Task.__table__, len(fresh))
        lead_ids = await _allocate_ids(s, OwnerLead.__table__, len(fresh))
        if new_owner_names:
            await s.execute(insert(Client), [{"id": cid, "name": name, "created_at": now}
                                             for cid, name in zip(client_ids, new_owner_names.values(), strict=True)])
            await s.execute(insert(Contact), [{"client_id": owners[p], "kind": ContactKind.PHONE, "value": p,
                                               "label": "собственник", "created_at": now} for p in new_owner_names])
        await s.execute(insert(Property), [
            {"id": pid, "address": row.address, "address_key": key, "district": row.district, "metro": row.metro,
             "lat": row.lat, "lon": row.lon, "property_type": row.property_type, "deal_type": row.deal_type,
             "price": row.price, "liquidity": row.liquidity, "owner_client_id": owners[phone], "archived": False,
             "created_at": now} for pid, (_, row, key, phone) in zip(prop_ids, fresh, strict=True)])
        await s.execute(insert(Task), [
            {"id": tid, "kind": "cold_call", "status": "open", "client_id": owners[phone],
             "department_id": department_id, "due_at": now, "attempts": 0, "phone": phone,
             "note": row.address[:2000], "created_at": now}
            for tid, (_, row, _, phone) in zip(task_ids, fresh, strict=True)])
        await s.execute(insert(OwnerLead), [
            {"id": lid, "address_key": key, "phone": phone, "owner_name": row.owner_name, "property_id": pid,
             "department_id": department_id, "status": "calling", "source": row.source or source or None,
             "task_id": tid, "attempts": 0, "created_at": now, "updated_at": now}
            for lid, pid, tid, (_, row, key, phone) in zip(lead_ids, prop_ids, task_ids, fresh, strict=True)])
        await s.execute(insert(TimelineEntry), [
            {"client_id": owners[phone], "at": now, "kind": "property_added", "ref_id": pid, "actor_id": actor_id,
             "summary": row.address[:200]} for pid, (_, row, _, phone) in zip(prop_ids, fresh, strict=True)])
        return len(fresh), len(parsed) - len(fresh), lead_ids


def read_lead_file(data: bytes, filename: str) -> Iterator[list[tuple[int, dict]]]:
    """Chunks of (row number, {field: cell}) from a CSV or XLSX upload (synchronous: run it in a thread)."""
    sheet = open_sheet(data, filename)
    columns: dict[int, str] | None = None
    chunk: list[tuple[int, dict]] = []
    for number, cells in sheet.rows:
        if columns is None:
            if not any(str(c).strip() for c in cells):
                continue
            columns = lead_columns([str(c) for c in cells])
            continue
        if not any(str(c).strip() for c in cells):
            continue
        chunk.append((number, {name: cells[i] if i < len(cells) else "" for i, name in columns.items()}))
        if len(chunk) >= LEAD_CHUNK:
            yield chunk
            chunk = []
    if columns is None:
        raise ImportFileError("в файле нет строки заголовков")
    if chunk:
        yield chunk


async def chunks_in_thread(chunks: Iterator[list[tuple[int, dict]]]) -> AsyncIterator[list[tuple[int, dict]]]:
    """Read the next chunk of a file in a worker thread, so parsing never blocks the event loop."""
    done = object()
    while True:
        chunk = await asyncio.to_thread(next, chunks, done)
        if chunk is done:
            return
        yield chunk  # type: ignore[misc]


async def chunks_of(items: list[tuple[int, dict]]) -> AsyncIterator[list[tuple[int, dict]]]:
    for start in range(0, len(items), LEAD_CHUNK):
        yield items[start:start + LEAD_CHUNK]
