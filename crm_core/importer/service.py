"""``import_clients``: read the file in a worker thread, then plan and write it in one transaction."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from itertools import chain

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.importer import store
from crm_core.importer.columns import mapping_hits, require_key_column, resolve_columns, score
from crm_core.importer.limits import MAX_ROWS
from crm_core.importer.reading import Cell, open_sheet
from crm_core.importer.report import ImportFileError, ImportReport
from crm_core.importer.rows import ParsedRow, is_blank, parse_row

log = logging.getLogger("hub.import")
HEADER_SEARCH = 10
"""The header may sit below a title: it is looked for among the first non-empty rows."""
ATTEMPTS = 3


async def import_clients(
    sessions: async_sessionmaker[AsyncSession],
    data: bytes,
    filename: str,
    *,
    mapping: dict[str, str] | None = None,
    region: str = "RU",
    owner_id: int | None = None,
    department_id: int | None = None,
    actor_id: int | None = None,
    dry_run: bool = False,
    max_rows: int = MAX_ROWS,
) -> ImportReport:
    """Import clients from a CSV or XLSX file; all good rows are stored in one transaction, or none.

    Raises ImportFileError (nothing stored) when the file as a whole cannot be read. Rows with problems
    are skipped and listed in the report; rows whose phone or email is already known join that client.
    ``owner_id`` becomes the owner (and its department the department) of the clients created; without an
    owner, ``department_id`` (if given) is their department, so that department's managers see them.
    ``actor_id``: who ran the import, kept on the clients' timeline entries.
    ``dry_run`` checks everything against the database and reports what would happen, storing nothing.
    """
    base, rows = await asyncio.to_thread(read_file, data, filename, mapping, region, max_rows)
    base.dry_run = dry_run
    keys = {key for row in rows for key in store.row_keys(row)}
    for attempt in range(1, ATTEMPTS + 1):
        report = dataclasses.replace(base, warnings=list(base.warnings))
        try:
            async with sessions() as s:
                await _run(s, rows, keys, report, filename=filename, owner_id=owner_id,
                           department_id=department_id, actor_id=actor_id, dry_run=dry_run)
        except IntegrityError as exc:
            # Someone stored one of these phones/emails (or segments) while we worked: nothing of ours
            # was kept, so read the database again and redo the plan.
            log.warning("import %r attempt %d collided with a concurrent write: %s", filename, attempt, exc.orig)
            if attempt == ATTEMPTS:
                msg = "не удалось сохранить: те же контакты одновременно меняли; повторите импорт"
                raise ImportFileError(msg) from None
            continue
        log.info("import: %s", report.summary())
        return report
    raise AssertionError("unreachable")


async def _run(
    s: AsyncSession, rows: list[ParsedRow], keys: set[store.Key], report: ImportReport, *,
    filename: str, owner_id: int | None, department_id: int | None, actor_id: int | None, dry_run: bool,
) -> None:
    if s.get_bind().dialect.name == "postgresql":
        # The lookups below bind 500 values each; a generic plan would scan them as a list for every row of a
        # table whose statistics lag behind a recent big import. Planned with the values, the list is hashed.
        await s.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    existing = await store.existing_contacts(s, keys)
    targets = store.plan(rows, existing, report)
    await store.load_known_state(s, targets)
    for target in targets:
        store.fold(target, report)
    if dry_run:
        await s.rollback()
        return
    try:
        if owner_id is not None:
            department_id = await store.owner_department(s, owner_id)
        segments = await store.segment_ids(s, {n for t in targets for n in t.new_segments})
        ctx = store.WriteContext(filename, owner_id, department_id, segments, actor_id)
        await store.write(s, targets, ctx)
    except BaseException:
        await s.rollback()
        raise
    await s.commit()


def read_file(
    data: bytes, filename: str, mapping: dict[str, str] | None, region: str, max_rows: int = MAX_ROWS
) -> tuple[ImportReport, list[ParsedRow]]:
    """Parse and check every row (no database); runs in a worker thread."""
    sheet = open_sheet(data, filename, judge=lambda records: _delimiter_score(records, mapping))
    report = ImportReport(filename=filename, file_format=sheet.file_format, encoding=sheet.encoding,
                          delimiter=sheet.delimiter)
    try:
        head = []
        for number, cells in sheet.rows:
            if not is_blank(cells):
                head.append((number, cells))
                if len(head) >= HEADER_SEARCH:
                    break
        if not head:
            raise ImportFileError("в файле нет ни одной заполненной строки")
        at, _ = _find_header([cells for _, cells in head], mapping)
        report.header_row, header = head[at]
        columns = resolve_columns(header, mapping)
        require_key_column(columns, header)
        report.columns = {c.header: c.field for c in columns}
        used = {c.index for c in columns}
        report.ignored_columns = [h.strip() for i, h in enumerate(header)
                                  if i not in used and isinstance(h, str) and h.strip()]
        parsed: list[ParsedRow] = []
        for number, cells in chain(head[at + 1:], sheet.rows):
            if is_blank(cells):
                continue
            report.rows += 1
            if report.rows > max_rows:
                raise ImportFileError(f"в файле больше {max_rows} строк — разделите его на части")
            row, errors = parse_row(number, cells, columns, region)
            if row is None:
                report.skipped += 1
                report.errors.extend(errors)
            else:
                parsed.append(row)
    except ImportFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - a broken sheet deep inside openpyxl, say
        log.warning("import %r: unreadable file: %r", filename, exc)
        raise ImportFileError(f"файл повреждён или не читается ({type(exc).__name__})") from None
    if report.rows == 0:
        raise ImportFileError("под заголовком нет ни одной строки с данными")
    return report, parsed


def _find_header(records: list[list[Cell]], mapping: dict[str, str] | None) -> tuple[int, tuple]:
    """Which of the first records is the header (a title may sit above it), and how sure we are."""
    ranked = []
    for i, cells in enumerate(records[:HEADER_SEARCH]):
        columns = resolve_columns(cells, None)
        has_key = any(c.field in ("phone", "email") for c in columns)
        ranked.append(((has_key, 10 * mapping_hits(cells, mapping) + score(columns)), -i))
    best, minus_at = max(ranked)
    return -minus_at, best


def _delimiter_score(records: list[list[Cell]], mapping: dict[str, str] | None) -> tuple:
    """A delimiter is likelier when it yields a header we know, and data rows as wide as that header."""
    at, (has_key, known) = _find_header(records, mapping)
    width = len(records[at])
    rest = records[at + 1:]
    fit = round(sum(len(r) == width for r in rest) / len(rest), 2) if rest else 1.0
    return (has_key, known, fit, width > 1)
