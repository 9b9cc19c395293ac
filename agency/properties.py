"""The property base (объекты): who sees and edits which property, the tabs, quick search, links from
inquiries and calls, and per-property statistics.

Access, in the agency's terms: an agent has their own objects (and reads the object of an inquiry they may
read); a department manager or head has the department's; a director reads the division's; an
administrator has all. Out of reach is "not found" (404), as everywhere.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import ColumnElement, Table, and_, false, func, insert, or_, select, text, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from crm_core.access import Actor, Forbidden, NotFound, call_scope, get_client, get_inquiry, inquiry_scope
from crm_core.forms import blank_to_none
from crm_core.importer.reading import TooLong, open_sheet
from crm_core.importer.report import ImportFileError
from crm_core.models import (
    Call,
    Client,
    Contact,
    ContactKind,
    Department,
    Inquiry,
    InquiryEvent,
    Property,
    Role,
    Task,
    TimelineEntry,
    User,
    utcnow,
)
from crm_core.models.agency import OwnerLead, PropertyLink
from crm_core.phones import try_normalize_phone

log = logging.getLogger("hub.properties")

PROPERTY_TYPES = ("flat", "room", "house", "townhouse", "land", "office", "retail", "warehouse", "garage", "other")
DEAL_TYPES = ("sale", "rent")
LIQUIDITY = ("high", "medium", "low")
TABS = ("mine", "team", "archive", "all")
SEARCH_LIMIT = 20


def address_key(address: str) -> str:
    """Lower-cased, ё→е, one space between words: what quick search and lead de-duplication compare."""
    text = address.lower().replace("ё", "е")
    text = re.sub(r"[\s,]+", " ", text)
    return text.strip()[:500]


# ---------------------------------------------------------------- access

def _via_inquiry(actor: Actor) -> ColumnElement[bool]:
    linked = select(Inquiry.property_id).where(Inquiry.property_id.is_not(None), inquiry_scope(actor))
    return Property.id.in_(linked)


def department_clause(actor: Actor) -> ColumnElement[bool]:
    """The properties of the actor's department (by the property's department or its agent's)."""
    if actor.department_id is None:
        return false()
    staff = select(User.id).where(User.department_id == actor.department_id)
    return or_(Property.department_id == actor.department_id, Property.agent_id.in_(staff))


def division_clause(actor: Actor) -> ColumnElement[bool]:
    if actor.division_id is None:
        return false()
    departments = select(Department.id).where(Department.division_id == actor.division_id)
    staff = select(User.id).where(User.department_id.in_(departments))
    return or_(Property.department_id.in_(departments), Property.agent_id.in_(staff))


def property_scope(actor: Actor) -> ColumnElement[bool]:
    """A WHERE clause selecting the properties the actor may read."""
    if actor.is_admin:
        return true()
    if actor.role == Role.AGENT:
        return or_(Property.agent_id == actor.user_id, _via_inquiry(actor))
    if actor.manages_department:
        return or_(department_clause(actor), _via_inquiry(actor))
    if actor.role == Role.DIRECTOR:
        return or_(division_clause(actor), _via_inquiry(actor))
    return false()


async def _department_of(session: AsyncSession, user_id: int | None) -> int | None:
    if user_id is None:
        return None
    return (await session.execute(select(User.department_id).where(User.id == user_id))).scalar_one_or_none()


async def can_write_property(session: AsyncSession, actor: Actor, prop: Property) -> bool:
    if actor.is_admin:
        return True
    if actor.role == Role.AGENT:
        return prop.agent_id == actor.user_id
    if actor.manages_department and actor.department_id is not None:
        if prop.department_id == actor.department_id:
            return True
        return await _department_of(session, prop.agent_id) == actor.department_id
    return False


async def get_property(session: AsyncSession, actor: Actor, property_id: int, *, write: bool = False) -> Property:
    prop = (
        await session.execute(select(Property).where(Property.id == property_id, property_scope(actor)))
    ).scalar_one_or_none()
    if prop is None:
        raise NotFound("property")
    if write and not await can_write_property(session, actor, prop):
        # Readable through an inquiry, but not theirs to change.
        raise Forbidden("property")
    return prop


# ---------------------------------------------------------------- reads

@dataclass(frozen=True, slots=True)
class PropertyRow:
    id: int
    address: str
    district: str | None
    metro: str | None
    property_type: str | None
    deal_type: str | None
    price: Decimal | None
    liquidity: str | None
    agent_id: int | None
    agent_name: str | None
    owner_client_id: int | None
    owner_name: str | None
    archived: bool
    created_at: datetime


def _tab_filter(actor: Actor, tab: str) -> ColumnElement[bool]:
    active = Property.archived.is_(False)
    if tab == "mine":
        return and_(active, Property.agent_id == actor.user_id)
    if tab == "archive":
        return Property.archived.is_(True)
    if tab == "team":
        # "My subordinates' objects": the department's (head/manager), the division's (director), everyone's
        # (administrator) — never the actor's own.
        not_mine = or_(Property.agent_id.is_(None), Property.agent_id != actor.user_id)
        if actor.is_admin:
            return and_(active, not_mine)
        if actor.manages_department:
            return and_(active, not_mine, department_clause(actor))
        if actor.role == Role.DIRECTOR:
            return and_(active, not_mine, division_clause(actor))
        return false()
    return active


def tabs_for(actor: Actor) -> tuple[str, ...]:
    return TABS if actor.role != Role.AGENT else ("mine", "archive", "all")


async def list_properties(session: AsyncSession, actor: Actor, tab: str = "mine", limit: int = 300
                          ) -> list[PropertyRow]:
    if tab not in TABS:
        raise ValueError(f"unknown tab {tab!r}")
    agent = aliased(User)
    stmt = (
        select(Property.id, Property.address, Property.district, Property.metro, Property.property_type,
               Property.deal_type, Property.price, Property.liquidity, Property.agent_id,
               agent.full_name.label("agent_name"), Property.owner_client_id, Client.name.label("owner_name"),
               Property.archived, Property.created_at)
        .outerjoin(agent, agent.id == Property.agent_id)
        .outerjoin(Client, Client.id == Property.owner_client_id)
        .where(property_scope(actor), _tab_filter(actor, tab))
        .order_by(Property.id.desc())
        .limit(limit)
    )
    return [PropertyRow(**row._mapping) for row in await session.execute(stmt)]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _number(query: str) -> int | None:
    digits = re.sub(r"[\s\u00a0]", "", query).lstrip("№#")
    return int(digits) if digits.isdigit() and len(digits) <= 13 else None


async def search_properties(session: AsyncSession, actor: Actor, query: str, limit: int = SEARCH_LIMIT
                            ) -> list[PropertyRow]:
    """Quick search for linking: an id (№12), a price (±5 %) or a fragment of the address; archived last."""
    query = (query or "").strip()[:200]
    if not query:
        return []
    conditions = []
    number = _number(query)
    if number is not None:
        conditions.append(Property.id == number)
        if number >= 1000:
            conditions.append(Property.price.between(Decimal(number) * Decimal("0.95"),
                                                     Decimal(number) * Decimal("1.05")))
    fragment = address_key(query)
    if fragment and number is None:
        pattern = f"%{_escape_like(fragment)}%"
        conditions.append(Property.address_key.like(pattern, escape="\\"))
        conditions.append(Property.address.ilike(f"%{_escape_like(query)}%", escape="\\"))
    agent = aliased(User)
    stmt = (
        select(Property.id, Property.address, Property.district, Property.metro, Property.property_type,
               Property.deal_type, Property.price, Property.liquidity, Property.agent_id,
               agent.full_name.label("agent_name"), Property.owner_client_id, Client.name.label("owner_name"),
               Property.archived, Property.created_at)
        .outerjoin(agent, agent.id == Property.agent_id)
        .outerjoin(Client, Client.id == Property.owner_client_id)
        .where(property_scope(actor), or_(*conditions))
        .order_by(Property.archived, (Property.id == (number if number is not None else -1)).desc(),
                  Property.id.desc())
        .limit(limit)
    )
    return [PropertyRow(**row._mapping) for row in await session.execute(stmt)]


@dataclass(frozen=True, slots=True)
class PropertyStats:
    inquiries: int
    calls: int
    viewings: int


async def property_stats(session: AsyncSession, property_id: int) -> PropertyStats:
    """Counts of the inquiries and calls linked to the property (from links and inquiries' own field)."""
    from crm_core.models.agency import Deal, DealStep

    inquiry_ids = select(PropertyLink.inquiry_id).where(
        PropertyLink.property_id == property_id, PropertyLink.inquiry_id.is_not(None)
    ).union(select(Inquiry.id).where(Inquiry.property_id == property_id)).subquery()
    inquiries = (await session.execute(select(func.count()).select_from(inquiry_ids))).scalar_one()
    calls = (await session.execute(select(func.count(PropertyLink.id)).where(
        PropertyLink.property_id == property_id, PropertyLink.call_id.is_not(None)))).scalar_one()
    viewings = (await session.execute(
        select(func.count(DealStep.id)).join(Deal, Deal.id == DealStep.deal_id)
        .where(DealStep.property_id == property_id, DealStep.kind == "viewing", DealStep.status == "done")
    )).scalar_one()
    return PropertyStats(inquiries, calls, viewings)


# ---------------------------------------------------------------- writes

class PropertyInput(BaseModel):
    address: str = Field(min_length=3, max_length=500)
    district: str | None = Field(default=None, max_length=200)
    metro: str | None = Field(default=None, max_length=200)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    property_type: str | None = None
    deal_type: str | None = None
    price: Decimal | None = Field(default=None, ge=0, lt=Decimal("1e12"), decimal_places=2)
    liquidity: str | None = None
    owner_client_id: int | None = None
    agent_id: int | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_none(cls, v: object) -> object:
        v = blank_to_none(v)
        return v.strip() if isinstance(v, str) else v

    @field_validator("price", mode="before")
    @classmethod
    def _price_text(cls, v: object) -> object:
        if isinstance(v, str):
            return re.sub(r"[\s\u00a0]", "", v).replace(",", ".")
        return v

    @field_validator("property_type")
    @classmethod
    def _type(cls, v: str | None) -> str | None:
        if v is not None and v not in PROPERTY_TYPES:
            raise ValueError(f"unknown property type; one of {', '.join(PROPERTY_TYPES)}")
        return v

    @field_validator("deal_type")
    @classmethod
    def _deal(cls, v: str | None) -> str | None:
        if v is not None and v not in DEAL_TYPES:
            raise ValueError("deal type is sale or rent")
        return v

    @field_validator("liquidity")
    @classmethod
    def _liquidity(cls, v: str | None) -> str | None:
        if v is not None and v not in LIQUIDITY:
            raise ValueError("liquidity is high, medium or low")
        return v

    @model_validator(mode="after")
    def _both_coordinates(self) -> PropertyInput:
        if (self.lat is None) != (self.lon is None):
            raise PydanticCustomError("coordinates", "give both latitude and longitude, or neither")
        return self


class FieldError(ValueError):
    """A value that passed the form's checks but not the records' (an owner out of reach, a foreign agent)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


async def _check_refs(session: AsyncSession, actor: Actor, data: PropertyInput, current_agent: int | None
                      ) -> tuple[int | None, int | None]:
    """The agent and department the property will have; the owner client must be within reach."""
    if data.owner_client_id is not None:
        try:
            await get_client(session, actor, data.owner_client_id)
        except NotFound:
            raise FieldError("owner_client_id", "no such client") from None
    agent_id = data.agent_id if data.agent_id is not None else (current_agent or actor.user_id)
    if agent_id != current_agent and agent_id != actor.user_id:
        if actor.role == Role.AGENT:
            raise FieldError("agent_id", "an agent can only keep objects themselves")
        department = await _department_of(session, agent_id)
        exists = (await session.execute(select(User.id).where(User.id == agent_id, User.is_active.is_(True)))
                  ).scalar_one_or_none()
        if exists is None or (not actor.is_admin and department != actor.department_id):
            raise FieldError("agent_id", "no such agent in your department")
    department_id = await _department_of(session, agent_id)
    return agent_id, department_id


def _apply(prop: Property, data: PropertyInput) -> None:
    prop.address = data.address
    prop.address_key = address_key(data.address)
    prop.district, prop.metro = data.district, data.metro
    prop.lat, prop.lon = data.lat, data.lon
    prop.property_type, prop.deal_type = data.property_type, data.deal_type
    prop.price = data.price  # type: ignore[assignment]
    prop.liquidity = data.liquidity
    prop.owner_client_id = data.owner_client_id


async def create_property(sessions: async_sessionmaker[AsyncSession], actor: Actor, data: PropertyInput) -> int:
    if actor.role == Role.DIRECTOR:
        raise Forbidden("property")
    async with sessions() as s, s.begin():
        agent_id, department_id = await _check_refs(s, actor, data, None)
        prop = Property(address=data.address, agent_id=agent_id, department_id=department_id)
        _apply(prop, data)
        s.add(prop)
        await s.flush()
        if prop.owner_client_id is not None:
            s.add(TimelineEntry(client_id=prop.owner_client_id, kind="property_added", ref_id=prop.id,
                                actor_id=actor.user_id, summary=prop.address[:200]))
        log.info("property=%s created by user=%s", prop.id, actor.user_id)
        return prop.id


async def update_property(sessions: async_sessionmaker[AsyncSession], actor: Actor, property_id: int,
                          data: PropertyInput) -> None:
    async with sessions() as s, s.begin():
        prop = await get_property(s, actor, property_id, write=True)
        agent_id, department_id = await _check_refs(s, actor, data, prop.agent_id)
        _apply(prop, data)
        prop.agent_id, prop.department_id = agent_id, department_id
    log.info("property=%s updated by user=%s", property_id, actor.user_id)


async def set_archived(sessions: async_sessionmaker[AsyncSession], actor: Actor, property_id: int,
                       archived: bool) -> None:
    async with sessions() as s, s.begin():
        prop = await get_property(s, actor, property_id, write=True)
        prop.archived = archived
    log.info("property=%s archived=%s by user=%s", property_id, archived, actor.user_id)


async def link_inquiry(sessions: async_sessionmaker[AsyncSession], actor: Actor, inquiry_id: int,
                       property_id: int) -> bool:
    """The property the client asks about: set on the inquiry (routing reads it) and counted; idempotent.

    Returns False when it was already linked.
    """
    now = utcnow()
    async with sessions() as s, s.begin():
        inquiry = await get_inquiry(s, actor, inquiry_id, write=True)
        prop = await get_property(s, actor, property_id)
        exists = (await s.execute(select(PropertyLink.id).where(
            PropertyLink.property_id == prop.id, PropertyLink.inquiry_id == inquiry.id))).first()
        changed = inquiry.property_id != prop.id
        inquiry.property_id = prop.id
        if exists is None:
            try:
                async with s.begin_nested():
                    s.add(PropertyLink(property_id=prop.id, inquiry_id=inquiry.id, at=now, linked_by=actor.user_id))
            except IntegrityError:
                exists = True  # the same link made a moment ago by another request
        if changed or exists is None:
            s.add(InquiryEvent(inquiry_id=inquiry.id, at=now, actor_id=actor.user_id, kind="property_linked",
                               note=prop.address, data={"property_id": prop.id}))
            s.add(TimelineEntry(client_id=inquiry.client_id, at=now, kind="property_linked",
                                inquiry_id=inquiry.id, ref_id=prop.id, actor_id=actor.user_id,
                                summary=prop.address[:200]))
            inquiry.last_action_at = now
            log.info("property=%s linked to inquiry=%s by user=%s", prop.id, inquiry.id, actor.user_id)
            return True
    return False


async def link_call(sessions: async_sessionmaker[AsyncSession], actor: Actor, call_id: int,
                    property_id: int) -> bool:
    """The property a call was about (from the pop-up or the call log); counted in the property's stats."""
    now = utcnow()
    async with sessions() as s, s.begin():
        call = (await s.execute(select(Call).where(Call.id == call_id, call_scope(actor)))).scalar_one_or_none()
        if call is None:
            raise NotFound("call")
        prop = await get_property(s, actor, property_id)
        try:
            async with s.begin_nested():
                s.add(PropertyLink(property_id=prop.id, call_id=call.id, at=now, linked_by=actor.user_id))
        except IntegrityError:
            return False
        if call.client_id is not None:
            s.add(TimelineEntry(client_id=call.client_id, at=now, kind="property_linked", channel="call",
                                inquiry_id=call.inquiry_id, ref_id=prop.id, actor_id=actor.user_id,
                                summary=prop.address[:200]))
    log.info("property=%s linked to call=%s by user=%s", property_id, call_id, actor.user_id)
    return True


# ---------------------------------------------------------------- owner leads in bulk (the INTRUM process)

LEAD_FIELDS = ("address", "phone", "owner_name", "district", "metro", "property_type", "deal_type", "price",
               "liquidity", "lat", "lon", "source")
_LEAD_ALIASES = {
    "address": ("адрес", "адрес объекта", "address", "object address"),
    "phone": ("телефон", "телефон собственника", "тел", "тел собственника", "контактный телефон", "phone",
              "owner phone", "mobile"),
    "owner_name": ("собственник", "владелец", "имя", "фио", "имя собственника", "owner", "owner name", "name"),
    "district": ("район", "district", "area"),
    "metro": ("метро", "станция метро", "metro", "subway"),
    "property_type": ("тип", "тип объекта", "вид объекта", "type", "property type"),
    "deal_type": ("сделка", "тип сделки", "вид сделки", "deal", "deal type"),
    "price": ("цена", "стоимость", "цена руб", "price"),
    "liquidity": ("ликвидность", "liquidity"),
    "lat": ("широта", "lat", "latitude"),
    "lon": ("долгота", "lon", "lng", "longitude"),
    "source": ("источник", "source", "площадка", "портал"),
}
_VALUE_ALIASES = {
    "property_type": {"квартира": "flat", "комната": "room", "дом": "house", "таунхаус": "townhouse",
                      "участок": "land", "земля": "land", "офис": "office", "торговое помещение": "retail",
                      "магазин": "retail", "склад": "warehouse", "гараж": "garage", "другое": "other"},
    "deal_type": {"продажа": "sale", "аренда": "rent", "продам": "sale", "сдам": "rent"},
    "liquidity": {"высокая": "high", "средняя": "medium", "низкая": "low"},
}
LEAD_CHUNK = 1000


def _header_key(text: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", text.lower().replace("ё", "е")).split())


def lead_columns(header: list[str]) -> dict[int, str]:
    """Column index → lead field, by the header's Russian or English names; address and phone required."""
    lookup = {_header_key(alias): name for name, aliases in _LEAD_ALIASES.items() for alias in aliases}
    columns: dict[int, str] = {}
    for i, title in enumerate(header):
        name = lookup.get(_header_key(str(title)))
        if name and name not in columns.values():
            columns[i] = name
    missing = [f for f in ("address", "phone") if f not in columns.values()]
    if missing:
        raise ImportFileError("нет столбцов: " + ", ".join({"address": "Адрес", "phone": "Телефон"}[m]
                                                           for m in missing))
    return columns


class LeadRow(PropertyInput):
    """One owner lead: a property with its owner's phone (the de-duplication key with the address)."""

    phone: str = Field(min_length=1, max_length=40)
    owner_name: str | None = Field(default=None, max_length=300)
    source: str | None = Field(default=None, max_length=200)

    @field_validator("property_type", "deal_type", "liquidity", mode="before")
    @classmethod
    def _russian_values(cls, v: object, info) -> object:  # noqa: ANN001
        if isinstance(v, str):
            key = v.strip().lower().replace("ё", "е")
            return _VALUE_ALIASES[info.field_name].get(key, key or None)
        return v


@dataclass(frozen=True, slots=True)
class LeadError:
    row: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"строка {self.row}, {self.field}: {self.message}"


@dataclass(slots=True)
class LeadImportReport:
    rows: int = 0
    created: int = 0
    duplicates: int = 0
    errors: list[LeadError] = dataclass_field(default_factory=list)
    lead_ids: list[int] = dataclass_field(default_factory=list)

    def summary(self) -> str:
        return (f"строк: {self.rows}, новых объектов: {self.created}, повторов: {self.duplicates}, "
                f"ошибок: {len(self.errors)}")


def _parse_lead(number: int, raw: dict[str, object], region: str) -> tuple[LeadRow | None, str | None,
                                                                              list[LeadError]]:
    data = {k: None if v is None else ("x" * 1001 if isinstance(v, TooLong) else str(v)) for k, v in raw.items()}
    try:
        row = LeadRow.model_validate(data)
    except ValidationError as exc:
        return None, None, [LeadError(number, str(e["loc"][0]) if e["loc"] else e["type"], e["msg"])
                            for e in exc.errors(include_input=False)]
    phone = try_normalize_phone(row.phone, region)
    if phone is None:
        return None, None, [LeadError(number, "phone", "not a phone number")]
    return row, phone, []


async def import_owner_leads(sessions: async_sessionmaker[AsyncSession], rows: AsyncIterator[list[tuple[int, dict]]],
                             *, department_id: int | None, source: str | None = None, region: str = "RU",
                             now: datetime | None = None, actor_id: int | None = None) -> LeadImportReport:
    """Owner leads from a file or the API, in chunks: each new (address, owner phone) becomes a property with its
    owner client and one cold-call task for the call-center department; a known pair is a repeat, never a
    second lead. Each chunk is one transaction; a chunk that collides with a simultaneous import is redone."""
    report = LeadImportReport()
    seen: set[tuple[str, str]] = set()
    async for chunk in rows:
        parsed: list[tuple[int, LeadRow, str, str]] = []
        for number, raw in chunk:
            report.rows += 1
            row, phone, errors = _parse_lead(number, raw, region)
            if errors:
                report.errors.extend(errors)
                continue
            assert row is not None and phone is not None
            key = (address_key(row.address), phone)
            if key in seen:
                report.duplicates += 1
                continue
            seen.add(key)
            parsed.append((number, row, key[0], phone))
        for attempt in range(3):
            try:
                created, repeats, ids = await _store_leads(sessions, parsed, department_id=department_id,
                                                           source=source, now=now or utcnow(), actor_id=actor_id)
                break
            except IntegrityError:
                if attempt == 2:
                    raise
        report.created += created
        report.duplicates += repeats
        report.lead_ids.extend(ids)
    log.info("owner leads imported: %s", report.summary())
    return report


async def _known_leads(s: AsyncSession, pairs: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (address, phone) pairs already imported: one probe of the unique index per pair on PostgreSQL (see
    _clients_by_phone); on SQLite by the address (the index's first column) and the pairs compared here, since
    an IN on both columns would probe every address × phone combination."""
    if (await s.connection()).dialect.name == "postgresql":
        rows = await s.execute(text(
            "SELECT v.a, v.p FROM unnest(CAST(:a AS varchar[]), CAST(:p AS varchar[])) AS v(a, p) "
            "WHERE EXISTS (SELECT 1 FROM agency_owner_leads l WHERE l.address_key = v.a AND l.phone = v.p)"
        ), {"a": [a for a, _ in pairs], "p": [p for _, p in pairs]})
        return {(r[0], r[1]) for r in rows}
    found = await s.execute(select(OwnerLead.address_key, OwnerLead.phone).where(
        OwnerLead.address_key.in_({a for a, _ in pairs})))
    return set(found.all()) & set(pairs)


async def _clients_by_phone(s: AsyncSession, phones: set[str]) -> dict[str, int]:
    """Known owners by phone. On PostgreSQL one index probe per phone (LATERAL … LIMIT 1): with a plain IN on a
    table that grows during the import, the planner, before its statistics catch up, scans every phone."""
    if (await s.connection()).dialect.name == "postgresql":
        rows = await s.execute(text(
            "SELECT v.value, c.client_id FROM unnest(CAST(:phones AS varchar[])) AS v(value) "
            "CROSS JOIN LATERAL (SELECT client_id FROM contacts WHERE kind = 'phone' AND value = v.value LIMIT 1) c"
        ), {"phones": sorted(phones)})
        return {r[0]: r[1] for r in rows}
    return dict((await s.execute(select(Contact.value, Contact.client_id).where(
        Contact.kind == ContactKind.PHONE, Contact.value.in_(phones)))).all())


async def _allocate_ids(s: AsyncSession, table: Table, n: int) -> list[int]:
    """``n`` primary keys for rows inserted in bulk (so one statement per table, not one per row, can
    insert them): from the sequence on PostgreSQL; after the highest id on SQLite, whose single writer turns
    a simultaneous import's collision into an IntegrityError that the caller answers by redoing the chunk."""
    if n == 0:
        return []
    if (await s.connection()).dialect.name == "postgresql":
        rows = await s.execute(text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
                               {"t": table.name, "n": n})
        return [r[0] for r in rows]
    start = (await s.execute(select(func.coalesce(func.max(table.c.id), 0)))).scalar_one()
    return list(range(start + 1, start + n + 1))


async def _store_leads(sessions: async_sessionmaker[AsyncSession], parsed: list[tuple[int, LeadRow, str, str]], *,
                       department_id: int | None, source: str | None, now: datetime, actor_id: int | None
                       ) -> tuple[int, int, list[int]]:
    if not parsed:
        return 0, 0, []
    async with sessions() as s, s.begin():
        known = await _known_leads(s, [(a, p) for _, _, a, p in parsed])
        fresh = [item for item in parsed if (item[2], item[3]) not in known]
        if not fresh:
            return 0, len(parsed), []
        owners = await _clients_by_phone(s, {p for _, _, _, p in fresh})
        new_owner_names: dict[str, str] = {}
        for _, row, _, phone in fresh:
            if phone not in owners and phone not in new_owner_names:
                new_owner_names[phone] = (row.owner_name or "")[:300]
        client_ids = await _allocate_ids(s, Client.__table__, len(new_owner_names))
        owners.update(zip(new_owner_names, client_ids, strict=True))
        prop_ids = await _allocate_ids(s, Property.__table__, len(fresh))
        task_ids = await _allocate_ids(s, Task.__table__, len(fresh))
        lead_ids = await _allocate_ids(s, OwnerLead.__table__, len(fresh))
        if new_owner_names:
            await s.execute(insert(Client), [{"id": cid, "name": name, "created_at": now}
                                             for cid, name in zip(client_ids, new_owner_names.values(), strict=True)])
            await s.execute(insert(Contact), [{"client_id": owners[p], "kind": ContactKind.PHONE, "value": p,
                                               "label": "собственник", "created_at": now} for p in new_owner_names])
        await s.execute(insert(Property), [
            {"id": pid, "address": row.address, "address_key": key, "district": row.district, "metro": row.metro,
             "lat": row.lat, "lon": row.lon, "property_type": row.property_type, "deal_type": row.deal_type,
             "price": row.price, "liquidity": row.liquidity, "owner_client_id": owners[phone], "archived": False,
             "created_at": now} for pid, (_, row, key, phone) in zip(prop_ids, fresh, strict=True)])
        await s.execute(insert(Task), [
            {"id": tid, "kind": "cold_call", "status": "open", "client_id": owners[phone],
             "department_id": department_id, "due_at": now, "attempts": 0, "phone": phone,
             "note": row.address[:2000], "created_at": now}
            for tid, (_, row, _, phone) in zip(task_ids, fresh, strict=True)])
        await s.execute(insert(OwnerLead), [
            {"id": lid, "address_key": key, "phone": phone, "owner_name": row.owner_name, "property_id": pid,
             "department_id": department_id, "status": "calling", "source": row.source or source or None,
             "task_id": tid, "attempts": 0, "created_at": now, "updated_at": now}
            for lid, pid, tid, (_, row, key, phone) in zip(lead_ids, prop_ids, task_ids, fresh, strict=True)])
        await s.execute(insert(TimelineEntry), [
            {"client_id": owners[phone], "at": now, "kind": "property_added", "ref_id": pid, "actor_id": actor_id,
             "summary": row.address[:200]} for pid, (_, row, _, phone) in zip(prop_ids, fresh, strict=True)])
        return len(fresh), len(parsed) - len(fresh), lead_ids


def read_lead_file(data: bytes, filename: str) -> Iterator[list[tuple[int, dict]]]:
    """Chunks of (row number, {field: cell}) from a CSV or XLSX upload (synchronous: run it in a thread)."""
    sheet = open_sheet(data, filename)
    columns: dict[int, str] | None = None
    chunk: list[tuple[int, dict]] = []
    for number, cells in sheet.rows:
        if columns is None:
            if not any(str(c).strip() for c in cells):
                continue
            columns = lead_columns([str(c) for c in cells])
            continue
        if not any(str(c).strip() for c in cells):
            continue
        chunk.append((number, {name: cells[i] if i < len(cells) else "" for i, name in columns.items()}))
        if len(chunk) >= LEAD_CHUNK:
            yield chunk
            chunk = []
    if columns is None:
        raise ImportFileError("в файле нет строки заголовков")
    if chunk:
        yield chunk


async def chunks_in_thread(chunks: Iterator[list[tuple[int, dict]]]) -> AsyncIterator[list[tuple[int, dict]]]:
    """Read the next chunk of a file in a worker thread, so parsing never blocks the event loop."""
    done = object()
    while True:
        chunk = await asyncio.to_thread(next, chunks, done)
        if chunk is done:
            return
        yield chunk  # type: ignore[misc]


async def chunks_of(items: list[tuple[int, dict]]) -> AsyncIterator[list[tuple[int, dict]]]:
    for start in range(0, len(items), LEAD_CHUNK):
        yield items[start:start + LEAD_CHUNK]
