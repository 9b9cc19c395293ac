"""Owner leads through the running hub: a department head uploads a file, callers work the cold list and mark
results, the JSON API takes leads with its bearer token only; other departments get 404."""

from __future__ import annotations

import re

import aiohttp
import pytest
from sqlalchemy import func, select

from crm_core.models import Task
from crm_core.models.agency import OwnerLead
from tests.web.conftest import running  # noqa: F401 - fixtures

CSV = ("Адрес;Телефон;Собственник;Район;Цена\n"
       "Москва, ул. Лесная, д. 5;+7 916 200-00-01;<b>Иван</b>;Тверской;10 000 000\n"
       "Москва, ул. Садовая, д. 1;+7 916 200-00-02;Ольга;Арбат;8 000 000\n"
       "Москва, ул. Садовая, д. 2;123;Ошибка;Арбат;1\n").encode("cp1251")


@pytest.fixture
def hub_sections() -> dict:
    return {"routing": {"enabled": False}}


async def _upload(browser, data: bytes, department: int, filename: str = "owners.csv"):  # noqa: ANN001, ANN202
    form = aiohttp.FormData()
    form.add_field("_csrf", browser.csrf)
    form.add_field("department", str(department))
    form.add_field("source", "Авито, собственники")
    form.add_field("file", data, filename=filename, content_type="text/csv")
    resp = await browser.http.post(browser.base + "/leads/import", data=form, allow_redirects=False)
    return resp, await resp.text()


async def test_head_uploads_owners_and_agents_work_the_cold_list(running):  # noqa: F811
    a = running.agency
    boss = await running.browser("boss")
    await boss.get("/leads/import")
    resp, page = await _upload(boss, CSV, a.sales)
    assert resp.status == 200
    assert "Строк: 3, новых объектов: 2, повторов: 0, ошибок: 1" in page and "строка 4, phone" in page
    resp, page = await _upload(boss, CSV, a.rent)  # not the head's department
    assert resp.status == 422 and 'data-field="department"' in page
    resp, page = await _upload(boss, b"%PDF-1.4", a.sales, "owners.pdf")
    assert resp.status == 422 and "PDF" in page

    anna = await running.browser("anna")
    resp, page = await anna.get("/leads")
    assert resp.status == 200 and page.count('data-due="now"') == 2
    assert "&lt;b&gt;Иван&lt;/b&gt;" in page and "<b>Иван" not in page
    first = re.search(r'data-task="(\d+)" data-due="now"', page).group(1)
    resp, _ = await anna.post(f"/leads/tasks/{first}", {"outcome": "no_answer"})
    assert resp.status == 303 and resp.headers["Location"] == "/leads?notice=calling"
    _, page = await anna.get("/leads?notice=calling")
    assert "Перезвоним позже" in page and page.count('data-due="now"') == 1 and 'data-due="later"' in page
    second = re.search(r'data-task="(\d+)" data-due="now"', page).group(1)
    resp, _ = await anna.post(f"/leads/tasks/{second}", {"outcome": "reached", "note": "Готов к показу"})
    assert resp.headers["Location"] == "/leads?notice=reached"
    resp, _ = await anna.post(f"/leads/tasks/{second}", {"outcome": "reached"})
    assert resp.status == 422  # marked once only

    maria = await running.browser("maria")
    _, page = await maria.get("/leads")
    assert "Лесная" not in page and "Садовая" not in page
    resp, _ = await maria.post(f"/leads/tasks/{first}", {"outcome": "refused"})
    assert resp.status == 404
    resp, _ = await anna.get("/leads/import")
    assert resp.status == 403
    resp, _ = await anna.post(f"/leads/tasks/{first}", {"outcome": "refused"}, csrf=False)
    assert resp.status == 403
    async with running.hub.database.sessions() as s:
        statuses = dict((await s.execute(select(OwnerLead.task_id, OwnerLead.status))).all())
        open_tasks = (await s.execute(select(func.count(Task.id)).where(Task.kind == "cold_call",
                                                                       Task.status == "open"))).scalar_one()
    assert statuses == {int(first): "calling", int(second): "reached"} and open_tasks == 1


async def test_json_api_takes_owner_leads_with_its_token_only(running, monkeypatch):  # noqa: F811
    http = (await running.browser()).http
    url = running.base + "/api/agency/owner-leads"
    body = {"source": "Партнёрский фид", "department_id": running.agency.sales,
            "items": [{"address": "Москва, ул. Лесная, д. 9", "phone": "+79162000009", "price": 7000000},
                      {"address": "москва, ул. лесная, д. 9", "phone": "89162000009"},
                      {"address": "", "phone": "+79162000010"}]}
    resp = await http.post(url, json=body)
    assert resp.status == 404  # no token configured: the endpoint is off
    monkeypatch.setenv("HUB_AGENCY__IMPORT_TOKEN", "token-for-tests-0123456789")
    hub = running.hub  # the administrator sets the token: the [agency] section as read from the environment
    hub.settings = hub.settings.model_copy(update={"agency": type(hub.settings.agency)()})
    resp = await http.post(url, json=body, headers={"Authorization": "Bearer wrong"})
    assert resp.status == 401
    resp = await http.post(url, json=body, headers={"Authorization": "Bearer token-for-tests-0123456789"})
    assert resp.status == 200
    report = await resp.json()
    assert (report["rows"], report["created"], report["duplicates"]) == (3, 1, 1)
    assert report["errors"] == [{"item": 3, "field": "address", "message": report["errors"][0]["message"]}]
    resp = await http.post(url, json={"items": []}, headers={"Authorization": "Bearer token-for-tests-0123456789"})
    assert resp.status == 422
    resp = await http.post(url, data=b"{", headers={"Authorization": "Bearer token-for-tests-0123456789",
                                                    "Content-Type": "application/json"})
    assert resp.status == 400
    async with running.hub.database.sessions() as s:
        lead = (await s.execute(select(OwnerLead))).scalar_one()
    assert (lead.source, lead.department_id) == ("Партнёрский фид", running.agency.sales)
