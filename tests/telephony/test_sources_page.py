"""«Источники звонков»: an admin keeps the DID → advertising source table; a call's new inquiry shows the source."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from sqlalchemy import select

from crm_core.models import Inquiry
from telephony.call_log import CallLog, load_agents
from telephony.did_sources import seed_once
from tests.web.conftest import running  # noqa: F401 - the running hub fixture

from .drive import drive


@pytest.fixture
def hub_sections() -> dict:
    return {"dids": {"74950000001": "ЦИАН"}}


async def test_an_admin_edits_the_call_sources_and_a_new_call_inquiry_takes_its_source(running):  # noqa: F811
    agent = await running.browser("anna")
    resp, _ = await agent.get("/admin/call-sources")
    assert resp.status in (302, 303, 403)
    admin = await running.browser("root")
    resp, page = await admin.get("/admin/call-sources")
    assert resp.status == 200
    assert "Источники звонков" in page and "74950000001" in page and "ЦИАН" in page  # seeded from [dids]

    resp, _ = await admin.post("/admin/call-sources", {"did": "+7 (495) 000-00-02", "source": "Авито"}, csrf=False)
    assert resp.status == 403  # no CSRF token, nothing saved
    resp, _ = await admin.post("/admin/call-sources", {"did": "+7 (495) 000-00-02", "source": "Авито"})
    assert resp.status == 303
    resp, _ = await admin.post("/admin/call-sources", {"did": "74950000001", "source": "ЦИАН Премиум"})
    assert resp.status == 303
    resp, page = await admin.post("/admin/call-sources", {"did": "нет", "source": ""})
    assert resp.status == 422 and "Нужны номер" in page
    resp, _ = await agent.post("/admin/call-sources", {"did": "74950000003", "source": "Сайт"})
    assert resp.status in (302, 303, 403)
    _, page = await admin.get("/admin/call-sources?notice=saved")
    assert "Сохранено" in page and "ЦИАН Премиум" in page and "Авито" in page and "74950000002" in page
    assert "Сайт" not in page

    resp, _ = await admin.post("/admin/call-sources/delete", {"did": "74950000001"})
    assert resp.status == 303
    assert await seed_once(running.hub.database.sessions, {"74950000001": "ЦИАН"}) == 0  # seeded only once
    _, page = await admin.get("/admin/call-sources")
    assert "ЦИАН" not in page

    hub = running.hub
    log = CallLog(hub.database.sessions, hub.intake, dids=dict(hub.settings.dids))
    [record] = drive("answered.txt", t0=time.time() - 60).records
    await log.store(replace(record, did="74950000002"), await load_agents(hub.database.sessions))
    async with hub.database.sessions() as s:
        [inquiry] = (await s.execute(select(Inquiry))).scalars()
    assert (inquiry.source, inquiry.did) == ("Авито", "74950000002")

    again = replace(record, uniqueid=record.uniqueid + "-2", linkedid=record.linkedid + "-2", did="74950000001")
    await log.store(again, await load_agents(hub.database.sessions))  # the same caller again: the same inquiry
    resp, page = await admin.get(f"/inquiries/{inquiry.id}")
    assert resp.status == 200
    assert f"Звонок добавлен к открытому обращению №{inquiry.id}" in page
    assert page.count("Входящий звонок: принят") >= 2  # both calls in the inquiry's messages
