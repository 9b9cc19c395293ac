"""The rule editor's drafts and a department head's part, through a running hub on SQLite (the versions'
storage is checked on both databases in test_rule_editor.py): a draft leaves the running rules alone until it
is published; a head edits only their department's rules and gives inquiries only to their own people."""

from __future__ import annotations

from tests.browser.conftest import db  # noqa: F401 - SQLite only
from tests.routing.test_rule_editor import post, rule_fields, stored
from tests.web.conftest import hub_sections, running  # noqa: F401 - fixtures


async def test_a_draft_leaves_the_running_rules_until_published(running):  # noqa: F811
    anna = running.agency.users["anna"]
    admin = await running.browser("root")
    await admin.get("/admin/routing/editor")
    resp, _ = await post(admin, "/admin/routing/editor/rule", rule_fields(anna, mode="draft"))
    assert resp.status == 303 and "draft=" in resp.headers["Location"]
    draft = int(resp.headers["Location"].split("draft=")[1].split("&")[0])
    assert (await stored(running))["rules"] == []
    _, page = await admin.get(f"/admin/routing/editor?draft={draft}")
    assert f"Вы правите черновик №{draft}" in page and 'data-rule="center-expensive"' in page
    resp, _ = await admin.post(f"/admin/routing/drafts/{draft}/publish")
    assert resp.status == 303
    assert [r["id"] for r in (await stored(running))["rules"]] == ["center-expensive"]
    resp, _ = await admin.get(f"/admin/routing/editor?draft={draft}")
    assert resp.status == 404  # the draft became the published version


async def test_a_department_head_edits_only_their_departments_rules(running):  # noqa: F811
    a = running.agency
    admin = await running.browser("root")
    await admin.get("/admin/routing/editor")
    await post(admin, "/admin/routing/editor/rule", rule_fields(a.users["maria"], id="company-wide"))
    boss = await running.browser("boss")
    resp, page = await boss.get("/admin/routing/editor?new=1")
    assert resp.status == 200 and 'data-rule="company-wide"' not in page
    own = rule_fields(a.users["anna"], id="sales-own", polygon="")
    resp, page = await post(boss, "/admin/routing/editor/rule", own)
    assert resp.status == 422 and 'data-field="departments">Только ваш отдел' in page
    resp, page = await post(boss, "/admin/routing/editor/rule", [*own, ("departments", str(a.sales))])
    assert resp.status == 303, page
    foreign = rule_fields(a.users["maria"], id="steal", polygon="")
    resp, page = await post(boss, "/admin/routing/editor/rule", [*foreign, ("departments", str(a.sales))])
    assert resp.status == 422 and 'data-field="target_agents">Только сотрудники вашего отдела' in page
    resp, _ = await boss.post("/admin/routing/editor/rules/company-wide/delete")
    assert resp.status == 404
    assert sorted(r["id"] for r in (await stored(running))["rules"]) == ["company-wide", "sales-own"]
    agent = await running.browser("anna")
    resp, _ = await agent.get("/admin/routing/editor")
    assert resp.status in (403, 404)


async def test_the_metro_and_district_lists_are_shipped_and_editable(running):  # noqa: F811
    admin = await running.browser("root")
    resp, page = await admin.get("/admin/routing/places")
    assert resp.status == 200 and "Москва; Новокосино; Калининская; 55.745113; 37.864052" in page
    assert "записей: 354" in page and "Санкт-Петербург; Девяткино" in page
    resp, page = await admin.post("/admin/routing/places", {
        "stations": "Москва; Новая станция; Тестовая; 55.7; 37.6\nКазань; Кремлёвская; ; север; юг\nОдно поле",
        "districts": "Москва; Арбат"})
    assert resp.status == 422
    assert "строка 2: координаты — два числа, широта и долгота" in page and "строка 3: не хватает полей" in page
    resp, _ = await admin.post("/admin/routing/places", {"stations": "Москва; Новая станция; Тестовая; 55.7; 37.6",
                                                         "districts": "Москва; Арбат\nМосква; Хамовники"})
    assert resp.status == 303
    _, page = await admin.get("/admin/routing/editor?new=1")
    assert "Новая станция · Москва · Тестовая" in page and "Новокосино" not in page
    assert '<option value="Хамовники">' in page
    await admin.get("/admin/routing/places")
    await admin.post("/admin/routing/places", {"reset": "1"})
    _, page = await admin.get("/admin/routing/editor?new=1")
    assert "Новокосино" in page
