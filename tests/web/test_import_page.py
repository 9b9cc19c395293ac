"""An administrator imports a messy client list from the web page and reads the error report."""

import aiohttp
from sqlalchemy import func, select

from crm_core.models import Client


def messy_csv(rows: int = 10_000) -> bytes:
    lines = ["ФИО;Телефон;Email;Компания"]
    for n in range(rows):
        phone = (f"8 916 {n:07d}", f"+7 (916) {n:07d}", f"79160{n:06d}", "12345", "")[n % 5]
        name = "" if n % 97 == 0 else f"Клиент {n}"
        lines.append(f"{name};{phone};{'' if n % 3 else f'c{n}@mail.ru'};=cmd|' /C calc'!A0")
    return "\r\n".join(lines).encode("cp1251")


async def upload(running, browser, data, filename, dry_run=False):
    form = aiohttp.FormData()
    form.add_field("_csrf", browser.csrf)
    form.add_field("file", data, filename=filename, content_type="text/csv")
    if dry_run:
        form.add_field("dry_run", "1")
    resp = await browser.http.post(running.base + "/admin/import", data=form, allow_redirects=False)
    return resp.status, await resp.text()


async def test_admin_imports_10000_messy_rows_and_reads_the_report(running):
    root = await running.browser("root")
    await root.get("/admin/import")
    status, page = await upload(running, root, messy_csv(), "клиенты.csv", dry_run=True)
    assert status == 200 and 'id="import-report"' in page
    async with running.hub.database.sessions() as s:
        assert (await s.execute(select(func.count()).select_from(Client))).scalar_one() == 0  # only checked
    status, page = await upload(running, root, messy_csv(), "клиенты.csv")
    assert status == 200 and "строка" in page and "Телефон" in page
    async with running.hub.database.sessions() as s:
        created = (await s.execute(select(func.count()).select_from(Client))).scalar_one()
        formula = (await s.execute(select(Client.company_name).limit(1))).scalar_one()
    good = sum(1 for n in range(10_000) if n % 5 < 3 or (n % 5 == 4 and n % 3 == 0))  # valid phone, or email only
    assert created == good
    assert formula == "=cmd|' /C calc'!A0"  # kept as text, never evaluated


async def test_a_file_that_is_not_a_table_imports_nothing(running):
    root = await running.browser("root")
    await root.get("/admin/import")
    status, page = await upload(running, root, b"\x89PNG\r\n\x1a\n" + bytes(200), "photo.png")
    assert status == 422 and 'id="import-error"' in page
    async with running.hub.database.sessions() as s:
        assert (await s.execute(select(func.count()).select_from(Client))).scalar_one() == 0


async def test_agents_cannot_import(running):
    anna = await running.browser("anna")
    resp, _ = await anna.get("/admin/import")
    assert resp.status == 403
