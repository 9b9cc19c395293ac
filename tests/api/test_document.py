"""The OpenAPI document lists every route under /api/ of the running application, and nothing that is not one;
the old /api/openapi.json serves the same document."""

from __future__ import annotations

from aiohttp import web

from api.openapi import openapi_path
from api.registry import openapi
from bootstrap import build_hub
from tests.web.conftest import settings_for
from web.app import create_app


def api_routes(app: web.Application) -> set[tuple[str, str]]:
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or ""
        if path.startswith("/api/") and route.method != "HEAD":
            found.add((route.method.lower(), openapi_path(path)))
    return found


def test_every_api_route_is_in_the_document_and_every_operation_is_a_route(tmp_path):
    app = create_app(build_hub(settings_for(f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}", tmp_path)))
    routes = api_routes(app)
    documented = {(method, path) for path, methods in openapi()["paths"].items() for method in methods}
    assert routes - documented == set(), "routes under /api/ missing from the OpenAPI document"
    assert documented - routes == set(), "operations in the document that no route serves"
    assert len(routes) >= 30


def test_the_document_is_openapi_3_1_with_problem_details_and_tokens():
    doc = openapi()
    assert doc["openapi"] == "3.1.0"
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    ids = [op["operationId"] for methods in doc["paths"].values() for op in methods.values()]
    assert len(ids) == len(set(ids)), "operation ids are unique"
    create = doc["paths"]["/api/v1/inquiries"]["post"]
    assert {p["name"] for p in create["parameters"]} == {"Idempotency-Key"}
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/InquiryCreate"}
    patch = doc["paths"]["/api/v1/clients/{id}"]["patch"]
    assert "412" in patch["responses"] and "If-Match" in {p["name"] for p in patch["parameters"]}
    assert patch["responses"]["400"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert doc["paths"]["/api/me"]["get"]["deprecated"] is True
