"""What an import tells the person who ran it: counts, and every row it could not take, with the reason."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from crm_core.importer.limits import csv_safe


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (not CSV/XLSX, undecodable, too big, no known columns).

    Nothing is stored when this is raised; the message is for the person who chose the file.
    """


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in one row; ``row_number`` is the row as a spreadsheet shows it (the header is row 1)."""

    row_number: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"строка {self.row_number}"
        return f"{where}, {self.column}: {self.message}" if self.column else f"{where}: {self.message}"


@dataclass(slots=True)
class ImportReport:
    """``rows`` = ``created`` + ``merged`` + ``skipped``: every data row is counted exactly once.

    ``merged`` rows joined a client that was already known (in the database or earlier in the same file)
    by one of their phones or emails; ``skipped`` rows have at least one entry in ``errors`` and stored
    nothing. ``warnings`` are notes on rows that were still imported (e.g. an email already belonging to
    another client, which is left where it is).
    """

    filename: str
    file_format: str = ""
    encoding: str | None = None
    delimiter: str | None = None
    header_row: int = 1
    columns: dict[str, str] = field(default_factory=dict)
    """File column (as headed in the file) → field it was read into."""
    ignored_columns: list[str] = field(default_factory=list)
    rows: int = 0
    created: int = 0
    merged: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        verb = "проверено (ничего не сохранено)" if self.dry_run else "импортировано"
        text = (
            f"{self.filename}: {verb} — строк {self.rows}, новых клиентов {self.created}, "
            f"объединено с известными {self.merged}, пропущено с ошибками {self.skipped}"
        )
        if self.warnings:
            text += f", предупреждений {len(self.warnings)}"
        return text

    def to_csv(self) -> str:
        """The error report as CSV (``;``, for Russian Excel); cells are formula-escaped."""
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow(["Строка", "Столбец", "Ошибка", "Вид"])
        for kind, items in (("ошибка", self.errors), ("предупреждение", self.warnings)):
            for e in items:
                writer.writerow([e.row_number, csv_safe(e.column or ""), csv_safe(e.message), kind])
        return out.getvalue()


def write_report_csv(report: ImportReport, path: Path | str) -> None:
    """Write the per-row report where Excel opens it with Cyrillic intact (UTF-8 with BOM)."""
    Path(path).write_text(report.to_csv(), encoding="utf-8-sig", newline="")
