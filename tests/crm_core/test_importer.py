"""Importing clients from the files agencies really have: Excel exports in cp1251, messy phones, formulas."""

import asyncio
import csv
import io
import time
import tracemalloc
import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from crm_core.access import actor_for, scoped_clients
from crm_core.importer import (
    MAX_FILE_BYTES,
    ImportFileError,
    export_clients,
    export_clients_csv,
    import_clients,
    store,
)
from crm_core.importer.limits import FORMULA_LEAD
from crm_core.importer.service import read_file
from crm_core.intake import IntakeRequest, IntakeService
from crm_core.models import (
    Channel,
    Client,
    Contact,
    Department,
    MemorableDate,
    Segment,
    TimelineEntry,
    client_segments,
)
from crm_core.users import create_user

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "import"
FORMULA = "=cmd|' /C calc'!A0"
AT_FORMULA = "@SUM(1+1)*cmd|' /C calc'!A0"
HEADER = ["ФИО", "Телефон", "Email", "Компания", "Примечание", "Дата рождения"]
FORMATS = ["8 916 {a}-{b}-{c}", "+7 (916) {a} {b} {c}", "7916{a}{b}{c}", "916{a}{b}{c}", "8(916){a}{b}{c}"]
BIG_ROW = 5000


async def count(db, model) -> int:
    async with db.sessions() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


async def client_of(db, value: str) -> Client | None:
    async with db.sessions() as s:
        return (await s.execute(select(Client).join(Contact).where(Contact.value == value))).scalar_one_or_none()


async def contacts_of(db, client_id: int) -> set[str]:
    async with db.sessions() as s:
        return set((await s.execute(select(Contact.value).where(Contact.client_id == client_id))).scalars())


def phone(i: int, fmt: int) -> str:
    n = f"{i:07d}"
    return FORMATS[fmt % len(FORMATS)].format(a=n[:3], b=n[3:5], c=n[5:])


def messy_clients(n: int = 10_000) -> tuple[str, dict]:
    """A file like a real agency's: every phone format, duplicates, bad phones, empty names, a 10 MB cell,
    formulas. Returns the text and what a correct import must report."""
    lines = [";".join(HEADER)]
    kind: dict[int, str] = {}
    expected = {"created": 0, "merged": 0, "skipped": 0, "phones": 0, "emails": 0}
    for i in range(n):
        name, phones, email, company, note, born = f"Клиент Номер{i}", phone(i, i), "", "", "", ""
        if i == BIG_ROW:
            kind[i] = "big"
            note = '"' + "строка; с разделителем\r\n" * 440_000 + '"'  # a 10 MB cell over many lines
        elif i % 97 == 3:
            kind[i] = "bad"
            phones = "12345"
        elif i % 503 == 5:
            kind[i] = "nocontact"
            phones = ""
        elif i % 10 == 9 and kind[i - 9] == "new":
            kind[i] = "dup"  # the same person again, another format of the phone and a second number
            name, phones = f"Клиент Номер{i - 9}", f'"{phone(i - 9, i + 1)}; +7 903 {i:07d}"'
            expected["phones"] += 1
        else:
            kind[i] = "new"
            if i % 101 == 0:
                name = ""
            if i % 7 == 1:
                phones = f'"{phones}, 8 925 {i:07d}"'
                expected["phones"] += 1
            if i % 3 == 0:
                email = f"Client{i}@Mail.RU"
                expected["emails"] += 1
            if i % 11 == 0:
                company, born = "ООО Тест", "15.03.1985"
            expected["phones"] += 1
        if i == 7:
            name = FORMULA
        if i == 8:
            note = AT_FORMULA
        lines.append(";".join([name, phones, email, company, note, born]))
    for k in kind.values():
        expected[{"new": "created", "dup": "merged"}.get(k, "skipped")] += 1
    return "\r\n".join(lines) + "\r\n", expected


async def test_ten_thousand_messy_rows_from_excel_become_one_client_per_person_with_a_report(db):
    text, expected = messy_clients()
    data = text.encode("cp1251")
    assert 10_000_000 < len(data) < MAX_FILE_BYTES

    started = time.perf_counter()
    report = await import_clients(db.sessions, data, "клиенты.csv")
    elapsed = time.perf_counter() - started

    assert (report.encoding, report.delimiter) == ("cp1251", ";")
    assert report.rows == 10_000
    assert (report.created, report.merged, report.skipped) == (
        expected["created"], expected["merged"], expected["skipped"])
    assert len(report.errors) == report.skipped
    errors = {e.row_number: e for e in report.errors}
    assert str(errors[3 + 2]) == "строка 5, Телефон: не номер телефона «12345» (wrong number of digits)"
    assert str(errors[5 + 2]) == "строка 7: нет ни телефона, ни email — клиента не по чему найти"
    big = errors[BIG_ROW + 2]
    assert big.column == "Примечание" and big.message.startswith("ячейка длиннее 10000 символов")
    assert BIG_ROW + 3 not in errors  # the rows after the 10 MB cell are read as rows again

    assert await count(db, Client) == expected["created"]
    async with db.sessions() as s:
        kinds = dict((await s.execute(select(Contact.kind, func.count()).group_by(Contact.kind))).all())
    assert kinds == {"phone": expected["phones"], "email": expected["emails"]}
    first = await client_of(db, "+79160000000")  # row 2 as "8 916 000-00-00"; row 11 as "+7 (916) 000 00 00"
    assert await contacts_of(db, first.id) == {"+79160000000", "+79030000009", "client0@mail.ru"}
    assert (first.name, first.kind, first.company_name) == ("ООО Тест", "company", "ООО Тест")  # no person name
    assert (await client_of(db, "+79160000001")).id == (await client_of(db, "+79250000001")).id
    assert (await client_of(db, "+79160000007")).name == FORMULA
    assert (await client_of(db, "+79160000008")).note == AT_FORMULA
    assert elapsed < 20, f"10,000 rows took {elapsed:.1f} s"

    async with db.sessions() as s:
        exported = await export_clients(s, select(Client))
    cells = [cell for row in csv.reader(io.StringIO(exported), delimiter=";") for cell in row]
    assert "'" + FORMULA in cells and "'" + AT_FORMULA in cells
    assert not [c for c in cells if c.startswith(FORMULA_LEAD)]


def test_a_ten_megabyte_cell_is_measured_not_copied():
    data = ("Name;Phone;Note\r\nIvan;89161234567;" + "x" * 15_000_000 + "\r\nOleg;89031234567;ok\r\n").encode()
    tracemalloc.start()
    try:
        report, rows = read_file(data, "big.csv", None, "RU")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [e.row_number for e in report.errors] == [2] and [r.name for r in rows] == ["Oleg"]
    assert peak < 1.3 * len(data), f"peak {peak / 1e6:.0f} MB for a {len(data) / 1e6:.0f} MB file"


async def test_russian_excel_export_imports_with_merges_and_a_readable_report(db):
    data = (FIXTURES / "excel_export_cp1251.csv").read_bytes()
    report = await import_clients(db.sessions, data, "excel_export_cp1251.csv")

    assert (report.rows, report.created, report.merged, report.skipped) == (10, 6, 1, 3)
    assert [str(e) for e in report.errors] == [
        "строка 6, Телефон: не номер телефона «12-34» (wrong number of digits)",
        "строка 7: нет ни телефона, ни email — клиента не по чему найти",
        "строка 10, E-mail: не адрес email «anna@@mail»",
        "строка 10, Дата рождения: не дата «31.02.1990» (ожидается ДД.ММ.ГГГГ)",
    ]
    ivan = await client_of(db, "+79161234567")
    assert ivan.name == "Иван Петров" and ivan.note == "Ищет двушку у метро\nВторой телефон"
    assert await contacts_of(db, ivan.id) == {"+79161234567", "+79260001122", "ivan.petrov@mail.ru"}
    romashka = await client_of(db, "+74951112233")
    assert (romashka.kind, romashka.name, romashka.company_name) == ("company", "ООО Ромашка", "ООО Ромашка")
    assert (await client_of(db, "+79035550101")).name == "Пётр Сидоров"
    assert (await client_of(db, "+79160000001")).note == FORMULA
    olga = await client_of(db, "+79161112233")
    assert olga.note == "многострочное\nпримечание; с разделителем"
    async with db.sessions() as s:
        born = (await s.execute(select(MemorableDate.on).where(MemorableDate.client_id == ivan.id))).scalar_one()
        segments = (await s.execute(
            select(Segment.name).join(client_segments).where(client_segments.c.client_id == olga.id)
            .order_by(Segment.name))).scalars().all()
        timeline = (await s.execute(select(TimelineEntry.kind, TimelineEntry.summary)
                                    .where(TimelineEntry.client_id == ivan.id))).all()
    assert born == date(1980, 2, 1) and segments == ["VIP", "Покупатели"]
    assert timeline == [("imported", "создан импортом из excel_export_cp1251.csv (строка 2, 5)")]
    assert await count(db, Segment) == 3
    assert all(not cell.startswith(FORMULA_LEAD)
               for row in csv.reader(io.StringIO(report.to_csv()), delimiter=";") for cell in row)


async def test_a_known_caller_gets_the_new_numbers_instead_of_a_second_card(db, bus):
    known = await IntakeService(db.sessions, bus).accept(
        IntakeRequest(channel=Channel.CALL, external_id="call-1", phone="+79161234567"))
    data = "Имя;Тел.;E-mail\nИван Петров;8 916 123 45 67 / 8 926 000-11-22;IVAN@mail.ru\n".encode()

    report = await import_clients(db.sessions, data, "a.csv")

    assert (report.created, report.merged) == (0, 1)
    assert await count(db, Client) == 1
    assert await contacts_of(db, known.client_id) == {"+79161234567", "+79260001122", "ivan@mail.ru"}
    assert (await client_of(db, "+79161234567")).name == "Иван Петров"  # a blank name is filled in


async def test_an_email_already_with_another_client_stays_there_with_a_warning(db):
    await import_clients(db.sessions, b"Name,Phone,Email\nAnna,89161234567,anna@mail.ru\n", "a.csv")
    report = await import_clients(db.sessions, b"Name,Phone,Email\nOleg,89031234567,anna@mail.ru\n", "b.csv")
    assert (report.created, report.merged) == (0, 1)  # the email found Anna: Oleg's phone joins her card
    both = b"Name,Phone,Email\nX,89031234567,x@mail.ru\nY,89161234567,x@mail.ru\n"
    report = await import_clients(db.sessions, both, "c.csv")
    assert report.warnings == []  # everything already Anna's or new to her
    await import_clients(db.sessions, b"Name,Phone\nBoris,89857776655\n", "d.csv")
    report = await import_clients(db.sessions, b"Name,Phone,Email\nBoris,89857776655,anna@mail.ru\n", "e.csv")
    assert [str(w) for w in report.warnings] == [
        "строка 2: anna@mail.ru уже у другого клиента №1 — оставлен там, в этого клиента не добавлен"]


async def test_xlsx_with_a_title_row_numbers_dates_and_formulas_imports_cached_values_only(db):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Клиенты агентства на 01.03.2024"])
    sheet.append([])
    sheet.append(["Имя", "Фамилия", "Моб. телефон", "Почта", "Дата рождения", "Комментарий"])
    sheet.append(["Иван", "Петров", 79161234567, "ivan@mail.ru", datetime(1980, 2, 1), '=HYPERLINK("http://x","y")'])
    sheet.append(["Ольга", "", 89031112233.0, "", None, None])
    sheet.cell(row=5, column=6, value=FORMULA).data_type = "s"  # text that looks like a formula
    sheet.append(["Пётр", "", "abc", "", "", ""])
    buf = io.BytesIO()
    book.save(buf)

    report = await import_clients(db.sessions, buf.getvalue(), "clients.xlsx")

    assert (report.file_format, report.header_row, report.rows, report.created, report.skipped) == (
        "xlsx", 3, 3, 2, 1)
    assert [str(e) for e in report.errors] == [
        "строка 6, Моб. телефон: не номер телефона «abc» (not a phone number)"]
    ivan = await client_of(db, "+79161234567")
    assert ivan.name == "Петров Иван" and ivan.note is None  # the formula has no cached value: never computed
    assert (await client_of(db, "+79031112233")).note == FORMULA
    async with db.sessions() as s:
        assert (await s.execute(select(MemorableDate.on))).scalar_one() == date(1980, 2, 1)


async def test_files_that_are_not_client_lists_are_refused_whole_and_import_nothing(db):
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("word/document.xml", "<w/>")
    cases = [
        (b"%PDF-1.4\n%\xe2\xe3\n1 0 obj", "x.pdf", "это PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "photo.png", "это PNG"),
        (zipped.getvalue(), "договор.docx", "не книга Excel"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.xls", "старый формат Excel"),
        (b"ID\x00\x01\x02;\xff\xfe", "dump.bin", "двоичный файл"),
        ("ФИО;Телефон\n".encode("cp1251") + b"\x98\x98;1\n", "x.csv", "кодировка не UTF-8 и не Windows-1251"),
        ("Артикул;Цена;Остаток\n1;2;3\n".encode(), "goods.csv", "не найден столбец с телефоном или email"),
        (b"", "empty.csv", "файл пуст"),
        ("ФИО;Телефон\r\n\r\n".encode(), "header.csv", "под заголовком нет ни одной строки"),
        ("ФИО;Телефон\n".encode() + b"x" * MAX_FILE_BYTES, "huge.csv", "файл больше 20 МБ"),
        ("ФИО;Телефон\nИван;89161234567\n".encode(), "clients.xlsx", "не книга Excel"),
    ]
    for data, name, message in cases:
        with pytest.raises(ImportFileError) as err:
            await import_clients(db.sessions, data, name)
        assert message in str(err.value), (name, str(err.value))
    many = "ФИО;Телефон\n" + "".join(f"К{i};8916{i:07d}\n" for i in range(6))
    with pytest.raises(ImportFileError, match="больше 5 строк"):
        await import_clients(db.sessions, many.encode(), "many.csv", max_rows=5)
    with pytest.raises(ImportFileError, match="нет столбца «Мобильник»"):
        await import_clients(db.sessions, many.encode(), "many.csv", mapping={"Мобильник": "phone"})
    with pytest.raises(ImportFileError, match="неизвестное поле «телепатия»"):
        await import_clients(db.sessions, many.encode(), "many.csv", mapping={"ФИО": "телепатия"})
    assert await count(db, Client) == 0 and await count(db, Contact) == 0


async def test_unusual_headers_are_read_through_an_explicit_mapping(db):
    data = "Кто,Как связаться,Откуда\nИван,\"8 916 123-45-67, 8 903 555-01-01\",Авито\n".encode("utf-8-sig")
    report = await import_clients(db.sessions, data, "leads.csv",
                                  mapping={"кто": "name", "Как связаться": "Телефон", "C": "note"})
    assert report.columns == {"Кто": "name", "Как связаться": "phone", "Откуда": "note"}
    assert (report.encoding, report.delimiter, report.created) == ("utf-8-sig", ",", 1)
    ivan = await client_of(db, "+79035550101")
    assert (ivan.name, ivan.note) == ("Иван", "Авито")


async def test_a_crash_halfway_through_the_import_leaves_no_client_behind(db, monkeypatch):
    data = ("ФИО;Телефон;Сегмент\n" + "".join(f"К{i};8916{i:07d};VIP\n" for i in range(500))).encode()
    written = []
    real = store._write_batch

    async def crashing(s, batch, ctx):
        if len(written) == 2:
            written.append((await s.execute(select(func.count()).select_from(Client))).scalar_one())
            raise RuntimeError("disk full")
        written.append(len(batch))
        await real(s, batch, ctx)

    monkeypatch.setattr(store, "BATCH_SIZE", 100)
    monkeypatch.setattr(store, "_write_batch", crashing)
    with pytest.raises(RuntimeError, match="disk full"):
        await import_clients(db.sessions, data, "crash.csv")

    assert written == [100, 100, 200]  # two batches were in the transaction when it failed
    for model in (Client, Contact, TimelineEntry, Segment):
        assert await count(db, model) == 0


async def test_dry_run_reports_what_would_happen_and_stores_nothing(db):
    data = (FIXTURES / "excel_export_cp1251.csv").read_bytes()
    report = await import_clients(db.sessions, data, "x.csv", dry_run=True)
    assert (report.dry_run, report.created, report.merged, report.skipped) == (True, 6, 1, 3)
    assert "ничего не сохранено" in report.summary()
    assert await count(db, Client) == 0 and await count(db, Segment) == 0


async def test_the_same_file_imported_twice_at_once_gives_each_client_once(db):
    data = ("ФИО;Телефон\n" + "".join(f"К{i};8916{i:07d}\n" for i in range(300))).encode()
    first, second = await asyncio.gather(*(import_clients(db.sessions, data, "x.csv") for _ in range(2)))
    assert sorted((first.created, second.created)) == [0, 300]
    assert await count(db, Client) == 300


async def test_an_export_is_safe_in_a_spreadsheet_and_imports_back_to_the_same_clients(db):
    await import_clients(db.sessions, (FIXTURES / "excel_export_cp1251.csv").read_bytes(), "x.csv")
    async with db.sessions() as s:
        exported = await export_clients(s, select(Client))
    assert f"'{FORMULA}" in exported and f"\n'{AT_FORMULA};" in exported
    assert "'+79161234567, +79260001122" in exported  # a leading + is a formula to Excel too

    again = await import_clients(db.sessions, exported.encode("utf-8-sig"), "export.csv")

    assert (again.created, again.merged, again.skipped) == (0, 6, 0)
    _, rows = read_file(exported.encode("utf-8-sig"), "export.csv", None, "RU")
    assert {FORMULA, AT_FORMULA} <= {r.name for r in rows} | {r.note for r in rows}  # unescaped on the way in
    async with db.sessions() as s:
        assert await export_clients(s, select(Client)) == exported


def test_export_escapes_every_cell_a_spreadsheet_would_run():
    text = export_clients_csv([["=1+1", "+7916", "-5", "@x", "\tA", "\rB", "Иван", None]])
    assert text.split("\r\n")[1] == "'=1+1;'+7916;'-5;'@x;'\tA;\"'\rB\";Иван;"


async def test_an_agent_imports_their_own_list_and_exports_only_what_they_may_see(db):
    async with db.sessions() as s, s.begin():
        sales = Department(name="Отдел продаж")
        s.add(sales)
        await s.flush()
        anna = await create_user(s, login="anna", password="password-1", full_name="Анна", department_id=sales.id)
    await import_clients(db.sessions, "ФИО;Телефон\nИван;89161234567\n".encode(), "mine.csv", owner_id=anna.id,
                         actor_id=anna.id)
    await import_clients(db.sessions, "ФИО;Телефон\nОлег;89031234567\n".encode(), "other.csv")

    ivan, oleg = await client_of(db, "+79161234567"), await client_of(db, "+79031234567")
    assert (ivan.owner_id, ivan.department_id) == (anna.id, sales.id)
    assert (oleg.owner_id, oleg.department_id) == (None, None)
    async with db.sessions() as s:
        exported = await export_clients(s, scoped_clients(await actor_for(s, anna.id)))
    assert "Иван" in exported and "Олег" not in exported
    async with db.sessions() as s:
        assert (await s.execute(select(TimelineEntry.actor_id).where(TimelineEntry.client_id == ivan.id))).all() == [
            (anna.id,)]


@pytest.mark.parametrize(("data", "encoding", "delimiter", "phones"), [
    ("Телефон\n8 916 123-45-67, 8 903 555-01-01\n".encode(), "utf-8", ";", ["+79161234567", "+79035550101"]),
    ("ФИО\tТелефон\r\nИван\t89161234567\r\n".encode("utf-16"), "utf-16", "\t", ["+79161234567"]),  # "Unicode text"
    ("Список на 01.03\r\nФИО,Телефон,Примечание\r\nИван,89161234567,\"да, звонить\"\r\n".encode("cp1251"),
     "cp1251", ",", ["+79161234567"]),
])
def test_encoding_and_delimiter_are_recognised_from_the_content(data, encoding, delimiter, phones):
    report, rows = read_file(data, "list.csv", None, "RU")
    assert (report.encoding, report.delimiter, report.errors) == (encoding, delimiter, [])
    assert [r.phones for r in rows] == [phones]
