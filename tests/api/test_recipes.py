"""The recipes of docs/api.md run as written: each code block marked ``<!-- recipe: name -->`` is taken from
the markdown and run (curl with bash, Python with this interpreter) against a test hub, and what it did is
checked in the hub (the lead pushed once), in its output file (the day's calls for 1С) and at a stand-in
amoCRM (an aiohttp server that records the leads it is sent)."""

from __future__ import annotations

import asyncio
import csv
import os
import re
import shutil
import sys
from datetime import timedelta
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from crm_core.models import Call, Inquiry, utcnow
from tests.api.conftest import make_token
from tests.conftest import missing_part

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
BLOCK = re.compile(r"<!-- recipe: (\w+) -->\s*```(\w+)\n(.*?)```", re.S)


def recipes() -> dict[str, tuple[str, str]]:
    return {name: (lang, code) for name, lang, code in BLOCK.findall(DOC.read_text(encoding="utf-8"))}


async def run(lang: str, code: str, env: dict[str, str], cwd: Path) -> str:
    argv = ["bash", "-euo", "pipefail", "-c", code] if lang == "sh" else [sys.executable, "-c", code]
    proc = await asyncio.create_subprocess_exec(*argv, cwd=cwd, env={**os.environ, **env},
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, f"{lang} recipe failed: {out.decode()} {err.decode()}"
    return out.decode()


def test_the_document_has_the_three_recipes():
    assert set(recipes()) == {"push_lead", "calls_for_1c", "mirror_amocrm"}


async def test_the_recipes_run_against_a_hub(running, tmp_path):
    if shutil.which("curl") is None:
        missing_part("curl is not installed")
    rh, book = running, recipes()
    env = {"HUB": rh.base, "TOKEN": await make_token(rh, "anna", ("inquiries:write",))}
    for _ in range(2):  # a retry after a timeout: the same Idempotency-Key, one inquiry
        answer = await run(*book["push_lead"], env, tmp_path)
    assert '"new_client":true' in answer.replace(" ", "")
    async with rh.hub.database.sessions() as s:
        assert (await s.execute(select(func.count()).select_from(Inquiry))).scalar() == 1
        lead = (await s.execute(select(Inquiry))).scalar_one()
    assert lead.source == "Сайт" and lead.utm["utm_campaign"] == "vtorichka"

    async with rh.hub.database.sessions() as s, s.begin():
        s.add_all([Call(uniqueid=f"1700000000.{n}", direction="inbound", caller=f"+7903111000{n}",
                        agent_id=rh.agency.users["anna"], started_at=utcnow() - timedelta(minutes=n),
                        talk_s=30.0 + n, outcome="answered") for n in range(3)])
        s.add(Call(uniqueid="1600000000.9", direction="inbound", caller="+79030000009",
                   started_at=utcnow() - timedelta(days=3), outcome="missed"))
    admin = {"HUB": rh.base, "TOKEN": await make_token(rh, "root", ("calls:read", "inquiries:read", "clients:read"))}
    await run(*book["calls_for_1c"], {**admin, "OUT": str(tmp_path / "calls.csv")}, tmp_path)
    rows = list(csv.reader((tmp_path / "calls.csv").open(encoding="utf-8-sig"), delimiter=";"))
    assert rows[0][:3] == ["id", "начало", "направление"]
    assert sorted(r[3] for r in rows[1:]) == ["+79031110000", "+79031110001", "+79031110002"]

    received: list = []

    async def leads(request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == "Bearer amo-secret"
        received.append(await request.json())
        return web.json_response([{"id": 1, "contact_id": 1}])

    amo = web.Application()
    amo.router.add_post("/api/v4/leads/complex", leads)
    server = TestServer(amo, host="127.0.0.1")
    await server.start_server()
    try:
        amo_env = {**admin, "AMO_URL": str(server.make_url("")).rstrip("/"), "AMO_TOKEN": "amo-secret",
                   "STATE": str(tmp_path / "state.json")}
        assert "sent 1 leads" in await run(*book["mirror_amocrm"], amo_env, tmp_path)
        assert "sent 0 leads" in await run(*book["mirror_amocrm"], amo_env, tmp_path)  # nothing new since
    finally:
        await server.close()
    [sent] = received
    assert sent[0]["name"].startswith(f"Хаб #{lead.id}")
    values = [f["values"][0]["value"] for f in sent[0]["_embedded"]["contacts"][0]["custom_fields_values"]]
    assert values == ["+79031112233"]
