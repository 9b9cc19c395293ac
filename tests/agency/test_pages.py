"""The agency pages in a running hub, role by role: deals from an inquiry, the administrator's stages and
results, the property base, manual inquiries and the source; CSRF on every form, client text as text."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select, update

from crm_core.intake import IntakeRequest
from crm_core.models import Channel, Client, Inquiry, InquiryEvent, Property, TimelineEntry
from crm_core.models.agency import Deal, DealStep, FunnelStage
from tests.web.conftest import running  # noqa: F401 - fixtures

EVIL = "<script>alert(1)</script>"


@pytest.fixture
def hub_sections() -> dict:
    """Nothing routes inquiries behind the tests' backs: they give them to agents themselves."""
    return {"routing": {"enabled": False}}


async def _inquiry(running, owner: str, phone: str, name: str = "Ирина") -> int:  # noqa: ANN001, F811
    result = await running.hub.intake.accept(IntakeRequest(
        channel=Channel.CALL, external_id=f"pages-{phone}", phone=phone, name=name, text="Ищу квартиру"))
    a = running.agency
    dept = {"anna": a.sales, "oleg": a.sales, "maria": a.rent}[owner]
    async with running.hub.database.sessions() as s, s.begin():
        await s.execute(update(Inquiry).where(Inquiry.id == result.inquiry_id)
                        .values(owner_id=a.users[owner], department_id=dept, status="in_work"))
    return result.inquiry_id


async def _count(running, model, *where) -> int:  # noqa: ANN001, F811
    async with running.hub.database.sessions() as s:
        return (await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


async def test_agent_links_a_property_opens_a_deal_and_records_a_viewing_seen_on_history_and_timeline(running):  # noqa: F811
    anna = await running.browser("anna")
    inquiry_id = await _inquiry(running, "anna", "+79167770001", name=EVIL)
    await anna.get("/properties/new")
    resp, _ = await anna.post("/properties", {"address": "Москва, ул. Лесная, д. 5", "price": "12 500 000",
                                              "deal_type": "sale", "property_type": "flat", "district": "Тверской"})
    assert resp.status == 303
    prop_id = int(resp.headers["Location"].split("/")[2].split("?")[0])

    resp, page = await anna.get(f"/inquiries/{inquiry_id}/work?q=лесная")
    assert resp.status == 200 and f'data-property="{prop_id}"' in page
    resp, _ = await anna.post(f"/inquiries/{inquiry_id}/property", {"property_id": str(prop_id)})
    assert resp.status == 303
    resp, page = await anna.get(f"/inquiries/{inquiry_id}/work?notice=linked")
    assert "Объект привязан" in page and 'id="linked-property"' in page
    resp, _ = await anna.post(f"/inquiries/{inquiry_id}/deal")
    assert resp.status == 303
    deal_url = resp.headers["Location"]
    resp, page = await anna.get(deal_url)
    assert resp.status == 200 and 'id="stage">Новая' in page
    assert html.escape(EVIL) in page and EVIL not in page
    done = re.search(r'<option value="(\d+)"[^>]*>Просмотр проведён', page).group(1)

    resp, page = await anna.post(deal_url + "/steps", {"kind": "viewing", "at": "2026-12-01T11:30",
                                                      "property_id": str(prop_id), "result_id": "",
                                                      "note": "Клиенту понравилось"})
    assert resp.status == 422 and 'data-field="result_id"' in page  # closing needs a result
    assert "Клиенту понравилось" in page  # what was typed is kept
    await anna.get(deal_url)
    resp, _ = await anna.post(deal_url + "/steps", {"kind": "viewing", "at": "2026-12-01T11:30",
                                                   "property_id": str(prop_id), "result_id": done,
                                                   "note": "Клиенту понравилось"})
    assert resp.status == 303
    _, page = await anna.get(deal_url)
    assert 'data-kind="viewing" data-status="done"' in page and "01.12.2026 11:30" in page
    assert '<span class="result">Просмотр проведён</span>' in page

    _, page = await anna.get(f"/inquiries/{inquiry_id}")
    assert "Просмотр · Anna — Москва, ул. Лесная, д. 5 · Просмотр проведён — Клиенту понравилось" in page
    assert "Открыта сделка" in page and "Привязан объект" in page
    async with running.hub.database.sessions() as s:
        client_id = (await s.get(Inquiry, inquiry_id)).client_id
    _, page = await anna.get(f"/clients/{client_id}")
    assert 'data-kind="viewing">Просмотр</span>' in page
    _, page = await anna.get(f"/properties/{prop_id}")
    assert 'data-stat="inquiries">1<' in page and 'data-stat="viewings">1<' in page


async def test_planned_viewing_is_closed_later_with_a_result_from_the_directory(running):  # noqa: F811
    boss = await running.browser("boss")
    inquiry_id = await _inquiry(running, "anna", "+79167770002")
    await boss.get(f"/inquiries/{inquiry_id}/work")
    resp, _ = await boss.post(f"/inquiries/{inquiry_id}/deal")
    deal_url = resp.headers["Location"]
    await boss.get(deal_url)
    resp, _ = await boss.post(deal_url + "/steps", {"kind": "contract", "at": "2026-12-05T15:00", "planned": "1",
                                                   "agent_id": str(running.agency.users["oleg"])})
    assert resp.status == 303
    _, page = await boss.get(deal_url)
    assert 'data-kind="contract" data-status="planned"' in page
    step_id = re.search(r'action="/deals/steps/(\d+)/close"', page).group(1)
    signed = re.search(r'<option value="(\d+)">Договор подписан', page).group(1)
    anna = await running.browser("anna")  # the owner closes it
    await anna.get(deal_url)
    resp, _ = await anna.post(f"/deals/steps/{step_id}/close", {"result_id": signed, "note": "Подписан"})
    assert resp.status == 303
    async with running.hub.database.sessions() as s:
        step = await s.get(DealStep, int(step_id))
    assert (step.status, step.agent_id, str(step.result_id)) == ("done", running.agency.users["oleg"], signed)
    maria = await running.browser("maria")
    await maria.get("/deals")
    resp, _ = await maria.post(f"/deals/steps/{step_id}/close", {"result_id": signed})
    assert resp.status == 404


async def test_other_departments_get_404_for_deals_and_properties_and_the_director_only_reads(running):  # noqa: F811
    anna = await running.browser("anna")
    inquiry_id = await _inquiry(running, "anna", "+79167770003")
    await anna.get("/properties/new")
    resp, _ = await anna.post("/properties", {"address": "Москва, Тверская ул., д. 7"})
    prop_id = int(resp.headers["Location"].split("/")[2].split("?")[0])
    await anna.get(f"/inquiries/{inquiry_id}/work")
    resp, _ = await anna.post(f"/inquiries/{inquiry_id}/deal")
    deal_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    async with running.hub.database.sessions() as s:
        stage = (await s.execute(select(FunnelStage.id).where(FunnelStage.name == "Договор",
                                                              FunnelStage.list_key == 0))).scalar_one()

    for login in ("maria", "oleg", "mgr", "spbagent"):
        b = await running.browser(login)
        await b.get("/deals")
        for path in (f"/deals/{deal_id}", f"/properties/{prop_id}", f"/inquiries/{inquiry_id}/work"):
            resp, page = await b.get(path)
            assert resp.status == 404, (login, path)
            assert "Тверская" not in page
        for path, data in ((f"/deals/{deal_id}/stage", {"stage_id": str(stage)}),
                           (f"/deals/{deal_id}/steps", {"kind": "action", "at": "2026-12-01T10:00"}),
                           (f"/properties/{prop_id}", {"address": "Москва, захвачено"}),
                           (f"/properties/{prop_id}/archive", {"archived": "1"}),
                           (f"/inquiries/{inquiry_id}/deal", {}),
                           (f"/inquiries/{inquiry_id}/source", {"source": "Чужой"}),
                           (f"/inquiries/{inquiry_id}/property", {"property_id": str(prop_id)})):
            resp, _ = await b.post(path, data)
            assert resp.status == 404, (login, path)
        resp, text = await b.get("/properties/search?q=Тверская", headers={"Accept": "application/json"})
        assert resp.status == 200 and (await resp.json())["items"] == []

    director = await running.browser("director")
    resp, page = await director.get(f"/deals/{deal_id}")
    assert resp.status == 200 and 'id="stage-form"' not in page
    resp, page = await director.get(f"/properties/{prop_id}")
    assert resp.status == 200 and "readonly" in page and 'id="archive-form"' not in page
    resp, _ = await director.post(f"/deals/{deal_id}/stage", {"stage_id": str(stage)})
    assert resp.status == 403
    resp, _ = await director.post(f"/properties/{prop_id}", {"address": "Москва, захвачено"})
    assert resp.status == 403
    async with running.hub.database.sessions() as s:
        deal = await s.get(Deal, deal_id)
        prop = await s.get(Property, prop_id)
    assert deal.stage_id != stage and prop.address == "Москва, Тверская ул., д. 7" and not prop.archived

    boss = await running.browser("boss")  # the department head may
    await boss.get(f"/deals/{deal_id}")
    resp, _ = await boss.post(f"/deals/{deal_id}/stage", {"stage_id": str(stage)})
    assert resp.status == 303
    _, page = await boss.get("/deals")
    assert 'data-count="positive">1<' in page


async def test_forms_without_the_csrf_token_change_nothing(running):  # noqa: F811
    anna = await running.browser("anna")
    inquiry_id = await _inquiry(running, "anna", "+79167770004")
    await anna.get("/properties")
    for path, data in (("/properties", {"address": "Москва, ул. Без токена"}),
                       (f"/inquiries/{inquiry_id}/deal", {}),
                       (f"/inquiries/{inquiry_id}/source", {"source": "Без токена"}),
                       ("/intake/manual", {"kind": "visit", "token": "x" * 20, "phone": "+79160000000"})):
        resp, _ = await anna.post(path, data, csrf=False)
        assert resp.status == 403, path
    assert await _count(running, Property) == 0
    assert await _count(running, Deal) == 0
    assert await _count(running, Client) == 1


async def test_admin_edits_stages_per_department_and_the_results_directory(running):  # noqa: F811
    a = running.agency
    root = await running.browser("root")
    resp, page = await root.get("/admin/stages")
    assert resp.status == 200 and "Новая" in page and "Сделка закрыта" in page
    resp, page = await root.get(f"/admin/stages?department={a.sales}")
    assert "У отдела нет своего списка" in page
    resp, _ = await root.post("/admin/stages", {"department": str(a.sales), "copy": "1"})
    assert resp.status == 303
    await root.get(f"/admin/stages?department={a.sales}")
    resp, _ = await root.post("/admin/stages", {"department": str(a.sales), "name": EVIL, "positive": "1"})
    assert resp.status == 303
    _, page = await root.get(f"/admin/stages?department={a.sales}")
    assert html.escape(EVIL) in page and EVIL not in page
    resp, page = await root.post("/admin/stages", {"department": str(a.sales), "name": "   "})
    assert resp.status == 422 and 'data-field="name"' in page
    _, page = await root.get(f"/admin/stages?department={a.sales}")
    first = re.search(r'data-stage="(\d+)"', page).group(1)
    resp, _ = await root.post(f"/admin/stages/{first}", {"action": "rename", "name": "Первый контакт"})
    assert resp.status == 303
    _, page = await root.get("/admin/stages")
    assert "Первый контакт" not in page  # the default list is untouched

    anna = await running.browser("anna")
    inquiry_id = await _inquiry(running, "anna", "+79167770005")
    await anna.get(f"/inquiries/{inquiry_id}/work")
    resp, _ = await anna.post(f"/inquiries/{inquiry_id}/deal")
    _, page = await anna.get(resp.headers["Location"])
    assert 'id="stage">Первый контакт' in page

    resp, page = await root.get("/admin/results")
    assert "Клиент заинтересован" in page and "Договор подписан" in page
    resp, _ = await root.post("/admin/results", {"name": "Аванс получен", "applies_to": "contract", "positive": "1"})
    assert resp.status == 303
    resp, page = await root.post("/admin/results", {"name": "Аванс получен", "applies_to": "any"})
    assert resp.status == 422 and 'data-field="name"' in page
    resp, page = await root.post("/admin/results", {"name": "Иное", "applies_to": "everything"})
    assert resp.status == 422 and 'data-field="applies_to"' in page
    for path in ("/admin/stages", "/admin/results"):
        resp, _ = await anna.get(path)
        assert resp.status == 403
    resp, _ = await anna.post("/admin/results", {"name": "Своё"})
    assert resp.status == 403
    assert await _count(running, FunnelStage, FunnelStage.name == "Своё") == 0


async def test_walk_in_visit_finds_the_known_client_and_a_resent_form_gives_one_inquiry(running):  # noqa: F811
    await _inquiry(running, "anna", "+79167770006", name="Пётр")
    oleg = await running.browser("oleg")
    _, page = await oleg.get("/intake/manual")
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    form = {"kind": "visit", "token": token, "name": "Пётр Иванов", "phone": "8 (916) 777-00-06",
            "text": "Пришёл в офис, хочет двушку"}
    resp, page = await oleg.post("/intake/manual", form)
    assert resp.status == 200 and "Клиент уже известен" in page
    resp, page = await oleg.post("/intake/manual", form)  # the same form again
    assert "Эта форма уже отправлена" in page
    async with running.hub.database.sessions() as s:
        visits = (await s.execute(select(Inquiry).where(Inquiry.channel == "visit"))).scalars().all()
        assert len(visits) == 1 and visits[0].source == "Визит в офис"
        assert await _count(running, Client) == 1

    _, page = await oleg.get("/intake/manual")
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    resp, page = await oleg.post("/intake/manual", {"kind": "recommendation", "token": token, "phone": "12",
                                                    "recommended_by": "Анна Петровна"})
    assert resp.status == 422 and 'data-field="phone"' in page and 'value="Анна Петровна"' in page
    resp, page = await oleg.post("/intake/manual", {"kind": "recommendation", "token": token})
    assert resp.status == 422 and 'data-field="contact"' in page
    resp, page = await oleg.post("/intake/manual", {"kind": "recommendation", "token": token,
                                                    "phone": "+7 926 100-20-30", "recommended_by": EVIL})
    assert resp.status == 200 and "зарегистрировано" in page
    async with running.hub.database.sessions() as s:
        rec = (await s.execute(select(Inquiry).where(Inquiry.external_id == f"manual:{token}"))).scalar_one()
    assert rec.channel == "manual" and rec.source == f"Рекомендация: {EVIL}"
    director = await running.browser("director")
    resp, _ = await director.get("/intake/manual")
    assert resp.status == 403


async def test_owner_corrects_the_advertising_source_and_the_old_one_stays_in_history(running):  # noqa: F811
    anna = await running.browser("anna")
    inquiry_id = await _inquiry(running, "anna", "+79167770007")
    await anna.get(f"/inquiries/{inquiry_id}/work")
    resp, page = await anna.post(f"/inquiries/{inquiry_id}/source", {"source": " "})
    assert resp.status == 422 and 'data-field="source"' in page
    resp, _ = await anna.post(f"/inquiries/{inquiry_id}/source", {"source": "Авито, баннер"})
    assert resp.status == 303
    _, page = await anna.get(f"/inquiries/{inquiry_id}")
    assert "Авито, баннер" in page and "Источник изменён" in page and "— → Авито, баннер" in page
    async with running.hub.database.sessions() as s:
        assert (await s.get(Inquiry, inquiry_id)).source == "Авито, баннер"
        kinds = (await s.execute(select(TimelineEntry.kind).where(TimelineEntry.inquiry_id == inquiry_id))).scalars()
        assert "source" in list(kinds)
        assert (await s.execute(select(InquiryEvent.data).where(InquiryEvent.kind == "source"))).scalar_one() == {
            "from": None, "to": "Авито, баннер"}


async def test_property_base_tabs_errors_per_field_and_the_search_endpoint(running):  # noqa: F811
    anna = await running.browser("anna")
    await anna.get("/properties/new")
    resp, page = await anna.post("/properties", {"address": EVIL, "price": "дорого", "lat": "55.7"})
    assert resp.status == 422 and 'data-field="price"' in page and 'data-field="lon"' not in page
    assert html.escape(EVIL) in page and EVIL not in page  # kept, shown as text
    resp, page = await anna.post("/properties", {"address": EVIL, "lat": "55.7"})
    assert resp.status == 422 and 'data-field="lon"' in page
    resp, _ = await anna.post("/properties", {"address": EVIL, "price": "9 000 000", "liquidity": "low"})
    assert resp.status == 303
    resp, _ = await anna.post("/properties", {"address": "Москва, ул. Старая, д. 1"})
    old_id = resp.headers["Location"].split("/")[2].split("?")[0]
    await anna.get(f"/properties/{old_id}")
    await anna.post(f"/properties/{old_id}/archive", {"archived": "1"})
    _, page = await anna.get("/properties?tab=mine")
    assert html.escape(EVIL) in page and "Старая" not in page and "9 000 000" in page and "низкая" in page
    assert "Объекты подчинённых" not in page  # an agent has no subordinates
    _, page = await anna.get("/properties?tab=archive")
    assert "Старая" in page
    resp, _ = await anna.get("/properties/search?q=9000000")
    body = await resp.json()
    assert [i["address"] for i in body["items"]] == [EVIL] and body["items"][0]["price"] == 9000000.0

    boss = await running.browser("boss")
    _, page = await boss.get("/properties?tab=team")
    assert html.escape(EVIL) in page and "Объекты подчинённых" in page
    resp, _ = await boss.get("/properties/search?q=" + "x" * 201)
    assert resp.status == 400
    anonymous = await running.browser()
    resp, _ = await anonymous.get("/properties/search?q=Москва", headers={"Accept": "application/json"})
    assert resp.status == 401
