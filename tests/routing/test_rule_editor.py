"""The rule editor through a running hub, on both databases: an administrator builds a rule in the form, sees
per-field Russian messages for bad input, reorders, every save is a version with what changed, one click puts
an old version back; a department head edits only their department's rules; drafts leave the running rules
alone until published."""

from __future__ import annotations

import json

from multidict import MultiDict

from routing.queries import load_rule_data
from tests.web.conftest import hub_sections, running  # noqa: F401 - fixtures

SQUARE = {"type": "Polygon", "coordinates": [[[37.60, 55.74], [37.64, 55.74], [37.64, 55.76], [37.60, 55.76],
                                              [37.60, 55.74]]]}


async def post(browser, path: str, fields: list[tuple[str, str]]):  # noqa: ANN001, ANN201
    """A form with repeated fields (checkboxes, multiple selects), as a browser sends it."""
    data = MultiDict([("_csrf", browser.csrf), *fields])
    resp = await browser.http.post(browser.base + path, data=data, allow_redirects=False)
    return resp, await resp.text()


def rule_fields(agent: int, **extra: str) -> list[tuple[str, str]]:
    fields = {"id": "center-expensive", "name": "Центр, дороже 20 млн", "enabled": "on", "price_min": "20 000 000",
              "price_max": "90000000", "polygon": json.dumps(SQUARE), "target_kind": "agents",
              "strategy": "round_robin", "on_no_agent": "next_rule", "mode": "publish", **extra}
    return [*fields.items(), ("channels", "webform"), ("deal_types", "sale"), ("target_agents", str(agent))]


async def stored(running):  # noqa: ANN001, ANN201, F811
    async with running.hub.database.sessions() as s:
        return await load_rule_data(s)


async def test_admin_builds_a_rule_in_the_form_and_every_save_is_a_version(running):  # noqa: F811
    anna = running.agency.users["anna"]
    admin = await running.browser("root")
    resp, page = await admin.get("/admin/routing/editor?new=1")
    assert resp.status == 200 and "Правила распределения обращений" in page and 'id="rule-map"' in page
    assert "tile.openstreetmap.org" in resp.headers["Content-Security-Policy"]
    assert "Новокосино" in page and "Девяткино" in page  # the shipped metro stations are offered

    resp, page = await post(admin, "/admin/routing/editor/rule",
                            rule_fields(anna, price_min="abc", price_max="10", hours_start="25:00", id="с пробелом"))
    assert resp.status == 422
    assert 'data-field="price_min">Нужно число' in page
    assert 'data-field="hours_start">25:00: нужно время ЧЧ:ММ' in page
    assert 'data-field="id">Латинские буквы' in page
    resp, page = await post(admin, "/admin/routing/editor/rule", rule_fields(anna, price_min="95000000"))
    assert resp.status == 422 and 'data-field="price_min">Цена «от» больше цены «до»' in page
    assert (await stored(running))["rules"] == []  # nothing half-saved

    resp, _ = await post(admin, "/admin/routing/editor/rule", rule_fields(anna))
    assert resp.status == 303
    rule = (await stored(running))["rules"][0]
    assert rule["when"]["price_min"] == 20_000_000 and rule["when"]["polygon"] == SQUARE
    assert rule["target"] == {"agents": [anna]} and rule["when"]["channels"] == ["webform"]
    _, page = await admin.get("/admin/routing/editor")
    assert "Цена, ₽ от 20\u00a0000\u00a0000 до 90\u00a0000\u00a0000" in page and "Anna" in page

    second = rule_fields(anna, id="rent", name="Аренда", price_min="", price_max="", polygon="")
    second = [f for f in second if f != ("deal_types", "sale")] + [("deal_types", "rent")]
    await post(admin, "/admin/routing/editor/rule", second)
    resp, _ = await post(admin, "/admin/routing/editor/order", [("order", "rent,center-expensive")])
    assert resp.status == 303
    data = await stored(running)
    assert [r["id"] for r in sorted(data["rules"], key=lambda r: r["priority"])] == ["rent", "center-expensive"]

    resp, page = await admin.get("/admin/routing/versions")
    assert resp.status == 200
    assert page.count('class="version"') == 3  # added, added, reordered
    assert "новый порядок" in page and "добавлено правило" in page and "Root" in page
    first = int(page.split('data-version="')[-1].split('"')[0])  # the oldest: only the first rule
    resp, _ = await admin.post(f"/admin/routing/versions/{first}/rollback")
    assert resp.status == 303
    assert [r["id"] for r in (await stored(running))["rules"]] == ["center-expensive"]
    _, page = await admin.get("/admin/routing/versions")
    assert page.count('class="version"') == 4 and "откат к версии" in page

