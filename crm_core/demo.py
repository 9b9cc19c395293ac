"""A small demo agency so a newcomer has something to look at. Loading it twice adds nothing.

Agents 101–103 match the extensions in the real AMI traces (../shared/ami-traces),
and some clients have the traces' caller numbers, so the demo PBX pops up known cards.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bus.bus import EventBus
from crm_core.intake import IntakeRequest, IntakeService
from crm_core.models import (
    Channel,
    Client,
    Department,
    Division,
    Inquiry,
    InquiryStatus,
    MemorableDate,
    Pool,
    Property,
    Role,
    User,
    utcnow,
)
from crm_core.users import hash_password

DEPARTMENTS = ("Отдел продаж вторички", "Отдел аренды", "Колл-центр")
STAFF = [  # login, full name, role, department index, extension
    ("anna", "Анна Смирнова", Role.AGENT, 0, "101"),
    ("oleg", "Олег Иванов", Role.AGENT, 0, "102"),
    ("maria", "Мария Козлова", Role.AGENT, 1, "103"),
    ("head", "Сергей Волков", Role.DEPT_HEAD, 0, None),
    ("manager", "Елена Морозова", Role.DEPT_MANAGER, 1, None),
    ("director", "Игорь Лебедев", Role.DIRECTOR, 0, None),
]
TRACE_CLIENTS = [  # callers of the real traces: name, phone, company, owner login
    ("Иван Петров", "+79161234567", None, "anna"),
    ("", "+74951112233", "ООО Ромашка", "oleg"),
    ("Наталья Белова", "+79035550101", None, "anna"),
    ("Пётр Сидоров", "+79857776655", None, "maria"),
]
FIRST = ["Алексей", "Дмитрий", "Ольга", "Татьяна", "Михаил", "Екатерина", "Андрей", "Светлана", "Николай", "Юлия"]
LAST = ["Кузнецов", "Попов", "Васильев", "Соколов", "Михайлов", "Новиков", "Фёдоров", "Морозов", "Егоров", "Павлов"]
PLACES = [  # district, metro, lat, lon
    ("Хамовники", "Парк культуры", 55.7353, 37.5934), ("Пресненский", "Баррикадная", 55.7607, 37.5814),
    ("Басманный", "Бауманская", 55.7722, 37.6791), ("Марьино", "Марьино", 55.6500, 37.7440),
    ("Митино", "Митино", 55.8460, 37.3610), ("Южное Бутово", "Бульвар Адмирала Ушакова", 55.5450, 37.5420),
    ("Сокол", "Сокол", 55.8050, 37.5150), ("Тверской", "Пушкинская", 55.7656, 37.6050),
]
REQUESTS = ["Ищу двушку у метро до 15 млн", "Хочу сдать квартиру", "Нужен офис в аренду, 60 м²",
            "Интересует дом в Подмосковье", "Продаю однушку, нужна оценка", "Сниму студию на год"]


@dataclass(frozen=True)
class DemoSummary:
    created: bool
    users: int
    clients: int
    inquiries: int

    def __str__(self) -> str:
        state = "loaded" if self.created else "already present"
        return f"demo agency {state}: {self.users} staff, {self.clients} clients, {self.inquiries} inquiries"


async def load_demo_data(sessions: async_sessionmaker[AsyncSession], *, password: str) -> DemoSummary:
    async with sessions() as s:
        present = (await s.execute(select(User.id).where(User.login == "anna"))).first() is not None
    if present:
        return await _summary(sessions, created=False)
    rnd = random.Random(42)  # the same agency every time  # noqa: S311
    users = await _staff(sessions, password)
    await _properties(sessions, rnd, users)
    await _inquiries(sessions, rnd, users)
    return await _summary(sessions, created=True)


async def _staff(sessions: async_sessionmaker[AsyncSession], password: str) -> dict[str, User]:
    pw_hash = hash_password(password)
    async with sessions() as s, s.begin():
        division = Division(name="Москва")
        s.add(division)
        await s.flush()
        depts = [Department(name=name, division_id=division.id) for name in DEPARTMENTS]
        s.add_all(depts)
        await s.flush()
        users = {}
        for login, name, role, dept, ext in STAFF:
            users[login] = User(login=login, full_name=name, password_hash=pw_hash, role=role,
                                department_id=depts[dept].id, extension=ext)
        s.add_all(users.values())
    return users


async def _properties(sessions: async_sessionmaker[AsyncSession], rnd: random.Random, users: dict[str, User]) -> None:
    agents = [users["anna"], users["oleg"], users["maria"]]
    async with sessions() as s, s.begin():
        for n in range(20):
            district, metro, lat, lon = PLACES[n % len(PLACES)]
            kind = ("квартира", "квартира", "дом", "офис")[n % 4]
            deal = "rent" if n % 3 == 0 else "sale"
            price = rnd.randrange(40, 200) * 1000 if deal == "rent" else rnd.randrange(60, 400) * 100_000
            s.add(Property(address=f"Москва, ул. {LAST[n % 10][:-2]}ская, д. {n + 3}", district=district,
                           metro=metro, lat=lat + rnd.uniform(-0.01, 0.01), lon=lon + rnd.uniform(-0.01, 0.01),
                           property_type=kind, deal_type=deal, price=price, agent_id=agents[n % 3].id))


async def _inquiries(sessions: async_sessionmaker[AsyncSession], rnd: random.Random, users: dict[str, User]) -> None:
    intake = IntakeService(sessions, EventBus())
    agents = [users["anna"], users["oleg"], users["maria"]]
    people = [(n, p, c, users[o]) for n, p, c, o in TRACE_CLIENTS]
    for i in range(36):
        name = f"{FIRST[i % 10]} {LAST[(i * 3) % 10]}" + ("а" if FIRST[i % 10][-1] in "ая" else "")
        people.append((name, f"+7916{5550000 + i:07d}", None, agents[i % 3] if i % 4 else None))
    channels = [Channel.CALL, Channel.EMAIL, Channel.TELEGRAM, Channel.WEBFORM]
    now = utcnow()
    for i, (name, phone, company, owner) in enumerate(people[:30]):
        channel = channels[i % 4]
        res = await intake.accept(IntakeRequest(
            channel=channel, external_id=f"demo-{i}", name=name or company, phone=phone,
            email=f"client{i}@example.ru" if channel == Channel.EMAIL else None,
            telegram_id=str(700000 + i) if channel == Channel.TELEGRAM else None,
            subject=REQUESTS[i % len(REQUESTS)], text=REQUESTS[i % len(REQUESTS)],
            source=("Авито", "ЦИАН", "Сайт", "Рекомендация")[i % 4],
            did="74950000001" if channel == Channel.CALL else None,
            received_at=now - timedelta(hours=i * 5),
        ))
        async with sessions() as s, s.begin():
            client = await s.get(Client, res.client_id)
            inquiry = await s.get(Inquiry, res.inquiry_id)
            if company:
                client.kind, client.company_name = "company", company
            if owner is not None and i % 5 != 4:
                client.owner_id, client.department_id = owner.id, owner.department_id
                inquiry.owner_id, inquiry.department_id = owner.id, owner.department_id
                inquiry.status, inquiry.accepted_at = InquiryStatus.IN_WORK, now - timedelta(hours=i * 5 - 1)
                inquiry.planned_action, inquiry.planned_at = "Перезвонить", now + timedelta(days=i % 3)
            elif i % 2:
                inquiry.pool, inquiry.department_id = Pool.DEPARTMENT, users["anna"].department_id
                inquiry.pool_entered_at = now - timedelta(hours=i)
            else:
                inquiry.pool, inquiry.pool_entered_at = Pool.COMMON, now - timedelta(hours=i)
            if i % 7 == 0:
                born = date(1970 + i, (i % 12) + 1, (i % 27) + 1)
                s.add(MemorableDate(client_id=client.id, kind="birthday", on=born, month=born.month, day=born.day))


async def _summary(sessions: async_sessionmaker[AsyncSession], *, created: bool) -> DemoSummary:
    from sqlalchemy import func

    async with sessions() as s:
        users = (await s.execute(select(func.count()).select_from(User).where(User.role != Role.ADMIN))).scalar_one()
        clients = (await s.execute(select(func.count()).select_from(Client))).scalar_one()
        inquiries = (await s.execute(select(func.count()).select_from(Inquiry))).scalar_one()
    return DemoSummary(created, users, clients, inquiries)
