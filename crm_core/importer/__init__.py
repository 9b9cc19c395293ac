"""Import of clients from CSV and XLSX files, and their export back to CSV.

    report = await import_clients(sessions, data, "clients.csv", mapping={"Контакт": "phone"})
    print(report.summary()); for e in report.errors: print(e)   # "строка 17, Телефон: не номер телефона …"

* CSV in UTF-8 (with or without BOM), UTF-16 or Windows-1251, delimited by ``;``, ``,`` or tab (sniffed);
  XLSX through openpyxl (read-only, cached values only: formulas are never evaluated).
* Columns by their headers (ФИО/Имя/Name, Телефон/Phone/Тел., Email/E-mail/Почта, Компания/Company,
  Примечание/Note, День рождения/Birthday, Сегмент/Segment…) or an explicit mapping.
* Phones to E.164; several per cell (``,`` ``;`` ``/``). A row whose phone or email is already known — in the
  database or earlier in the file — joins that client (new contacts added), never a second client.
* Per-row errors; a file that cannot be read raises ImportFileError and stores nothing; the import is one
  transaction. Limits: file size, cell size, row count (``limits.py``).
* Cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab, CR) are stored as plain
  text and get a ``'`` in front on export.
"""

from crm_core.importer.export import export_clients, export_clients_csv
from crm_core.importer.limits import MAX_FIELD_CHARS, MAX_FILE_BYTES, MAX_ROWS, csv_safe
from crm_core.importer.report import ImportFileError, ImportReport, RowError, write_report_csv
from crm_core.importer.service import import_clients

__all__ = [
    "MAX_FIELD_CHARS", "MAX_FILE_BYTES", "MAX_ROWS", "ImportFileError", "ImportReport", "RowError", "csv_safe",
    "export_clients", "export_clients_csv", "import_clients", "write_report_csv",
]
