"""The routing service and SLA scheduler wired into a running hub the way bootstrap does it."""

from __future__ import annotations

import asyncio

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from sqlalchemy import update

from bootstrap import build_hub
from crm_core.intake import IntakeRequest
from crm_core.models import Channel, Inquiry, RoutingDecision, User
from routing.queries import save_rule_data
from routing.wiring import wire as wire_routing
from tests.web.conftest import seed_agency, settings_for
from web.app import create_app


async def test_a_web_form_is_routed_by_the_wired_hub_and_healthz_shows_routing(db, tmp_path):
    hub = build_hub(settings_for(db.url, tmp_path))
    routing, scheduler = wire_routing(hub)
    server = TestServer(create_app(hub), host="127.0.0.1")
    await server.start_server()
    try:
        await asyncio.wait_for(hub.started.wait(), 30)
        agency = await seed_agency(hub)
        await save_rule_data(hub.database.sessions, {"rules": [
            {"id": "sales", "priority": 1, "target": {"departments": [agency.sales]}, "owner_first": False}]})
        async with hub.database.sessions() as s, s.begin():
            await s.execute(update(User).where(User.login == "oleg").values(status="available"))
        result = await hub.intake.accept(IntakeRequest(channel=Channel.WEBFORM, external_id="wired-1",
                                                       phone="+79990001122", text="Дом"))
        async with hub.database.sessions() as s:
            inquiry = await s.get(Inquiry, result.inquiry_id)
            decision = (await s.execute(RoutingDecision.__table__.select().where(
                RoutingDecision.inquiry_id == result.inquiry_id))).one()
        # no department on the inquiry: the sales rule still names its department's agents
        assert inquiry.owner_id == agency.users["oleg"] and decision.agent_id == agency.users["oleg"]
        async with ClientSession() as http, http.get(str(server.make_url("/healthz"))) as resp:
            health = await resp.json()
        text = str(health)
        assert "'routing': 'running'" in text and "'sla'" in text
    finally:
        await server.close()
    assert routing.state == "stopped"
