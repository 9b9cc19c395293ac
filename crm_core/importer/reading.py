"""Reading an uploaded file into rows of cells: CSV (any of ; , tab; UTF-8 or cp1251) or XLSX.

Everything here is plain synchronous code: the importer runs it in a worker thread. Cell sizes are
checked as the cells are cut out of the file, so a 10 MB cell is measured, never copied.
"""

from __future__ import annotations

import codecs
import io
import re
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time

from crm_core.importer.limits import MAX_FIELD_CHARS, MAX_FILE_BYTES, MAX_XLSX_UNPACKED_BYTES
from crm_core.importer.report import ImportFileError


@dataclass(frozen=True, slots=True)
class TooLong:
    """A cell over the limit: only its length is kept."""

    length: int


Cell = str | date | TooLong
Judge = Callable[[list[list[Cell]]], tuple]
Rows = Iterator[tuple[int, list[Cell]]]
"""(row number as a spreadsheet shows it, cells)."""


@dataclass
class Sheet:
    file_format: str  # "csv" | "xlsx"
    rows: Rows
    encoding: str | None = None
    delimiter: str | None = None


DELIMITERS = (";", "\t", ",")  # order breaks ties: Russian Excel writes ';'
_BINARY_KINDS = (
    (b"%PDF", "PDF"),
    (b"\x89PNG", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF8", "GIF"),
    (b"Rar!", "RAR"),
    (b"7z\xbc\xaf", "7z"),
    (b"\x1f\x8b", "gzip"),
    (b"{\\rtf", "RTF"),
)
_SEP_LINE = re.compile(r"sep=(.)\r?\n")


def open_sheet(data: bytes, filename: str, judge: Judge | None = None) -> Sheet:
    """Tell CSV from XLSX by the content (the name only shapes the error), or raise ImportFileError.

    ``judge`` scores a CSV's first records as cut by one delimiter (higher is likelier); by default, the most
    columns, most consistently.
    """
    if len(data) > MAX_FILE_BYTES:
        raise ImportFileError(f"файл больше {MAX_FILE_BYTES // (1024 * 1024)} МБ — разделите его на части")
    if not data or data.isspace():  # (no .strip(): that would copy the file)
        raise ImportFileError("файл пуст")
    if data.startswith(b"PK\x03\x04"):
        return Sheet("xlsx", _xlsx_rows(data))
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError("старый формат Excel (.xls) не поддерживается — сохраните файл как .xlsx или CSV")
    for magic, kind in _BINARY_KINDS:
        if data.startswith(magic):
            raise ImportFileError(f"это {kind}, а не CSV или XLSX")
    if filename.lower().endswith((".xlsx", ".xlsm")):
        raise ImportFileError("файл назван .xlsx, но это не книга Excel (повреждён или другой формат)")
    text, encoding = decode_text(data)
    delimiter = None
    sep = _SEP_LINE.match(text)
    if sep and sep.group(1) in DELIMITERS:  # Excel's "sep=;" first line
        delimiter, text = sep.group(1), text[sep.end():]
    if delimiter is None:
        delimiter = sniff_delimiter(text, judge or count_columns)
    return Sheet("csv", _numbered(csv_records(text, delimiter)), encoding, delimiter)


def decode_text(data: bytes) -> tuple[str, str]:
    if data.startswith(codecs.BOM_UTF8):
        candidates = [("utf-8-sig", data[3:])]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = [("utf-16", data)]  # Excel's "Unicode text" export
    else:
        if b"\x00" in data:
            raise ImportFileError("это двоичный файл, а не CSV или XLSX")
        candidates = [("utf-8", data), ("cp1251", data)]
    for encoding, body in candidates:
        try:
            text = body.decode(encoding if encoding != "utf-8-sig" else "utf-8")
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            raise ImportFileError("это двоичный файл, а не CSV или XLSX")
        return text, encoding
    raise ImportFileError("не удалось прочитать текст: кодировка не UTF-8 и не Windows-1251")


def sniff_delimiter(text: str, judge: Judge, sample_records: int = 30) -> str:
    """The delimiter the judge likes best for the first non-blank records; ties go to the earlier in DELIMITERS."""
    best, best_score = DELIMITERS[0], None
    for delim in DELIMITERS:
        records = []
        for fields in csv_records(text, delim):
            if fields != [""]:
                records.append(fields)
            if len(records) >= sample_records:
                break
        if not records:
            continue
        score = judge(records)
        if best_score is None or score > best_score:
            best, best_score = delim, score
    return best


def count_columns(records: list[list[Cell]]) -> tuple:
    counts = [len(r) for r in records]
    mode = max(set(counts), key=counts.count)
    return (mode > 1, round(counts.count(mode) / len(counts), 2), mode)


def csv_records(text: str, delim: str, limit: int = MAX_FIELD_CHARS) -> Iterator[list[Cell]]:
    """RFC 4180 records, leniently: quotes only open a field at its start; CR, LF or CRLF end a record.

    Fields over ``limit`` characters come out as ``TooLong`` without being sliced out of ``text``.
    """
    quoted = re.compile(r'"[^"]*(?:""[^"]*)*"')
    bare = re.compile(r"[^%s\r\n]*" % re.escape(delim))  # noqa: UP031 - a regex, not a message
    pos, end = 0, len(text)
    while pos < end:
        fields: list[Cell] = []
        while True:
            m = quoted.match(text, pos) if text.startswith('"', pos) else None
            if m is not None:
                tail = bare.match(text, m.end())  # junk after the closing quote is kept, as Excel does
                length = (m.end() - pos - 2) + (tail.end() - tail.start())
                if length > limit:
                    fields.append(TooLong(length))
                else:
                    fields.append(text[pos + 1:m.end() - 1].replace('""', '"') + text[tail.start():tail.end()])
                pos = tail.end()
            else:  # a bare field, or a quote never closed (taken literally to the end of the line)
                m = bare.match(text, pos)
                length = m.end() - pos
                fields.append(TooLong(length) if length > limit else text[pos:m.end()])
                pos = m.end()
            if pos >= end:
                break
            ch = text[pos]
            pos += 1
            if ch == delim:
                continue
            if ch == "\r" and text.startswith("\n", pos):
                pos += 1
            break
        yield fields


def _numbered(records: Iterator[list[Cell]]) -> Rows:
    yield from enumerate(records, start=1)


def _xlsx_rows(data: bytes) -> Rows:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
            unpacked = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ImportFileError("повреждённый архив: это не книга Excel (.xlsx)") from None
    if "xl/workbook.xml" not in names:
        raise ImportFileError("это zip-архив, но не книга Excel (.xlsx); .ods и .docx не поддерживаются")
    if unpacked > MAX_XLSX_UNPACKED_BYTES:
        raise ImportFileError("книга Excel слишком велика в распакованном виде — разделите её на части")
    import openpyxl

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "no default style" and the like: noise for the user
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds on a broken book
        raise ImportFileError(f"не удалось открыть книгу Excel: {type(exc).__name__}") from None
    if not book.worksheets:
        book.close()
        raise ImportFileError("в книге Excel нет листов")
    return _xlsx_iter(book)


def _xlsx_iter(book) -> Rows:  # noqa: ANN001 - openpyxl's Workbook
    try:
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # many writers store wrong dimensions; read what is really there
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [_xlsx_cell(v) for v in values]
    finally:
        book.close()


def _xlsx_cell(value: object) -> Cell:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        return "да" if value else "нет"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))  # a phone typed as a number: 79161234567.0
    if isinstance(value, time):
        return value.isoformat()
    text = str(value)
    return TooLong(len(text)) if len(text) > MAX_FIELD_CHARS else text
