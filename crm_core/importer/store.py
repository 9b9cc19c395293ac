"""Planning and writing an import: which rows are new clients, which join known ones, then batched inserts.

Known contacts are looked up in chunks for the whole file at once (never one query per row); the writes
go in batches of ``BATCH_SIZE`` clients, all inside the caller's one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.db import insert_returning_ids
from crm_core.importer.limits import MAX_FIELD_CHARS
from crm_core.importer.report import ImportReport, RowError
from crm_core.importer.rows import ParsedRow
from crm_core.models import (
    Client,
    Contact,
    ContactKind,
    MemorableDate,
    Segment,
    TimelineEntry,
    User,
    client_segments,
    utcnow,
)
from crm_core.models.privacy import ClientConsent

LOOKUP_CHUNK = 500
BATCH_SIZE = 1000
Key = tuple[ContactKind, str]


@dataclass(eq=False, slots=True)
class Target:
    """One client the file touches: new (``client_id`` None until inserted) or already in the database."""

    client_id: int | None
    first_row: int
    rows: list[ParsedRow] = field(default_factory=list)
    name: str = ""
    kind: str = "person"
    company: str | None = None
    note: str | None = None
    has_birthday: bool = False
    birthday: date | None = None
    segment_names: set[str] = field(default_factory=set)
    new_segments: list[str] = field(default_factory=list)
    new_contacts: list[Key] = field(default_factory=list)
    changed_fields: set[str] = field(default_factory=set)
    consents: dict[str, bool] = field(default_factory=dict)

    @property
    def touched(self) -> bool:
        return bool(self.changed_fields or self.new_contacts or self.new_segments or self.birthday or self.consents)


def row_keys(row: ParsedRow) -> list[Key]:
    return [(ContactKind.PHONE, p) for p in row.phones] + [(ContactKind.EMAIL, e) for e in row.emails]


def _chunks(items: Sequence, size: int = LOOKUP_CHUNK) -> Iterable[Sequence]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


async def existing_contacts(s: AsyncSession, keys: Iterable[Key]) -> dict[Key, int]:
    by_kind: dict[ContactKind, list[str]] = {}
    for kind, value in set(keys):
        by_kind.setdefault(kind, []).append(value)
    found: dict[Key, int] = {}
    for kind, values in by_kind.items():
        for chunk in _chunks(sorted(values)):
            rows = await s.execute(
                select(Contact.value, Contact.client_id).where(Contact.kind == kind, Contact.value.in_(chunk))
            )
            found.update({(kind, value): client_id for value, client_id in rows})
    return found


def plan(rows: list[ParsedRow], existing: dict[Key, int], report: ImportReport) -> list[Target]:
    """Give every row its client: the one holding any of its phones/emails (database first, then the file)."""
    targets: list[Target] = []
    holders: dict[Key, Target] = {}
    known: dict[int, Target] = {}

    def holder(key: Key) -> Target | None:
        if key in holders:
            return holders[key]
        client_id = existing.get(key)
        if client_id is None:
            return None
        if client_id not in known:
            known[client_id] = Target(client_id, first_row=0)
            targets.append(known[client_id])
        holders[key] = known[client_id]
        return known[client_id]

    for row in rows:
        keys = row_keys(row)
        target = next((t for t in map(holder, keys) if t is not None), None)
        if target is None:
            target = Target(None, first_row=row.number)
            targets.append(target)
            report.created += 1
        else:
            report.merged += 1
        target.rows.append(row)
        for key in keys:
            other = holder(key)
            if other is None:
                holders[key] = target
                target.new_contacts.append(key)
            elif other is not target:
                where = f"клиента №{other.client_id}" if other.client_id else f"клиента из строки {other.first_row}"
                report.warnings.append(RowError(
                    row.number, None, f"{key[1]} уже у другого {where} — оставлен там, в этого клиента не добавлен"
                ))
    return targets


async def load_known_state(s: AsyncSession, targets: list[Target]) -> None:
    known = {t.client_id: t for t in targets if t.client_id is not None}
    ids = sorted(known)
    for chunk in _chunks(ids):
        for row in await s.execute(
            select(Client.id, Client.name, Client.kind, Client.company_name, Client.note).where(Client.id.in_(chunk))
        ):
            t = known[row.id]
            t.name, t.kind, t.company, t.note = row.name or "", row.kind, row.company_name, row.note
        for (client_id,) in await s.execute(
            select(MemorableDate.client_id).where(MemorableDate.kind == "birthday", MemorableDate.client_id.in_(chunk))
        ):
            known[client_id].has_birthday = True
        for client_id, name in await s.execute(
            select(client_segments.c.client_id, Segment.name)
            .join(Segment, Segment.id == client_segments.c.segment_id)
            .where(client_segments.c.client_id.in_(chunk))
        ):
            known[client_id].segment_names.add(name)


def fold(target: Target, report: ImportReport) -> None:
    """Fill the client from its rows: blanks get the first value; notes and segments add up."""
    new = target.client_id is None
    for row in target.rows:
        if not target.name and row.name:
            target.name, target.kind = row.name, row.kind
            target.changed_fields.update(("name", "kind"))
        if not target.company and row.company:
            target.company = row.company
            target.changed_fields.add("company_name")
        if row.note and row.note not in (target.note or ""):
            joined = f"{target.note}\n{row.note}" if target.note else row.note
            if len(joined) <= MAX_FIELD_CHARS:
                target.note = joined
                target.changed_fields.add("note")
            else:
                report.warnings.append(RowError(row.number, None, "примечание не добавлено: у клиента их много"))
        if row.birthday and not target.has_birthday and target.birthday is None:
            target.birthday = row.birthday
        target.consents.update(row.consents)  # the last row's word on a purpose wins
        for name in row.segments:
            if name not in target.segment_names:
                target.segment_names.add(name)
                target.new_segments.append(name)
    if new:
        target.changed_fields.add("inserted")


async def segment_ids(s: AsyncSession, names: set[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for chunk in _chunks(sorted(names)):
        ids.update(dict((await s.execute(select(Segment.name, Segment.id).where(Segment.name.in_(chunk)))).all()))
    missing = sorted(names - ids.keys())
    if missing:
        result = await s.execute(
            insert(Segment).returning(Segment.name, Segment.id, sort_by_parameter_order=True),
            [{"name": n} for n in missing],
        )
        ids.update(dict(result.all()))
    return ids


async def owner_department(s: AsyncSession, owner_id: int | None) -> int | None:
    if owner_id is None:
        return None
    row = (await s.execute(select(User.department_id).where(User.id == owner_id))).one_or_none()
    if row is None:
        raise LookupError(f"owner user #{owner_id} does not exist")
    return row.department_id


@dataclass(frozen=True, slots=True)
class WriteContext:
    filename: str
    owner_id: int | None
    department_id: int | None
    segments: dict[str, int]
    actor_id: int | None = None


async def write(s: AsyncSession, targets: list[Target], ctx: WriteContext) -> None:
    todo = [t for t in targets if t.touched]
    for i in range(0, len(todo), BATCH_SIZE):
        await _write_batch(s, todo[i:i + BATCH_SIZE], ctx)


async def _write_batch(s: AsyncSession, batch: list[Target], ctx: WriteContext) -> None:
    now = utcnow()
    new = [t for t in batch if t.client_id is None]
    if new:
        ids = await insert_returning_ids(s, Client, [
            {"kind": t.kind, "name": t.name, "company_name": t.company, "note": t.note, "owner_id": ctx.owner_id,
             "department_id": ctx.department_id, "created_at": now} for t in new
        ])
        for t, client_id in zip(new, ids, strict=True):
            t.client_id = client_id
    updates = [
        {"id": t.client_id, **{f: _value(t, f) for f in sorted(t.changed_fields - {"inserted"})}}
        for t in batch if "inserted" not in t.changed_fields and t.changed_fields
    ]
    if updates:
        await s.execute(update(Client), updates)
    contacts = [{"client_id": t.client_id, "kind": k, "value": v, "created_at": now}
                for t in batch for k, v in t.new_contacts]
    if contacts:
        await s.execute(insert(Contact), contacts)
    dates = [{"client_id": t.client_id, "kind": "birthday", "on": t.birthday, "month": t.birthday.month,
              "day": t.birthday.day, "created_at": now} for t in batch if t.birthday]
    if dates:
        await s.execute(insert(MemorableDate), dates)
    links = [{"client_id": t.client_id, "segment_id": ctx.segments[n]} for t in batch for n in t.new_segments]
    if links:
        await s.execute(insert(client_segments), links)
    consents = [{"client_id": t.client_id, "purpose": p, "granted": v, "source": "import",
                 "source_ref": ctx.filename[:300], "actor_id": ctx.actor_id, "at": now}
                for t in batch for p, v in sorted(t.consents.items())]
    if consents:  # the file's consent columns (privacy/): each a line in the client's consent history
        await s.execute(insert(ClientConsent), consents)
    await s.execute(insert(TimelineEntry), [_timeline(t, ctx, now) for t in batch])


def _value(t: Target, fieldname: str) -> object:
    return {"name": t.name, "kind": t.kind, "company_name": t.company, "note": t.note}[fieldname]


def _timeline(t: Target, ctx: WriteContext, now) -> dict:  # noqa: ANN001
    rows = ", ".join(str(r.number) for r in t.rows[:10]) + ("…" if len(t.rows) > 10 else "")
    if "inserted" in t.changed_fields:
        kind, summary = "imported", f"создан импортом из {ctx.filename} (строка {rows})"
    else:
        kind, summary = "imported", f"дополнен импортом из {ctx.filename} (строка {rows})"
    return {"client_id": t.client_id, "at": now, "kind": kind, "channel": None, "inquiry_id": None,
            "ref_id": None, "summary": summary[:500], "actor_id": ctx.actor_id}
