"""The JSON API: the same reads as the pages, through the same access rules, described by OpenAPI."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from aiohttp import web
from pydantic import BaseModel

from crm_core import queries
from crm_core.models import ContactKind
from web.guard import allow, public
from web.keys import ACTOR, USER, sessions


class Me(BaseModel):
    id: int
    login: str
    full_name: str
    role: str
    department_id: int | None
    locale: str


class InquiryItem(BaseModel):
    id: int
    client_id: int
    client_name: str
    channel: str
    subject: str | None
    source: str | None
    status: str
    pool: str
    owner_id: int | None
    owner_name: str | None
    created_at: datetime
    planned_at: datetime | None


class MessageItem(BaseModel):
    id: int
    direction: str
    channel: str
    subject: str | None
    body: str
    created_at: datetime


class InquiryDetail(InquiryItem):
    did: str | None
    utm: dict
    refusals: int
    messages: list[MessageItem]


class ContactItem(BaseModel):
    kind: str
    value: str


class ClientItem(BaseModel):
    id: int
    kind: str
    name: str
    company_name: str | None
    owner_id: int | None


class TimelineItem(BaseModel):
    at: datetime
    kind: str
    channel: str | None
    inquiry_id: int | None
    summary: str


class ClientDetail(ClientItem):
    contacts: list[ContactItem]
    timeline: list[TimelineItem]


class ErrorBody(BaseModel):
    error: str


def _json(model: BaseModel | list[BaseModel]) -> web.Response:
    if isinstance(model, list):
        body = "[" + ",".join(m.model_dump_json() for m in model) + "]"
    else:
        body = model.model_dump_json()
    return web.Response(text=body, content_type="application/json")


def _id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound(text='{"error": "not found"}', content_type="application/json") from None


@allow()
async def me(request: web.Request) -> web.Response:
    u = request[USER]
    return _json(Me(id=u.id, login=u.login, full_name=u.full_name, role=u.role, department_id=u.department_id,
                    locale=u.locale))


@allow()
async def inquiries(request: web.Request) -> web.Response:
    box = request.query.get("box", "mine")
    if box not in queries.BOXES:
        return web.json_response({"error": f"box must be one of {', '.join(queries.BOXES)}"}, status=422)
    async with sessions(request)() as s:
        rows = await queries.inbox(s, request[ACTOR], box)
    return _json([InquiryItem(**asdict(r)) for r in rows])


@allow()
async def inquiry(request: web.Request) -> web.Response:
    async with sessions(request)() as s:
        v = await queries.inquiry_view(s, request[ACTOR], _id(request))
    i = v.inquiry
    return _json(InquiryDetail(
        id=i.id, client_id=i.client_id, client_name=v.client.name, channel=i.channel, subject=i.subject,
        source=i.source, status=i.status, pool=i.pool, owner_id=i.owner_id,
        owner_name=v.owner.full_name if v.owner else None, created_at=i.created_at, planned_at=i.planned_at,
        did=i.did, utm=i.utm, refusals=i.refusals,
        messages=[MessageItem(id=m.id, direction=m.direction, channel=m.channel, subject=m.subject, body=m.body,
                              created_at=m.created_at) for m in v.messages],
    ))


@allow()
async def clients(request: web.Request) -> web.Response:
    async with sessions(request)() as s:
        found = await queries.search_clients(s, request[ACTOR], request.query.get("q", "")[:200])
    return _json([ClientItem(id=c.id, kind=c.kind, name=c.name, company_name=c.company_name, owner_id=c.owner_id)
                  for c in found])


@allow()
async def client(request: web.Request) -> web.Response:
    async with sessions(request)() as s:
        v = await queries.client_view(s, request[ACTOR], _id(request))
    c = v.client
    return _json(ClientDetail(
        id=c.id, kind=c.kind, name=c.name, company_name=c.company_name, owner_id=c.owner_id,
        contacts=[ContactItem(kind=ContactKind(x.kind), value=x.value) for x in v.contacts],
        timeline=[TimelineItem(at=e.at, kind=e.kind, channel=e.channel, inquiry_id=e.inquiry_id, summary=e.summary)
                  for e in v.timeline],
    ))


ROUTES: list[tuple[str, str, object, type[BaseModel], bool, str]] = [
    ("GET", "/api/me", me, Me, False, "The logged-in user"),
    ("GET", "/api/inquiries", inquiries, InquiryItem, True, "Inquiries of a box: mine, department, common, all"),
    ("GET", "/api/inquiries/{id}", inquiry, InquiryDetail, False, "One inquiry with its messages"),
    ("GET", "/api/clients", clients, ClientItem, True, "Clients found by name, phone (any format) or email"),
    ("GET", "/api/clients/{id}", client, ClientDetail, False, "One client with contacts and timeline"),
]


def openapi_document() -> dict:
    schemas: dict[str, dict] = {}
    paths: dict[str, dict] = {}
    for model in {r[3] for r in ROUTES} | {ErrorBody}:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    for method, path, _handler, model, is_list, summary in ROUTES:
        ref = {"$ref": f"#/components/schemas/{model.__name__}"}
        params = []
        if "{id}" in path:
            params.append({"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}})
        if path == "/api/inquiries":
            params.append({"name": "box", "in": "query", "schema": {"type": "string", "enum": list(queries.BOXES)}})
        if path == "/api/clients":
            params.append({"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 200}})
        err = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
        paths.setdefault(path, {})[method.lower()] = {
            "summary": summary,
            "parameters": params,
            "security": [{"session": []}],
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {
                    "schema": {"type": "array", "items": ref} if is_list else ref}}},
                "401": {"description": "Login required", **err},
                "404": {"description": "Not found or out of reach", **err},
            },
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Contact-center hub API", "version": "0.1.0"},
        "paths": paths,
        "components": {"schemas": schemas,
                       "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "hub_sid"}}},
    }


@public
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())
