"""Routing pages through a running hub: the administrator edits and imports rules (errors per rule and
field, nothing half-saved), agents see why they got an inquiry, claim offers, refuse."""

from __future__ import annotations

import html
import tomllib

import pytest
from sqlalchemy import update

from crm_core.intake import IntakeRequest
from crm_core.models import Channel, Inquiry, User
from routing.queries import save_rule_data
from routing.service import RoutingService
from tests.web.conftest import running  # noqa: F401 - fixtures


@pytest.fixture
def hub_sections() -> dict:
    """These tests drive their own routing service; the hub's (wired by bootstrap) stays off."""
    return {"routing": {"enabled": False}}

GOOD = """
[[rules]]
id = "sales"
name = "Продажи <b>всем</b>"
priority = 10
target = { departments = [%d] }
strategy = "least_loaded"
owner_first = false

[[rules]]
id = "rent"
priority = 20
when = { deal_types = ["rent"] }
target = { departments = [%d] }
"""

TEAM = """
[[rules]]
id = "team"
priority = 1
target = { departments = [SALES] }
strategy = "team_claim"
owner_first = false
"""

BAD = """
[[rules]]
id = "center"
priority = 5
when = { districs = ["Хамовники"] }
target = { teams = [1] }
"""


async def test_admin_imports_rules_sees_field_errors_and_exports_them_back(running):  # noqa: F811
    a = running.agency
    admin = await running.browser("root")
    resp, page = await admin.get("/admin/routing")
    assert resp.status == 200 and "Правила маршрутизации" in page
    resp, page = await admin.post("/admin/routing/import", {"text": GOOD % (a.sales, a.rent)})
    assert resp.status == 303
    resp, page = await admin.get("/admin/routing?notice=saved")
    assert 'data-rule="sales"' in page and 'data-rule="rent"' in page
    assert "Продажи &lt;b&gt;всем&lt;/b&gt;" in page  # the administrator's text is shown as text
    resp, page = await admin.post("/admin/routing/import", {"text": BAD})
    assert resp.status == 422
    assert 'data-rule="rules[0] &#34;center&#34;" data-field="when.districs"' in page
    assert "правило №1 «center» <code>when.districs</code>: такого поля нет" in page  # in Russian, the field as typed
    resp, page = await admin.get("/admin/routing")
    assert 'data-rule="sales"' in page and 'data-rule="center"' not in page  # the running rules stay
    resp, text = await admin.get("/admin/routing/export")
    assert resp.status == 200 and "attachment" in resp.headers["Content-Disposition"]
    exported = tomllib.loads(text)
    assert [r["id"] for r in exported["rules"]] == ["sales", "rent"]
    assert exported["rules"][0]["name"] == "Продажи <b>всем</b>"


async def test_admin_moves_toggles_edits_and_deletes_a_rule(running):  # noqa: F811
    a = running.agency
    admin = await running.browser("root")
    await admin.get("/admin/routing")
    await admin.post("/admin/routing/import", {"text": GOOD % (a.sales, a.rent)})
    await admin.get("/admin/routing")
    resp, _ = await admin.post("/admin/routing/rules/rent/move", {"direction": "up"})
    assert resp.status == 303
    _, page = await admin.get("/admin/routing")
    assert page.index('data-rule="rent"') < page.index('data-rule="sales"')
    await admin.post("/admin/routing/rules/sales/toggle")
    _, page = await admin.get("/admin/routing")
    row = page[page.index('data-rule="sales"'):]
    assert row.index("нет") < row.index("</tr>")
    _, page = await admin.get("/admin/routing?edit=rent")
    assert "deal_types" in html.unescape(page) and "priority = 10" in page  # moved up: it took 10
    edited = 'id = "rent"\npriority = 10\nwhen = { deal_types = ["rent"] }\n' \
             f'target = {{ departments = [{a.rent}] }}\nstrategy = "round_robin"\n'
    resp, _ = await admin.post("/admin/routing/rules", {"rule": edited, "original": "rent"})
    assert resp.status == 303
    _, page = await admin.get("/admin/routing")
    assert "round_robin" in page
    resp, page = await admin.post("/admin/routing/rules", {"rule": 'id = "x"\npriority = 20\ntarget = { teams = [1] }',
                                                          "original": ""})
    assert resp.status == 422 and 'data-field="priority"' in page and "приоритет 20 уже занят правилом" in page
    await admin.get("/admin/routing")
    await admin.post("/admin/routing/rules/rent/delete")
    _, page = await admin.get("/admin/routing")
    assert 'data-rule="rent"' not in page and 'data-rule="sales"' in page


async def test_agents_cannot_reach_the_rules(running):  # noqa: F811
    anna = await running.browser("anna")
    resp, _ = await anna.get("/admin/routing")
    assert resp.status in (403, 404)
    resp, _ = await anna.post("/admin/routing/import", {"text": BAD})
    assert resp.status in (403, 404)


async def _routing(running, rules: str) -> RoutingService:  # noqa: ANN001, F811
    hub = running.hub
    await save_rule_data(hub.database.sessions, tomllib.loads(rules))
    async with hub.database.sessions() as s, s.begin():
        await s.execute(update(User).where(User.login.in_(["anna", "oleg"])).values(status="available"))
    svc = RoutingService(hub.database.sessions, hub.bus)
    await svc.start()
    await svc.caught_up()
    return svc


async def _form(running, n: int) -> int:  # noqa: ANN001, F811
    result = await running.hub.intake.accept(IntakeRequest(
        channel=Channel.WEBFORM, external_id=f"page-{n}", name="<script>alert(1)</script>", phone=f"+7999000{n:04d}",
        text="Квартира"))
    async with running.hub.database.sessions() as s, s.begin():
        await s.execute(update(Inquiry).where(Inquiry.id == result.inquiry_id)
                        .values(department_id=running.agency.sales))
    return result.inquiry_id


async def test_the_agent_sees_why_they_got_the_inquiry_and_can_refuse_it(running):  # noqa: F811
    a = running.agency
    svc = await _routing(running, GOOD % (a.sales, a.rent))
    await svc.stop()
    inquiry_id = await _form(running, 1)
    routed = await svc.route(inquiry_id)  # (the hub's own service is wired by bootstrap; here by hand)
    assert routed.agent_id == a.users["anna"]
    anna = await running.browser("anna")
    resp, page = await anna.get(f"/inquiries/{inquiry_id}")
    assert resp.status == 200 and "Почему этот агент" in page
    assert "Oleg · Доступен · Загрузка 0/20" in page
    assert 'id="routing-refuse"' in page
    boss = await running.browser("boss")
    _, log_page = await boss.get("/admin/routing/decisions")
    assert f'/inquiries/{inquiry_id}"' in log_page and "Anna" in log_page
    resp, _ = await anna.post(f"/routing/inquiries/{inquiry_id}/refuse")
    assert resp.status == 303
    async with running.hub.database.sessions() as s:
        i = await s.get(Inquiry, inquiry_id)
    assert (i.owner_id, i.refusals) == (a.users["oleg"], 1)
    oleg = await running.browser("oleg")
    _, page = await oleg.get(f"/inquiries/{inquiry_id}")
    assert "Anna — refused it" in page
    resp, _ = await oleg.post(f"/routing/inquiries/{inquiry_id}/accept")
    _, page = await oleg.get(f"/inquiries/{inquiry_id}")
    assert 'id="routing-accept"' not in page


async def test_a_team_offer_is_claimed_from_the_offers_page_and_the_second_is_too_late(running):  # noqa: F811
    a = running.agency
    svc = await _routing(running, TEAM.replace("SALES", str(a.sales)))
    await svc.stop()
    inquiry_id = await _form(running, 2)
    assert (await svc.route(inquiry_id)).outcome == "offer"
    anna, oleg = await running.browser("anna"), await running.browser("oleg")
    _, page_a = await anna.get("/routing/offers")
    _, page_o = await oleg.get("/routing/offers")
    assert "Беру работу на себя" in page_a and "Беру работу на себя" in page_o
    offer_path = page_a.split('action="/routing/offers/')[1].split('"')[0]
    resp, _ = await anna.post(f"/routing/offers/{offer_path}")
    assert resp.status == 303 and resp.headers["Location"] == f"/inquiries/{inquiry_id}?notice=claimed"
    resp, _ = await oleg.post(f"/routing/offers/{offer_path}")
    assert resp.headers["Location"] == "/routing/offers?notice=too_late"
    _, page = await oleg.get("/routing/offers?notice=too_late")
    assert "Опоздали" in page and "Сейчас предложений нет" in page
    _, page = await anna.get(f"/inquiries/{inquiry_id}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page


async def test_a_long_list_of_agents_is_cut_and_the_page_says_how_many_more(running, monkeypatch):  # noqa: F811
    """A big team's decision lists a few agents (here one, as if the team were large) and counts the rest."""
    import routing.assign

    monkeypatch.setattr(routing.assign, "EXPLAINED_AGENTS", 1)
    a = running.agency
    svc = await _routing(running, GOOD % (a.sales, a.rent))
    await svc.stop()
    inquiry_id = await _form(running, 7)
    routed = await svc.route(inquiry_id)
    anna = await running.browser("anna")
    _, page = await anna.get(f"/inquiries/{inquiry_id}")
    assert routed.agent_id == a.users["anna"]
    assert "Anna · Доступен" in page and "Oleg · Доступен" not in page
    assert "и ещё 1" in page
