"""Agents' load and availability pages: the administrator edits profiles and duty rotas (errors per field, in
Russian and English), a department head reads their department, the service engineer reads rotas only."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm_core.intake import IntakeRequest
from crm_core.models import Channel, Inquiry, Role, User
from crm_core.models.routing import AgentRoutingProfile, DutyRota
from routing.queries import agent_snapshots
from tests.web.conftest import _password_hash, running  # noqa: F401 - fixtures


@pytest.fixture
def hub_sections() -> dict:
    return {"routing": {"enabled": False}}


ALWAYS = {d: "00:00-12:00, 12:00-00:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


async def _engineer(running) -> None:  # noqa: F811
    async with running.hub.database.sessions() as s, s.begin():
        s.add(User(login="tech", password_hash=_password_hash(), full_name="Tech", role=Role.SERVICE_ENGINEER))


def _row(page: str, agent_id: int) -> str:
    row = page[page.index(f'data-agent="{agent_id}"'):]
    return row[:row.index("</tr>")]


async def test_admin_sees_load_against_capacity_and_edits_a_profile_with_errors_per_field(running):  # noqa: F811
    a = running.agency
    anna = a.users["anna"]
    for n in range(2):
        res = await running.hub.intake.accept(IntakeRequest(channel=Channel.TELEGRAM, external_id=f"tg-{n}",
                                                            name="Клиент", phone=f"+7916000000{n}", text="Привет"))
        async with running.hub.database.sessions() as s, s.begin():
            (await s.get(Inquiry, res.inquiry_id)).owner_id = anna
    admin = await running.browser("root")
    resp, page = await admin.get("/admin/routing/agents")
    assert resp.status == 200 and "Агенты: загрузка и доступность" in page
    row = _row(page, anna)
    assert "Telegram 2/3" in row and "Не в сети" in row and "без графика" in row
    assert f'data-agent="{a.users["root"]}"' not in page  # the administrator is not routed
    resp, page = await admin.get(f"/admin/routing/agents/{anna}")
    assert resp.status == 200 and 'name="cap_telegram" value="3"' in page and 'id="read-only"' not in page
    bad = {"routable": "on", "cap_call": "один", "cap_telegram": "-1", "cap_email": "5000", "cap_webform": "20",
           "cap_visit": "", "cap_manual": "20", "languages": "ru, english", "duty_schedule": "nope"}
    resp, page = await admin.post(f"/admin/routing/agents/{anna}", bad)
    assert resp.status == 422
    assert 'data-field="cap_call">Нужно целое число' in page
    assert 'data-field="cap_telegram">Не меньше 0' in page
    assert 'data-field="cap_email">Не больше 1000' in page
    assert 'data-field="languages">english: язык — код вроде ru или en' in page
    assert 'data-field="duty_schedule">nope: нет такого графика дежурств' in page
    assert 'value="один"' in page  # what was typed stays in the form
    await admin.post("/language", {"locale": "en", "next": "/admin/routing/agents"})
    await admin.get(f"/admin/routing/agents/{anna}")
    resp, page = await admin.post(f"/admin/routing/agents/{anna}", bad)
    assert resp.status == 422 and 'data-field="cap_call">A whole number is needed' in page
    assert 'data-field="cap_telegram">At least 0' in page
    async with running.hub.database.sessions() as s:
        assert await s.get(AgentRoutingProfile, anna) is None  # nothing half-saved
    good = {**bad, "cap_call": "1", "cap_telegram": "2", "cap_email": "20", "languages": "ru, EN",
            "duty_schedule": ""}
    resp, _ = await admin.post(f"/admin/routing/agents/{anna}", good)
    assert resp.status == 303 and resp.headers["Location"] == f"/admin/routing/agents/{anna}?notice=saved"
    _, page = await admin.get("/admin/routing/agents")
    row = _row(page, anna)
    assert "Telegram 2/2" in row and 'class="cap error" data-channel="telegram"' in row  # at capacity, marked
    async with running.hub.database.sessions() as s:
        [snap] = await agent_snapshots(s, [anna])
    assert snap.capacity["telegram"] == 2 and snap.capacity["visit"] == 5 and snap.languages == {"ru", "en"}
    resp, _ = await admin.post(f"/admin/routing/agents/{anna}", {**good, "routable": ""})
    async with running.hub.database.sessions() as s:
        assert await agent_snapshots(s, [anna]) == []  # switched off: routing no longer sees her
    _, page = await admin.get("/admin/routing/agents")
    assert "gets no inquiries" in _row(page, anna)
    boss = a.users["boss"]  # a department head who also takes calls: routed once the profile says so
    assert f'data-agent="{boss}"' not in page
    resp, _ = await admin.post(f"/admin/routing/agents/{boss}", {**good, "duty_schedule": ""})
    assert resp.status == 303
    _, page = await admin.get("/admin/routing/agents")
    assert "Telegram 0/2" in _row(page, boss)


async def test_admin_writes_duty_rotas_with_night_shifts_exceptions_and_errors(running):  # noqa: F811
    a = running.agency
    admin = await running.browser("root")
    resp, page = await admin.get("/admin/routing/duty/new")
    assert resp.status == 200
    resp, page = await admin.post("/admin/routing/duty", {
        "id": "Ночь!", "name": "Ночная", "mon": "20:00-08:00", "tue": "09:00-13:00, 12:00-18:00", "wed": "9 утра",
        "exceptions": "2025-03-08: выходной\n08.03.2025: 10:00-12:00", "holidays_off": "on"})
    assert resp.status == 422
    assert 'data-field="id">Строчные латинские буквы' in page
    assert 'data-field="tue">09:00-13:00, 12:00-18:00: интервалы пересекаются' in page
    assert 'data-field="wed">9 утра: нужен интервал ЧЧ:ММ-ЧЧ:ММ' in page
    assert 'data-field="exceptions">08.03.2025: 10:00-12:00: нужна строка' in page
    assert 'data-field="mon"' not in page and 'value="20:00-08:00"' in page
    resp, _ = await admin.post("/admin/routing/duty", {
        "id": "night", "name": "Ночная", "mon": "20:00-08:00", "fri": "20:00 - 8:00",
        "exceptions": "2025-03-08: выходной\n2025-12-31: 10:00-15:00", "holidays_off": "on"})
    assert resp.status == 303 and resp.headers["Location"] == "/admin/routing/duty/night?notice=saved"
    async with running.hub.database.sessions() as s:
        rota = await s.get(DutyRota, "night")
    assert rota.weekly == {"mon": [["20:00", "08:00"]], "fri": [["20:00", "08:00"]]}
    assert rota.exceptions == {"2025-03-08": [], "2025-12-31": [["10:00", "15:00"]]} and rota.holidays_off
    resp, page = await admin.post("/admin/routing/duty", {"id": "night", "name": "again"})
    assert resp.status == 422 and 'data-field="id">Такой код уже есть' in page
    await admin.post("/admin/routing/duty", {"id": "always", "name": "Круглосуточно", **ALWAYS})
    await admin.post("/admin/routing/duty", {"id": "never", "name": "Никогда"})
    _, page = await admin.get("/admin/routing/agents/" + str(a.users["oleg"]))
    resp, _ = await admin.post(f"/admin/routing/agents/{a.users['oleg']}", {
        "routable": "on", "languages": "ru", "duty_schedule": "always"})
    resp, _ = await admin.post(f"/admin/routing/agents/{a.users['anna']}", {
        "routable": "on", "languages": "ru", "duty_schedule": "never"})
    _, page = await admin.get("/admin/routing/agents")
    assert "да (Круглосуточно)" in _row(page, a.users["oleg"])
    assert "нет (Никогда)" in _row(page, a.users["anna"])
    _, page = await admin.get("/admin/routing/duty")
    row = page[page.index('data-rota="night"'):]
    assert "20:00-08:00" in row and "2025-03-08: выходной" in row
    always = page[page.index('data-rota="always"'):]
    assert "Oleg" in always[:always.index("</tr>")]
    resp, _ = await admin.post("/admin/routing/duty/night", {"name": "Ночь", "sun": "22:00-06:00"})
    assert resp.status == 303
    async with running.hub.database.sessions() as s:
        rota = await s.get(DutyRota, "night", populate_existing=True)
    assert (rota.name, rota.weekly, rota.exceptions, rota.holidays_off) == ("Ночь", {"sun": [["22:00", "06:00"]]},
                                                                            {}, False)


async def test_a_department_head_reads_their_department_and_changes_nothing(running):  # noqa: F811
    a = running.agency
    admin = await running.browser("root")
    await admin.get("/admin/routing/duty/new")
    await admin.post("/admin/routing/duty", {"id": "day", "name": "День", "mon": "09:00-18:00"})
    boss = await running.browser("boss")  # head of sales
    resp, page = await boss.get("/admin/routing/agents")
    assert resp.status == 200
    assert f'data-agent="{a.users["anna"]}"' in page and f'data-agent="{a.users["maria"]}"' not in page
    assert f'data-agent="{a.users["spbagent"]}"' not in page
    resp, page = await boss.get(f"/admin/routing/agents/{a.users['anna']}")
    assert resp.status == 200 and 'id="read-only"' in page and "<fieldset disabled" in page
    resp, _ = await boss.get(f"/admin/routing/agents/{a.users['maria']}")
    assert resp.status == 404  # another department's agent: not found, as records out of reach are
    resp, _ = await boss.post(f"/admin/routing/agents/{a.users['anna']}", {"routable": "", "languages": "ru"})
    assert resp.status == 403
    resp, page = await boss.get("/admin/routing/duty")
    assert resp.status == 200 and 'data-rota="day"' in page and "/admin/routing/duty/new" not in page
    resp, _ = await boss.post("/admin/routing/duty/day", {"name": "x"})
    assert resp.status == 403
    async with running.hub.database.sessions() as s:
        assert (await s.execute(select(AgentRoutingProfile))).first() is None
        assert (await s.get(DutyRota, "day")).name == "День"


async def test_the_service_engineer_reads_duty_schedules_only(running):  # noqa: F811
    a = running.agency
    await _engineer(running)
    admin = await running.browser("root")
    await admin.get("/admin/routing/duty/new")
    await admin.post("/admin/routing/duty", {"id": "night", "name": "Ночная", "mon": "20:00-08:00"})
    await admin.get(f"/admin/routing/agents/{a.users['anna']}")
    await admin.post(f"/admin/routing/agents/{a.users['anna']}", {"routable": "on", "languages": "ru",
                                                                   "duty_schedule": "night"})
    tech = await running.browser("tech")
    resp, page = await tech.get("/admin/routing/duty")
    assert resp.status == 200 and 'data-rota="night"' in page and "20:00-08:00" in page and "Anna" in page
    assert 'href="/admin/routing/duty"' in page  # the top bar leads there
    resp, page = await tech.get("/admin/routing/duty/night")
    assert resp.status == 200 and 'id="read-only"' in page and 'value="20:00-08:00"' in page
    for path in ("/admin/routing/agents", f"/admin/routing/agents/{a.users['anna']}", "/admin/routing",
                 "/admin/routing/decisions", "/admin/routing/duty/new"):
        resp, _ = await tech.get(path)
        assert resp.status == 403, path
    for path, data in (("/admin/routing/duty/night", {"name": "x", "mon": "09:00-10:00"}),
                       ("/admin/routing/duty", {"id": "mine"}),
                       (f"/admin/routing/agents/{a.users['anna']}", {"routable": "on", "languages": "ru"})):
        resp, _ = await tech.post(path, data)
        assert resp.status == 403, path
    async with running.hub.database.sessions() as s:
        assert (await s.get(DutyRota, "night")).weekly == {"mon": [["20:00", "08:00"]]}
        assert await s.get(DutyRota, "mine") is None
    anna = await running.browser("anna")
    for path in ("/admin/routing/agents", "/admin/routing/duty", "/admin/routing/duty/night"):
        resp, _ = await anna.get(path)
        assert resp.status == 403, path
