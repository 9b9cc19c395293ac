"""A report as CSV or XLSX, safe to open in a spreadsheet.

A text that starts like a formula (``=``, ``+``, ``-``, ``@``, tab, carriage return) is client input that
a spreadsheet would run: in CSV it gets a leading apostrophe (the OWASP advice; Excel then shows it as text),
in XLSX the cell is written as a text cell, so it stays exactly what the client typed and never runs.
CSV is UTF-8 with a byte-order mark and ``;`` between fields, as Excel in a Russian locale expects.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from reports.definitions import Report

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
"""What XML 1.0 (and so an XLSX cell) cannot hold; openpyxl refuses a cell with one of them."""


def csv_safe(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_START) else value


def _plain(value: object, kind: str, zone: ZoneInfo) -> object:
    """The cell's value for a spreadsheet: local naive times, shares as fractions, seconds rounded."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(zone).replace(tzinfo=None, microsecond=0)
    if isinstance(value, str):
        return CONTROL_CHARACTERS.sub("", value)  # control characters a spreadsheet cannot hold
    if kind == "sec":
        return round(float(value), 1)
    if kind == "pct":
        return round(float(value), 4)
    return value


def to_csv(report: Report, headers: Sequence[str], zone: ZoneInfo, rows: Sequence[tuple] | None = None) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow([csv_safe(h) for h in headers])
    kinds = [c.kind for c in report.columns]
    for row in report.rows if rows is None else rows:
        out = []
        for value, kind in zip(row, kinds, strict=False):
            v = _plain(value, kind, zone)
            if v is None:
                out.append("")
            elif isinstance(v, datetime):
                out.append(v.strftime("%Y-%m-%d %H:%M:%S"))
            elif kind == "pct":
                out.append(f"{100 * v:.1f}%")
            elif isinstance(v, str):
                out.append(csv_safe(v))
            else:
                out.append(str(v))
        w.writerow(out)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(report: Report, headers: Sequence[str], zone: ZoneInfo, title: str,
            rows: Sequence[tuple] | None = None) -> bytes:
    from openpyxl import Workbook  # here: 16 MB the hub need not hold until someone exports
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=title[:31] or "report")
    bold = Font(bold=True)
    head = []
    for h in headers:
        c = WriteOnlyCell(ws, value=h)
        c.data_type = "s"
        c.font = bold
        head.append(c)
    ws.append(head)
    kinds = [c.kind for c in report.columns]
    for row in report.rows if rows is None else rows:
        cells = []
        for value, kind in zip(row, kinds, strict=False):
            c = WriteOnlyCell(ws, value=_plain(value, kind, zone))
            if isinstance(c.value, str):
                c.data_type = "s"  # never a formula, whatever the text starts with
            elif kind == "pct":
                c.number_format = "0.0%"
            elif kind == "dt":
                c.number_format = "yyyy-mm-dd hh:mm"
            elif kind == "rub":
                c.number_format = "#,##0.00"
            cells.append(c)
        ws.append(cells)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
