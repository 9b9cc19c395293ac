"""Tokens: who may call, with which scopes, from where, how often; every error as RFC 9457 problem details."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from crm_core.models import utcnow
from crm_core.models.api_tokens import ApiToken
from crm_core.models.audit import AuditEntry
from tests.api.conftest import make_token

PROBLEM = "application/problem+json"


async def test_a_token_reads_as_its_user_errors_are_problem_details_and_browsers_keep_csrf(running, bearer):
    rh = running
    b = await rh.browser()
    root = await make_token(rh, "root")
    resp = await b.http.get(rh.base + "/api/v1/me", headers=bearer(root))
    assert resp.status == 200 and (await resp.json())["login"] == "root"
    resp = await b.http.get(rh.base + "/api/v1/me")
    assert resp.status == 401 and resp.content_type == PROBLEM
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    body = await resp.json()
    assert body["status"] == 401 and body["title"] == "Unauthorized"
    resp = await b.http.get(rh.base + "/api/v1/me", headers=bearer("hub_" + "x" * 43))
    assert resp.status == 401 and resp.content_type == PROBLEM
    resp = await b.http.get(rh.base + "/api/v1/nothing-here", headers=bearer(root))
    assert resp.status == 404 and resp.content_type == PROBLEM
    resp = await b.http.delete(rh.base + "/api/v1/clients", headers=bearer(root))
    assert resp.status == 405 and resp.content_type == PROBLEM and "GET" in resp.headers["Allow"]
    resp = await b.http.get(rh.base + "/api/v1/clients?limit=0", headers=bearer(root))
    assert resp.status == 400 and (await resp.json())["errors"][0]["field"] == "query.limit"
    resp = await b.http.get(rh.base + "/api/v1/clients/999999", headers=bearer(root))
    assert resp.status == 404 and resp.content_type == PROBLEM
    async with rh.hub.database.sessions() as s:
        token = (await s.execute(select(ApiToken))).scalar_one()
    assert token.last_used_at is not None and token.last_used_ip == "127.0.0.1"
    assert len(token.token_hash) == 64 and root not in (token.token_hash, token.prefix)
    anna = await rh.browser("anna")
    body = {"name": "Пётр", "phones": ["+7 916 123-45-67"]}
    resp = await anna.http.post(rh.base + "/api/v1/clients", json=body)
    assert resp.status == 403 and resp.content_type == PROBLEM
    resp = await anna.http.post(rh.base + "/api/v1/clients", json=body, headers={"X-CSRF-Token": anna.csrf})
    assert resp.status == 201
    token = await make_token(rh, "anna")
    resp = await anna.http.post(rh.base + "/api/v1/clients", json={"name": "Ольга", "emails": ["o@example.ru"]},
                                headers=bearer(token))
    assert resp.status == 201
    async with rh.hub.database.sessions() as s:
        entries = (await s.execute(select(AuditEntry).where(AuditEntry.action.startswith("api.")))).scalars().all()
    made = [e for e in entries if e.action == "api.create_client"]
    assert len(made) == 1 and made[0].actor_id == rh.agency.users["anna"]
    assert made[0].details["token"] == "anna integration"
    resp = await b.http.get(rh.base + "/api/v1/openapi.json")
    assert resp.status == 200 and "/api/v1/inquiries" in (await resp.json())["paths"]
    page = await b.http.get(rh.base + "/api/v1/docs")
    text = await page.text()
    assert page.status == 200 and "Справочник API" in text and "/api/v1/inquiries/{id}/claim" in text


async def test_scopes_addresses_expiry_revocation_rate_and_the_admin_page(running, bearer):
    rh = running
    b = await rh.browser()
    reader = await make_token(rh, "root", ("clients:read",))
    assert (await b.http.get(rh.base + "/api/v1/clients", headers=bearer(reader))).status == 200
    resp = await b.http.post(rh.base + "/api/v1/clients", json={"name": "X"}, headers=bearer(reader))
    assert resp.status == 403 and "clients:write" in (await resp.json())["detail"]
    assert (await b.http.get(rh.base + "/api/v1/calls", headers=bearer(reader))).status == 403
    far = await make_token(rh, "root", allowed_ips=["10.9.0.0/16"])
    assert (await b.http.get(rh.base + "/api/v1/me", headers=bearer(far))).status == 403
    old = await make_token(rh, "root", expires_at=utcnow() - timedelta(minutes=1))
    assert (await b.http.get(rh.base + "/api/v1/me", headers=bearer(old))).status == 401
    slow = await make_token(rh, "root", rate_per_minute=2)
    statuses = [(await b.http.get(rh.base + "/api/v1/me", headers=bearer(slow))) for _ in range(3)]
    assert [r.status for r in statuses] == [200, 200, 429]
    assert int(statuses[2].headers["Retry-After"]) >= 1 and statuses[2].content_type == PROBLEM
    admin = await rh.browser("root")
    resp, page = await admin.get("/admin/api-tokens")
    assert resp.status == 200 and "Ключи API" in page and "не использовался" in page
    async with rh.hub.database.sessions() as s:
        first = (await s.execute(select(ApiToken).order_by(ApiToken.id))).scalars().first()
    resp, _ = await admin.post(f"/admin/api-tokens/{first.id}/revoke")
    assert resp.status == 303
    assert (await b.http.get(rh.base + "/api/v1/clients", headers=bearer(reader))).status == 401
    await admin.get("/admin/api-tokens")
    resp = await admin.http.post(rh.base + "/admin/api-tokens", data=[
        ("_csrf", admin.csrf), ("name", "Сайт агентства"), ("user_id", str(rh.agency.users["anna"])),
        ("scope", "inquiries:write"), ("allowed_ips", "127.0.0.1"), ("expires_on", ""), ("rate_per_minute", "60")])
    page = await resp.text()
    assert resp.status == 200 and "показывается один раз" in page
    text = re.search(r"<code>(hub_[A-Za-z0-9_-]+)</code>", page).group(1)
    _, again = await admin.get("/admin/api-tokens")
    assert text not in again and "Сайт агентства" in again and "Обращения: изменение" in again
    b = await rh.browser()
    mine = await b.http.get(rh.base + "/api/v1/inquiries", headers=bearer(text))
    assert mine.status == 200 and (await mine.json())["items"] == []
    me = await b.http.get(rh.base + "/api/v1/me", headers=bearer(text))
    assert me.status == 403  # no users:read scope
    resp = await admin.http.post(rh.base + "/admin/api-tokens", data=[
        ("_csrf", admin.csrf), ("name", "x"), ("user_id", str(rh.agency.users["anna"])), ("allowed_ips", "nonsense")])
    assert resp.status == 422 and 'data-field="allowed_ips"' in await resp.text()


