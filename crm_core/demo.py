"""A small demo agency so a newcomer has something to look at. Loading it twice adds nothing.

Agents 101–103 are the extensions of the real AMI traces (connectors/asterisk/ami_traces), and the traces'
callers (+79161234567 Иван Петров, 84951112233 ООО Ромашка, +79035550101, +79857776655 Пётр Сидоров,
+79031234500 Елена, +79260001122 Мария) are clients, so the demo PBX pops up known cards. Inquiries are
made through the intake service, as the channels make them, so timelines fill the same way. No
administrator is made here: the command line makes the first one. The data itself is in
``crm_core.demo_data``; the routing rules, duty rota, call script, QC checklist, deals, owner lead and the
stored call around them are made by ``crm_core.demo_extra``.

Every part is looked up before it is made (department by name, user by login, client by phone,
property by address, inquiry by its outside id), so a second run — or a run after a partial one — only
fills what is missing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bus.bus import EventBus
from crm_core.demo_data import (
    BIRTHDAYS,
    CALLS,
    CLIENTS,
    COMPANY_PREFIXES,
    DEPARTMENTS,
    DID_SOURCES,
    DIVISION,
    INQUIRIES,
    LOGINS,
    PROPERTIES,
    SALES,
    STAFF,
)
from crm_core.demo_extra import load_extras
from crm_core.intake import IntakeRequest, IntakeService
from crm_core.models import (
    AgentStatus,
    Channel,
    Client,
    Contact,
    ContactKind,
    Department,
    Division,
    Inquiry,
    InquiryEvent,
    InquiryStatus,
    MemorableDate,
    Pool,
    Property,
    Segment,
    TimelineEntry,
    User,
    client_segments,
    utcnow,
)
from crm_core.users import MIN_PASSWORD, UserError, create_user

log = logging.getLogger("hub.demo")


@dataclass(frozen=True)
class DemoSummary:
    created: bool
    """Whether this run added anything (False on a second run)."""
    users: int
    clients: int
    inquiries: int
    properties: int = 0
    departments: int = 0
    memorable_dates: int = 0
    added: int = 0
    """Records this run added."""

    def __str__(self) -> str:
        state = f"loaded ({self.added} records added)" if self.created else "already present"
        return (f"demo agency {state}: {self.departments} departments, {self.users} staff, {self.clients} clients, "
                f"{self.properties} properties, {self.inquiries} inquiries")


async def load_demo_data(
    sessions: async_sessionmaker[AsyncSession], *, password: str, bus: EventBus | None = None
) -> DemoSummary:
    """Fill in the demo agency; the staff (anna, oleg, maria, head, manager, director) get ``password``.

    ``bus``: where intake publishes the demo inquiries; by default a bus of its own, so routing does not
    reassign them (their owners and pools are part of the demo).
    """
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password must have at least {MIN_PASSWORD} characters")
    added = 0
    departments, n = await _org(sessions)
    added += n
    users, n = await _staff(sessions, password, departments)
    added += n
    added += await _clients(sessions, users)
    added += await _properties(sessions, users)
    added += await _inquiries(sessions, bus or EventBus(), users, departments)
    added += await _birthdays(sessions)
    added += await _did_sources(sessions)
    added += await load_extras(sessions, users, departments)
    summary = await _summary(sessions, added)
    log.info("%s", summary)
    return summary


async def _org(sessions: async_sessionmaker[AsyncSession]) -> tuple[dict[str, int], int]:
    added = 0
    async with sessions() as s, s.begin():
        division = (await s.execute(select(Division).where(Division.name == DIVISION))).scalar_one_or_none()
        if division is None:
            division = Division(name=DIVISION)
            s.add(division)
            await s.flush()
            added += 1
        ids = {}
        for name in DEPARTMENTS:
            dept = (await s.execute(select(Department).where(Department.name == name))).scalar_one_or_none()
            if dept is None:
                dept = Department(name=name, division_id=division.id)
                s.add(dept)
                await s.flush()
                added += 1
            elif dept.division_id is None:
                dept.division_id = division.id
            ids[name] = dept.id
    return ids, added


async def _staff(
    sessions: async_sessionmaker[AsyncSession], password: str, departments: dict[str, int]
) -> tuple[dict[str, User], int]:
    added = 0
    async with sessions() as s, s.begin():
        users = {u.login: u for u in (await s.execute(select(User).where(User.login.in_(LOGINS)))).scalars()}
        for login, full_name, role, dept, extension in STAFF:
            if login in users:
                continue
            if extension and (await s.execute(select(User.id).where(User.extension == extension))).first():
                log.warning("demo user %s: extension %s is taken, created without one", login, extension)
                extension = None
            users[login] = await create_user(s, login=login, password=password, full_name=full_name, role=role,
                                             department_id=departments[dept], extension=extension)
            if extension:  # the demo's agents start at work, so routing and owner-first have someone to choose
                users[login].status = AgentStatus.AVAILABLE
            added += 1
    return users, added


async def _client_ids(s: AsyncSession, phones: list[str]) -> dict[str, int]:
    rows = await s.execute(
        select(Contact.value, Contact.client_id).where(Contact.kind == ContactKind.PHONE, Contact.value.in_(phones))
    )
    return dict(rows.all())


async def _clients(sessions: async_sessionmaker[AsyncSession], users: dict[str, User]) -> int:
    added = 0
    async with sessions() as s, s.begin():
        known = await _client_ids(s, [c[1] for c in CLIENTS])
        segments = {name: sid for name, sid in await s.execute(select(Segment.name, Segment.id))}
        now = utcnow()
        for n, (name, phone, email, owner_login, note, segment) in enumerate(CLIENTS):
            if phone in known:
                continue
            owner = users.get(owner_login) if owner_login else None
            company = name if name.startswith(COMPANY_PREFIXES) else None
            since = now - timedelta(days=30 + 7 * n, hours=n)  # known for a while before their latest inquiry
            client = Client(kind="company" if company else "person", name=name, company_name=company, note=note,
                            owner_id=owner.id if owner else None, department_id=owner.department_id if owner else None,
                            created_at=since)
            s.add(client)
            await s.flush()
            s.add(Contact(client_id=client.id, kind=ContactKind.PHONE, value=phone))
            taken = (await s.execute(
                select(Contact.id).where(Contact.kind == ContactKind.EMAIL, Contact.value == email))).first()
            if not taken:
                s.add(Contact(client_id=client.id, kind=ContactKind.EMAIL, value=email))
            if segment:
                if segment not in segments:
                    row = Segment(name=segment)
                    s.add(row)
                    await s.flush()
                    segments[segment] = row.id
                await s.execute(client_segments.insert().values(client_id=client.id, segment_id=segments[segment]))
            s.add(TimelineEntry(client_id=client.id, at=since, kind="client_created", summary=name,
                                actor_id=owner.id if owner else None))
            added += 1
    return added


async def _properties(sessions: async_sessionmaker[AsyncSession], users: dict[str, User]) -> int:
    added = 0
    async with sessions() as s, s.begin():
        present = set((await s.execute(select(Property.address))).scalars())
        owners = await _client_ids(s, [p[9] for p in PROPERTIES if p[9]])
        for address, district, metro, lat, lon, kind, deal, price, agent, owner_phone in PROPERTIES:
            if address in present:
                continue
            s.add(Property(address=address, district=district, metro=metro, lat=lat, lon=lon, property_type=kind,
                           deal_type=deal, price=price, agent_id=users[agent].id,
                           owner_client_id=owners.get(owner_phone) if owner_phone else None))
            added += 1
    return added


async def _inquiries(
    sessions: async_sessionmaker[AsyncSession], bus: EventBus, users: dict[str, User], departments: dict[str, int]
) -> int:
    intake = IntakeService(sessions, bus)
    async with sessions() as s:
        addresses = [p[0] for p in PROPERTIES]
        property_ids = dict((await s.execute(
            select(Property.address, Property.id).where(Property.address.in_(addresses)))).all())
    now = utcnow()
    added = 0
    for key, channel, who, subject, prop, hours_ago, disposition in INQUIRIES:
        at = now - timedelta(hours=hours_ago)
        person = {"phone": who} if isinstance(who, str) else dict(who)
        if channel == Channel.CALL:
            did = ("74950000001", "74950000002", "74950000003")[int(key) % 3]
            extra = {"did": did, "source": DID_SOURCES[did], "text": subject}
        elif channel == Channel.WEBFORM:
            extra = {"source": "Сайт", "utm": {"utm_source": "yandex", "utm_medium": "cpc", "utm_campaign": "msk"},
                     "text": f"{subject}. Перезвоните после 18:00."}
        elif channel == Channel.TELEGRAM:
            person.setdefault("telegram_id", f"5110000{key}")
            extra = {"source": "Telegram-бот", "text": subject}
        else:
            extra = {"source": "Почта", "text": f"Здравствуйте! {subject}. Жду ответа."}
        if channel == Channel.EMAIL and "email" not in person:
            person["email"] = _email_of(person["phone"])
        result = await intake.accept(IntakeRequest(
            channel=channel, external_id=f"demo-{key}", subject=subject, received_at=at, **person, **extra))
        if result.duplicate:
            continue
        added += 1
        await _dispose(sessions, result.inquiry_id, result.client_id, disposition, at, users, departments,
                       property_ids.get(addresses[prop]) if prop is not None else None)
    return added


def _email_of(phone: str) -> str | None:
    return next((c[2] for c in CLIENTS if c[1] == phone), None)


async def _dispose(
    sessions: async_sessionmaker[AsyncSession], inquiry_id: int, client_id: int, disposition: str, at,  # noqa: ANN001
    users: dict[str, User], departments: dict[str, int], property_id: int | None,
) -> None:
    """Put a fresh demo inquiry where the story wants it: with an agent, in a pool, or closed."""
    async with sessions() as s, s.begin():
        inquiry = await s.get(Inquiry, inquiry_id)
        inquiry.property_id = property_id
        kind, _, arg = disposition.partition(":")
        if kind in LOGINS or kind == "done":
            agent = users[arg or kind]
            inquiry.owner_id, inquiry.department_id, inquiry.pool = agent.id, agent.department_id, Pool.NONE
            inquiry.status, inquiry.accepted_at = InquiryStatus.IN_WORK, at + timedelta(minutes=15)
            inquiry.planned_action = "Показ объекта" if property_id else "Перезвонить"
            inquiry.planned_at = utcnow() + timedelta(days=inquiry_id % 3, hours=2)
            s.add(InquiryEvent(inquiry_id=inquiry_id, at=inquiry.accepted_at, kind="assigned", actor_id=agent.id,
                               note="демо-данные", data={"owner_id": agent.id}))
            s.add(TimelineEntry(client_id=client_id, at=inquiry.accepted_at, kind="claimed", inquiry_id=inquiry_id,
                                actor_id=agent.id, summary=agent.full_name))
            if kind == "done":
                inquiry.status, inquiry.closed_at, inquiry.planned_at = InquiryStatus.DONE, at + timedelta(days=1), None
                s.add(InquiryEvent(inquiry_id=inquiry_id, at=inquiry.closed_at, kind="closed", actor_id=agent.id,
                                   note="Сделка закрыта"))
        elif kind == "department":
            inquiry.pool, inquiry.department_id = Pool.DEPARTMENT, departments[arg]
            inquiry.pool_entered_at = at + timedelta(hours=4)
            s.add(InquiryEvent(inquiry_id=inquiry_id, at=inquiry.pool_entered_at, kind="to_department_pool",
                               note="не принято за 4 рабочих часа (демо)", data={"department_id": departments[arg]}))
        elif kind == "new" and inquiry.department_id is None:
            inquiry.department_id = departments[CALLS]  # not yet routed: the call center sorts it
        elif kind == "common":
            inquiry.pool, inquiry.department_id = Pool.COMMON, departments[SALES]
            inquiry.pool_entered_at = at + timedelta(hours=52)
            s.add(InquiryEvent(inquiry_id=inquiry_id, at=inquiry.pool_entered_at, kind="to_common_pool",
                               note="48 рабочих часов в пуле отдела (демо)"))


async def _birthdays(sessions: async_sessionmaker[AsyncSession]) -> int:
    today = date.today()
    added = 0
    async with sessions() as s, s.begin():
        ids = await _client_ids(s, [b[0] for b in BIRTHDAYS])
        have = set((await s.execute(select(MemorableDate.client_id).where(
            MemorableDate.kind == "birthday", MemorableDate.client_id.in_(ids.values())))).scalars())
        for phone, days, year in BIRTHDAYS:
            client_id = ids.get(phone)
            if client_id is None or client_id in have:
                continue
            day = today + timedelta(days=days)
            born = date(year, day.month, 28 if (day.month, day.day) == (2, 29) else day.day)
            s.add(MemorableDate(client_id=client_id, kind="birthday", on=born, month=born.month, day=born.day))
            added += 1
    return added


async def _did_sources(sessions: async_sessionmaker[AsyncSession]) -> int:
    """The demo's dialed numbers and their advertising (the «Источники звонков» page), so a demo call's
    inquiry shows «ЦИАН», not the number."""
    from crm_core.models.call_sources import DidSource

    async with sessions() as s, s.begin():
        have = set((await s.execute(select(DidSource.did))).scalars())
        s.add_all(DidSource(did=did, source=source) for did, source in DID_SOURCES.items() if did not in have)
        return len(set(DID_SOURCES) - have)


async def _summary(sessions: async_sessionmaker[AsyncSession], added: int) -> DemoSummary:
    async def total(s: AsyncSession, model, *where) -> int:  # noqa: ANN001
        return (await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one()

    async with sessions() as s:
        return DemoSummary(
            created=added > 0,
            users=await total(s, User, User.login.in_(LOGINS)),
            clients=await total(s, Client),
            inquiries=await total(s, Inquiry),
            properties=await total(s, Property),
            departments=await total(s, Department, Department.name.in_(DEPARTMENTS)),
            memorable_dates=await total(s, MemorableDate),
            added=added,
        )
