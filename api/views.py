"""The routes of ``/api/v1`` (each operation through ``api.operations.endpoint``), the OpenAPI document and its
reference page, rendered here from the same document (no script from elsewhere)."""

from __future__ import annotations

import json

from aiohttp import web

from api.operations import endpoint
from api.registry import openapi, operations
from web.guard import public
from web.i18n import add_texts
from web.render import render

add_texts({
    "api.ref.title": ("Справочник API", "API reference"),
    "api.ref.intro": ("REST API хаба. Ключ (токен) выдаёт администратор; запросы — с заголовком "
                      "«Authorization: Bearer …». Ошибки — в формате RFC 9457.",
                      "The hub's REST API. An administrator issues the token; send it as "
                      "“Authorization: Bearer …”. Errors follow RFC 9457."),
    "api.ref.document": ("Документ OpenAPI 3.1", "OpenAPI 3.1 document"),
    "api.ref.params": ("Параметры", "Parameters"),
    "api.ref.body": ("Тело запроса", "Request body"),
    "api.ref.responses": ("Ответы", "Responses"),
    "api.ref.deprecated": ("устарело", "deprecated"),
    "api.ref.required": ("обязательный", "required"),
    "api.ref.schemas": ("Схемы", "Schemas"),
})


@public
async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(openapi(), dumps=lambda d: json.dumps(d, ensure_ascii=False))


@public
async def reference_page(request: web.Request) -> web.Response:
    doc = openapi()
    groups: dict[str, list[dict]] = {}
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            groups.setdefault(op.get("tags", ["api"])[0], []).append({"method": method.upper(), "path": path, **op})
    schemas = {name: json.dumps(schema, ensure_ascii=False, indent=1)
               for name, schema in doc["components"]["schemas"].items()}
    return render(request, "api_reference.html", {"groups": groups, "schemas": schemas,
                                                  "version": doc["info"]["version"]})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/api/v1/openapi.json", openapi_json)
    router.add_get("/api/v1/docs", reference_page)
    for op in operations():
        if op.path.startswith("/api/v1/"):  # the old five are added by the shell (web/views/api.py)
            router.add_route(op.method, op.path, endpoint(op))
