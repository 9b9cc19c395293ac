"""``/api/v1/clients``: list with filters and cursor paging, one, create, update, contacts. Every read and write
goes through ``crm_core.access`` (the same reach as the client pages)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from api import clients as service
from api.operations import Ctx, Input, Op, Reply
from api.paging import PageQuery, cut, page
from api.problems import bad_request
from api.shown import Numbers, numbers
from crm_core.access import get_client, scoped_clients
from crm_core.client_updates import ClientUpdate, update_client
from crm_core.models import Client


class ContactOut(BaseModel):
    id: int
    kind: str
    value: str
    label: str | None


class DateOut(BaseModel):
    kind: str
    on: date
    note: str | None


class ClientOut(BaseModel):
    id: int
    kind: str
    name: str
    company_name: str | None
    owner_id: int | None
    department_id: int | None
    created_at: datetime
    contacts: list[ContactOut]
    segments: list[str]
    memorable_dates: list[DateOut]


class ClientPage(BaseModel):
    items: list[ClientOut]
    next_cursor: str | None


class ClientQuery(PageQuery):
    q: str | None = Field(default=None, max_length=200, description="Name, company, phone (any format) or email")
    owner_id: int | None = Field(default=None, ge=0, le=2**31 - 1)
    department_id: int | None = Field(default=None, ge=0, le=2**31 - 1)
    kind: Literal["person", "company"] | None = None


class ClientCreate(Input):
    kind: Literal["person", "company"] = "person"
    name: str = Field(min_length=1, max_length=300)
    company_name: str | None = Field(default=None, max_length=300)
    phones: list[str] = Field(default_factory=list, max_length=10)
    emails: list[str] = Field(default_factory=list, max_length=10)
    owner_id: int | None = Field(default=None, ge=1, le=2**31 - 1, description="Default: the caller")


class ClientPatch(Input):
    name: str | None = Field(default=None, min_length=1, max_length=300)
    company_name: str | None = Field(default=None, max_length=300)


class ContactIn(Input):
    kind: Literal["phone", "email"]
    value: str = Field(min_length=1, max_length=320)


class ContactList(BaseModel):
    items: list[ContactOut]


async def list_clients(ctx: Ctx) -> ClientPage:
    q: ClientQuery = ctx.query
    stmt = scoped_clients(ctx.actor)
    if q.q:
        stmt = stmt.where(Client.id.in_(service.search_ids(q.q, ctx.hub.settings.phones.default_region)))
    for col, value in ((Client.owner_id, q.owner_id), (Client.department_id, q.department_id),
                       (Client.kind, q.kind)):
        if value is not None:
            stmt = stmt.where(col == value)
    async with ctx.sessions() as s:
        rows, cursor = cut(list((await s.execute(page(stmt, Client.id, q))).scalars()), q)
        return ClientPage(items=await _out(s, rows, numbers(ctx)), next_cursor=cursor)


async def _out(s, rows: list[Client], shown: Numbers) -> list[ClientOut]:  # noqa: ANN001
    extra = await service.details(s, [c.id for c in rows])
    return [ClientOut(id=c.id, kind=c.kind, name=c.name, company_name=c.company_name, owner_id=c.owner_id,
                      department_id=c.department_id, created_at=c.created_at,
                      contacts=[ContactOut(id=x.id, kind=str(x.kind), value=shown.contact(x.kind, x.value),
                                           label=x.label) for x in extra.contacts.get(c.id, [])],
                      segments=extra.segments.get(c.id, []),
                      memorable_dates=[DateOut(kind=d.kind, on=d.on, note=d.note) for d in extra.dates.get(c.id, [])])
            for c in rows]


async def one(ctx: Ctx, client_id: int) -> ClientOut:
    async with ctx.sessions() as s:
        return (await _out(s, [await get_client(s, ctx.actor, client_id)], numbers(ctx)))[0]


async def get_one(ctx: Ctx) -> ClientOut:
    return await one(ctx, ctx.id())


async def create_client(ctx: Ctx) -> Reply:
    body: ClientCreate = ctx.body
    client_id = await service.create(ctx.sessions, ctx.actor, body, ctx.hub.settings.phones.default_region)
    return Reply(await one(ctx, client_id), 201, {"Location": f"/api/v1/clients/{client_id}"})


async def update_one(ctx: Ctx) -> ClientOut:
    ctx.check_etag(await get_one(ctx))
    body: ClientPatch = ctx.body
    await service.apply(ctx, ClientUpdate(name=body.name, company_name=body.company_name,
                                          region=ctx.hub.settings.phones.default_region), update_client)
    return await get_one(ctx)


async def list_contacts(ctx: Ctx) -> ContactList:
    return ContactList(items=(await get_one(ctx)).contacts)


async def add_contact(ctx: Ctx) -> Reply:
    body: ContactIn = ctx.body
    region = ctx.hub.settings.phones.default_region
    try:
        change = (ClientUpdate(add_phone=body.value, region=region) if body.kind == "phone"
                  else ClientUpdate(add_email=body.value, region=region))
    except ValidationError as exc:
        raise bad_request(exc) from None
    await service.apply(ctx, change, update_client)
    return Reply(ContactList(items=(await get_one(ctx)).contacts), 201)


P = "/api/v1/clients"
OPS = [
    Op("GET", P, "Clients in reach, newest first, with filters", "clients", list_clients, query=ClientQuery,
       response=ClientPage),
    Op("POST", P, "Create a client with phones and emails", "clients", create_client, write=True,
       body=ClientCreate, response=ClientOut, status=201, errors=(409, 422)),
    Op("GET", P + "/{id}", "One client with contacts, segments and memorable dates", "clients", get_one,
       response=ClientOut, etag=True),
    Op("PATCH", P + "/{id}", "Change a client's name or company", "clients", update_one, write=True,
       body=ClientPatch, response=ClientOut, etag=True),
    Op("GET", P + "/{id}/contacts", "A client's phones and emails", "clients", list_contacts, response=ContactList),
    Op("POST", P + "/{id}/contacts", "Add a phone or an email to a client", "clients", add_contact, write=True,
       body=ContactIn, response=ContactList, status=201, errors=(409, 422)),
]
