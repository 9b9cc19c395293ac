"""«Источники звонков», the UTM labels and the monthly costs: an admin names a web form's utm_source, a form with
it arrives under that source; costs per month with Russian messages for what is typed wrong; all journaled."""

from __future__ import annotations

from datetime import date

import aiohttp
import pytest
from sqlalchemy import select

from crm_core.models import Inquiry
from crm_core.models.ad_sources import UtmSource
from crm_core.models.settings_audit import SettingChange
from telephony.ad_sources import (
    SourceFormError,
    UtmTable,
    parse_amount,
    parse_month,
    roubles,
    save_utm,
    share_of_month,
)
from tests.web.conftest import hub_sections, running  # noqa: F401 - the running hub fixture

PAGE = "/admin/call-sources"


async def form_source(running, idem: str, **utm: str) -> str:  # noqa: ANN001, F811
    data = {"name": "Мария", "phone": "+7 916 765-43-21", "message": "Квартира на Соколе",
            "idempotency_key": f"ad-source-{idem}", **utm}
    async with aiohttp.ClientSession() as http:
        resp = await http.post(running.base + "/forms/sokol-site", data=data)
        assert resp.status == 201
        inquiry_id = (await resp.json())["inquiry_id"]
    async with running.hub.database.sessions() as s:
        return (await s.get(Inquiry, inquiry_id)).source


async def test_an_admin_names_utm_labels_and_a_web_form_takes_the_named_source(running):  # noqa: F811
    agent = await running.browser("anna")
    await agent.get("/inbox")
    resp, _ = await agent.post(f"{PAGE}/utm", {"utm_source": "yandex", "source": "Чужой"})
    assert resp.status in (302, 303, 403)
    admin = await running.browser("root")
    resp, page = await admin.get(PAGE)
    assert resp.status == 200 and "Метки UTM веб-форм" in page and "Меток пока нет" in page

    resp, _ = await admin.post(f"{PAGE}/utm", {"utm_source": "yandex", "source": "Яндекс"}, csrf=False)
    assert resp.status == 403
    resp, _ = await admin.post(f"{PAGE}/utm", {"utm_source": " Yandex ", "utm_campaign": "", "source": "Яндекс Директ"})
    assert resp.status == 303
    resp, _ = await admin.post(f"{PAGE}/utm", {"utm_source": "yandex", "utm_campaign": "SPB-2026",
                                               "source": "Яндекс СПб"})
    assert resp.status == 303
    resp, page = await admin.post(f"{PAGE}/utm", {"utm_source": "YANDEX", "source": "Ещё раз"})
    assert resp.status == 422 and "Такая метка (с этой кампанией) уже есть в таблице" in page
    assert 'value="Ещё раз"' in page  # what was typed stays in the form
    resp, page = await admin.post(f"{PAGE}/utm", {"utm_source": "", "source": ""})
    assert resp.status == 422 and "Укажите метку источника (UTM)" in page
    _, page = await admin.get(f"{PAGE}?notice=ad_saved")
    assert "Сохранено" in page and "Яндекс Директ" in page and "spb-2026" in page and "Чужой" not in page

    assert await form_source(running, "f-1", utm_source="yandex", utm_campaign="sokol") == "Яндекс Директ"
    assert await form_source(running, "f-2", utm_source="Yandex", utm_campaign="spb-2026") == "Яндекс СПб"
    assert await form_source(running, "f-3", utm_source="google") == "google"  # not in the table: as before
    assert await form_source(running, "f-4") == "sokol-site"  # no label at all: the site

    async with running.hub.database.sessions() as s:
        changes = list((await s.execute(select(SettingChange).where(SettingChange.kind == "source")
                                        .order_by(SettingChange.id))).scalars())
    assert [(c.key, c.before, c.after["source"]) for c in changes] == [
        ("utm:yandex", None, "Яндекс Директ"), ("utm:yandex/spb-2026", None, "Яндекс СПб")]
    async with running.hub.database.sessions() as s:
        general = (await s.execute(select(UtmSource.id).where(UtmSource.utm_campaign == ""))).scalar_one()

    resp, _ = await admin.post(f"{PAGE}/utm", {"id": str(general), "utm_source": "yandex",
                                               "source": "Яндекс Директ Москва"})
    assert resp.status == 303
    assert await form_source(running, "f-5", utm_source="yandex") == "Яндекс Директ Москва"
    resp, _ = await admin.post(f"{PAGE}/utm/delete", {"id": str(general)})
    assert resp.status == 303
    assert await form_source(running, "f-6", utm_source="yandex") == "yandex"
    resp, page = await admin.post(f"{PAGE}/utm", {"id": str(general), "utm_source": "yandex", "source": "Поздно"})
    assert resp.status == 422 and "Эту метку уже удалили" in page  # edited in another tab after the delete
    _, page = await admin.get("/admin/settings-log")
    assert "utm:yandex" in page


async def test_the_forms_table_in_memory_takes_another_instance_s_change_within_its_time(db):  # noqa: ANN001
    """The intake keeps the UTM table in memory; a change made elsewhere (another hub instance) applies once the
    table's 10 s are up, and ``forget`` (this instance's page) applies it at once."""
    now = [0.0]
    table = UtmTable(db.sessions, ttl_s=10.0, clock=lambda: now[0])
    async with db.sessions() as s, s.begin():
        await save_utm(s, "avito", "", "Авито", None, None)
    assert await table.source_for("Avito") == "Авито"
    assert await table.source_for("avito", "spring") == "Авито"  # no campaign row: the any-campaign row
    assert await table.source_for("cian") is None
    async with db.sessions() as s, s.begin():
        await save_utm(s, "avito", "spring", "Авито весна", None, None)
    now[0] = 9.0
    assert await table.source_for("avito", "spring") == "Авито"  # still the table read at 0 s
    now[0] = 10.5
    assert await table.source_for("avito", "spring") == "Авито весна"
    async with db.sessions() as s, s.begin():
        await save_utm(s, "cian", "", "ЦИАН", None, None)
    table.forget()
    assert await table.source_for("cian") == "ЦИАН"


async def test_an_admin_sets_a_monthly_cost_and_wrong_input_is_named_in_russian(running):  # noqa: F811
    admin = await running.browser("root")
    await admin.get(PAGE)
    resp, page = await admin.post(f"{PAGE}/cost", {"source": "ЦИАН", "month": "2026-13", "amount": "-500"})
    assert resp.status == 422
    assert "Месяц в виде ГГГГ-ММ или ММ.ГГГГ" in page and "Сумма не может быть отрицательной" in page
    resp, page = await admin.post(f"{PAGE}/cost", {"source": "", "month": "12.2026", "amount": "тридцать"})
    assert resp.status == 422
    assert "Укажите название источника" in page and "Сумма в рублях числом" in page
    assert "Месяц в виде" not in page  # the month was fine this time
    resp, _ = await admin.post(f"{PAGE}/cost", {"source": "ЦИАН", "month": "12.2026", "amount": "30 000"})
    assert resp.status == 303
    resp, _ = await admin.post(f"{PAGE}/cost", {"source": "ЦИАН", "month": "2026-12", "amount": "45000,50"})
    assert resp.status == 303  # the same month again: the figure is replaced, not doubled
    _, page = await admin.get(PAGE)
    assert "12.2026" in page and "45\u00a0000,50" in page and "30\u00a0000" not in page
    async with running.hub.database.sessions() as s:
        changes = [(c.key, c.before, c.after) for c in (await s.execute(
            select(SettingChange).where(SettingChange.kind == "source").order_by(SettingChange.id))).scalars()]
    assert changes == [("cost:ЦИАН/2026-12", None, {"amount": "30\u00a0000"}),
                       ("cost:ЦИАН/2026-12", {"amount": "30\u00a0000"}, {"amount": "45\u00a0000,50"})]
    agent = await running.browser("anna")
    await agent.get("/inbox")
    resp, _ = await agent.post(f"{PAGE}/cost", {"source": "ЦИАН", "month": "2026-12", "amount": "1"})
    assert resp.status in (302, 303, 403)


@pytest.mark.parametrize(("typed", "month"), [("2026-12", "2026-12"), ("3.2026", "2026-03"), (" 2026-1 ", "2026-01")])
def test_a_month_is_read_as_typed(typed: str, month: str) -> None:
    assert parse_month(typed) == month


@pytest.mark.parametrize("typed", ["2026-13", "13.2026", "декабрь", "", "1999-01"])
def test_a_wrong_month_is_refused(typed: str) -> None:
    with pytest.raises(SourceFormError) as err:
        parse_month(typed)
    assert (err.value.field, err.value.code) == ("month", "month")


def test_amounts_in_roubles_become_kopecks_and_back() -> None:
    assert parse_amount("30 000") == 3_000_000 and parse_amount("1500,5") == 150_050
    assert parse_amount("0") == 0 and roubles(4_500_050) == "45\u00a0000,50"
    for bad, code in (("-1", "negative"), ("1,234", "amount"), ("12р", "amount")):
        with pytest.raises(SourceFormError) as err:
            parse_amount(bad)
        assert err.value.code == code


def test_a_part_of_a_month_counts_its_days() -> None:
    assert share_of_month("2026-03", date(2026, 3, 1), date(2026, 3, 31)) == 1.0
    assert share_of_month("2026-03", date(2026, 3, 2), date(2026, 3, 8)) == 7 / 31
    assert share_of_month("2026-02", date(2026, 2, 20), date(2026, 3, 8)) == 9 / 28
    assert share_of_month("2026-04", date(2026, 3, 2), date(2026, 3, 8)) == 0.0
