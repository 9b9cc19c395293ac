"""A small demo agency so a newcomer has something to look at. Loading it twice adds nothing.

Agents 101–103 are the extensions of the real AMI traces (../shared/ami-traces), and the traces'
callers (+79161234567 Иван Петров, 84951112233 ООО Ромашка, +79035550101, +79857776655 Пётр Сидоров,
+79031234500 Елена, +79260001122 Мария) are clients, so the demo PBX pops up known cards. Inquiries are
made through the intake service, as the channels make them, so timelines fill the same way. No
administrator is made here: the command line makes the first one.

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
    Role,
    Segment,
    TimelineEntry,
    User,
    client_segments,
    utcnow,
)
from crm_core.users import MIN_PASSWORD, UserError, create_user

log = logging.getLogger("hub.demo")

DIVISION = "Москва"
SALES, RENT, CALLS = "Отдел продаж вторички", "Отдел аренды", "Колл-центр"
DEPARTMENTS = (SALES, RENT, CALLS)
STAFF = (  # login, full name, role, department, extension
    ("anna", "Анна Смирнова", Role.AGENT, SALES, "101"),
    ("oleg", "Олег Иванов", Role.AGENT, SALES, "102"),
    ("maria", "Мария Козлова", Role.AGENT, RENT, "103"),
    ("head", "Сергей Волков", Role.DEPT_HEAD, SALES, None),
    ("manager", "Елена Морозова", Role.DEPT_MANAGER, RENT, None),
    ("director", "Игорь Лебедев", Role.DIRECTOR, SALES, None),
)
LOGINS = tuple(s[0] for s in STAFF)

# name (or company), phone, email, owner login, note, segments
CLIENTS = (
    ("Иван Петров", "+79161234567", "ivan.petrov@mail.ru", "anna", "Ищет двушку у метро, до 30 млн", "Покупатели"),
    ("ООО Ромашка", "+74951112233", "info@romashka-msk.ru", "oleg", "Снимает офис 120 м² в центре", "Юрлица"),
    ("Наталья Белова", "+79035550101", "n.belova@yandex.ru", "anna", "Продаёт однушку в Марьино", "Собственники"),
    ("Пётр Сидоров", "+79857776655", "p.sidorov@gmail.com", "maria", "Сдаёт квартиру на Фрунзенской", "Собственники"),
    ("Елена Васильева", "+79031234500", "elena.vasilyeva@mail.ru", "oleg", "Обмен на квартиру побольше", None),
    ("Мария Орлова", "+79260001122", "m.orlova@bk.ru", "maria", "Снимет студию на год", "Арендаторы"),
    ("Алексей Кузнецов", "+79165550001", "a.kuznetsov@mail.ru", "anna", None, "Покупатели"),
    ("Ольга Попова", "+79165550002", "olga.popova@yandex.ru", "oleg", "Ипотека одобрена в Сбере", "Покупатели"),
    ("Дмитрий Васильев", "+79165550003", "d.vasiliev@gmail.com", "maria", None, "Арендаторы"),
    ("Татьяна Соколова", "+79165550004", "t.sokolova@mail.ru", "anna", "VIP: продаёт дом в Рублёво", "VIP"),
    ("Михаил Михайлов", "+79165550005", "mikhailov.m@yandex.ru", "oleg", None, None),
    ("Екатерина Новикова", "+79165550006", "e.novikova@mail.ru", "maria", "Нужна квартира у школы", "Арендаторы"),
    ("Андрей Фёдоров", "+79165550007", "a.fedorov@inbox.ru", "anna", None, "Покупатели"),
    ("Светлана Морозова", "+79165550008", "s.morozova@gmail.com", None, None, None),
    ("Николай Егоров", "+79165550009", "n.egorov@mail.ru", "oleg", "Инвестор, берёт 2–3 объекта в год", "VIP"),
    ("Юлия Павлова", "+79165550010", "yulia.pavlova@yandex.ru", "maria", None, "Арендаторы"),
    ("Сергей Козлов", "+79165550011", "s.kozlov@mail.ru", "anna", None, None),
    ("Анастасия Лебедева", "+79165550012", "a.lebedeva@gmail.com", None, "Звонила дважды, не дозвонились", None),
    ("Владимир Семёнов", "+79165550013", "v.semenov@mail.ru", "oleg", None, "Собственники"),
    ("Ирина Голубева", "+79165550014", "i.golubeva@yandex.ru", "maria", None, None),
    ("Артём Виноградов", "+79165550015", "a.vinogradov@mail.ru", "anna", "Покупает первую квартиру", "Покупатели"),
    ("Марина Богданова", "+79165550016", "m.bogdanova@bk.ru", None, None, None),
    ("Павел Воробьёв", "+79165550017", "p.vorobyev@mail.ru", "oleg", None, None),
    ("Ксения Борисова", "+79165550018", "k.borisova@gmail.com", "maria", None, "Арендаторы"),
    ("Максим Захаров", "+79165550019", "m.zakharov@yandex.ru", "anna", None, None),
    ("Елизавета Зайцева", "+79165550020", "e.zaitseva@mail.ru", None, None, None),
    ("Роман Соловьёв", "+79165550021", "r.solovyev@mail.ru", "oleg", "Продаёт офис на Новослободской", "Собственники"),
    ("Людмила Григорьева", "+79165550022", "l.grigorieva@yandex.ru", "maria", None, None),
    ("Виктор Романов", "+79165550023", "v.romanov@inbox.ru", "anna", None, None),
    ("Алина Воронина", "+79165550024", "a.voronina@mail.ru", None, "Нашла нас на Авито", None),
    ("Константин Степанов", "+79165550025", "k.stepanov@gmail.com", "oleg", None, "Покупатели"),
    ("Вера Никитина", "+79165550026", "v.nikitina@mail.ru", "maria", None, None),
    ("Григорий Орлов", "+79165550027", "g.orlov@yandex.ru", None, None, None),
    ("Дарья Макарова", "+79165550028", "d.makarova@mail.ru", "anna", None, "Арендаторы"),
    ("Денис Ковалёв", "+79165550029", "d.kovalev@bk.ru", "oleg", None, None),
    ("Полина Крылова", "+79165550030", "p.krylova@mail.ru", None, None, None),
    ("ООО «Вектор»", "+74957770101", "office@vector-group.ru", "oleg", "Ищут склад-офис до 300 м²", "Юрлица"),
    ("ИП Сафонов А. В.", "+74957770202", "safonov.ip@mail.ru", "maria", "Аренда торговой точки", "Юрлица"),
    ("ООО «СтройИнвест»", "+74957770303", "info@stroyinvest.ru", None, None, "Юрлица"),
    ("Тимур Алиев", "+79165550031", "t.aliev@gmail.com", "anna", None, "Покупатели"),
)
COMPANY_PREFIXES = ("ООО", "ИП", "АО", "ПАО")

# address, district, metro, lat, lon, type, deal, price, agent, owner client's phone
PROPERTIES = (
    ("Москва, ул. Тверская, 12", "Тверской", "Пушкинская", 55.7640, 37.6060, "flat", "sale", 32_500_000, "anna", None),
    ("Москва, Комсомольский пр-т, 24", "Хамовники", "Фрунзенская", 55.7270, 37.5800, "flat", "sale", 28_900_000,
     "anna", None),
    ("Москва, ул. Покровка, 31", "Басманный", "Курская", 55.7590, 37.6480, "flat", "rent", 120_000, "maria", None),
    ("Москва, Ленинский пр-т, 68", "Гагаринский", "Университет", 55.6930, 37.5500, "flat", "sale", 19_800_000,
     "oleg", None),
    ("Москва, ул. Профсоюзная, 93", "Коньково", "Беляево", 55.6400, 37.5270, "flat", "rent", 55_000, "maria", None),
    ("Москва, ул. Митинская, 40", "Митино", "Митино", 55.8460, 37.3610, "flat", "sale", 12_400_000, "oleg", None),
    ("Москва, бульвар Адмирала Ушакова, 5", "Южное Бутово", "Бульвар Адмирала Ушакова", 55.5450, 37.5420, "flat",
     "sale", 10_900_000, "anna", None),
    ("Москва, ул. Люблинская, 153", "Марьино", "Марьино", 55.6500, 37.7440, "flat", "sale", 11_200_000, "anna",
     "+79035550101"),
    ("Москва, Ленинградский пр-т, 76", "Сокол", "Сокол", 55.8050, 37.5150, "flat", "sale", 21_300_000, "oleg", None),
    ("Москва, ул. Большая Дорогомиловская, 8", "Дорогомилово", "Киевская", 55.7450, 37.5660, "office", "rent",
     450_000, "oleg", None),
    ("Москва, Пресненская наб., 12", "Пресненский", "Выставочная", 55.7490, 37.5390, "office", "rent", 980_000,
     "oleg", None),
    ("Москва, ул. Новослободская, 23", "Тверской", "Менделеевская", 55.7820, 37.5990, "office", "sale", 74_000_000,
     "oleg", "+79165550021"),
    ("Москва, ул. Садовая-Черногрязская, 8", "Басманный", "Красные Ворота", 55.7680, 37.6490, "office", "rent",
     320_000, "maria", None),
    ("Москва, пос. Внуковское, ул. Лётчика Грицевца, 3", "Внуковское", "Рассказовка", 55.6150, 37.3400, "house",
     "sale", 38_000_000, "anna", None),
    ("Москва, Рублёво, ул. Советская, 41", "Кунцево", "Молодёжная", 55.7580, 37.3900, "house", "sale", 65_000_000,
     "anna", "+79165550004"),
    ("Московская обл., Одинцовский г. о., д. Жуковка, 58", "Одинцовский", None, 55.7330, 37.2420, "house", "rent",
     900_000, "maria", None),
    ("Москва, ул. Мосфильмовская, 70", "Раменки", "Ломоносовский проспект", 55.7070, 37.5120, "flat", "sale",
     45_500_000, "anna", None),
    ("Москва, ул. Вавилова, 81", "Академический", "Академическая", 55.6890, 37.5700, "flat", "rent", 75_000, "maria",
     None),
    ("Москва, ул. Бутырская, 5", "Савёловский", "Савёловская", 55.7950, 37.5890, "office", "rent", 210_000, "oleg",
     None),
    ("Москва, 3-я Фрунзенская ул., 9", "Хамовники", "Фрунзенская", 55.7260, 37.5780, "flat", "rent", 140_000, "maria",
     "+79857776655"),
)

DID_SOURCES = {"74950000001": "ЦИАН", "74950000002": "Авито", "74950000003": "Сайт"}
# key, channel, who (client phone, or a new person's dict), subject, property index, hours ago, disposition
# disposition: an agent's login (in work), "done:<login>", "department:<name>", "common", or "new"
INQUIRIES = (
    ("01", Channel.CALL, "+79161234567", "Звонок: двушка у метро", 0, 2, "anna"),
    ("02", Channel.CALL, "+74951112233", "Звонок: продление аренды офиса", 10, 5, "oleg"),
    ("03", Channel.CALL, "+79035550101", "Звонок: оценка однушки в Марьино", 7, 8, "anna"),
    ("04", Channel.CALL, "+79857776655", "Звонок: сдать квартиру", 19, 12, "maria"),
    ("05", Channel.CALL, "+79031234500", "Звонок: обмен квартиры", None, 30, f"department:{SALES}"),
    ("06", Channel.CALL, "+79260001122", "Звонок: студия в аренду", 4, 3, "maria"),
    ("07", Channel.EMAIL, "+79165550001", "Квартира на Ленинском", 3, 20, "anna"),
    ("08", Channel.EMAIL, "+79165550002", "Ипотека и двушка в Митино", 5, 26, "oleg"),
    ("09", Channel.EMAIL, "+79165550003", "Аренда на Покровке", 2, 40, "maria"),
    ("10", Channel.EMAIL, "+79165550004", "Продажа дома в Рублёво", 14, 50, "done:anna"),
    ("11", Channel.EMAIL, "+79165550013", "Оценка квартиры", None, 55, f"department:{SALES}"),
    ("12", Channel.EMAIL, {"name": "Галина Фомина", "email": "g.fomina@mail.ru"}, "Нужна консультация по сделке",
     None, 70, "common"),
    ("13", Channel.TELEGRAM, "+79165550006", "Квартира рядом со школой", 17, 6, "maria"),
    ("14", Channel.TELEGRAM, "+79165550012", "Перезвоните, пожалуйста", None, 9, f"department:{SALES}"),
    ("15", Channel.TELEGRAM, {"name": "Кирилл Ветров", "telegram_id": "512000101"}, "Есть ли студии до 50 тыс.?",
     None, 14, f"department:{RENT}"),
    ("16", Channel.TELEGRAM, {"name": "Оксана", "telegram_id": "512000102", "phone": "+79165559001"},
     "Хочу продать квартиру", None, 1, "new"),
    ("17", Channel.TELEGRAM, "+79165550018", "Аренда на Вавилова", 18, 16, "maria"),
    ("18", Channel.TELEGRAM, {"name": "Ахмед", "telegram_id": "512000103"}, "Офис под склад", None, 80, "common"),
    ("19", Channel.WEBFORM, "+79165550007", "Заявка с сайта: Мосфильмовская", 16, 4, "anna"),
    ("20", Channel.WEBFORM, "+79165550015", "Заявка с сайта: первая квартира", 6, 22, "anna"),
    ("21", Channel.WEBFORM, "+79165550024", "Заявка с сайта: подбор квартиры", None, 28, f"department:{SALES}"),
    ("22", Channel.WEBFORM, {"name": "Роза Хабибуллина", "phone": "+79165559002", "email": "roza.h@mail.ru"},
     "Заявка с сайта: сдать дом", 15, 33, f"department:{RENT}"),
    ("23", Channel.WEBFORM, {"name": "Станислав Пахомов", "phone": "+79165559003"}, "Заявка с сайта: офис",
     12, 60, "common"),
    ("24", Channel.WEBFORM, "+74957770101", "Заявка с сайта: склад-офис", 18, 7, "oleg"),
    ("25", Channel.CALL, "+74957770202", "Звонок: торговая точка", None, 11, f"department:{RENT}"),
    ("26", Channel.CALL, "+74957770303", "Звонок: коммерческая недвижимость", None, 100, "common"),
    ("27", Channel.EMAIL, "+79165550025", "Подбор квартиры в Хамовниках", 1, 18, "oleg"),
    ("28", Channel.CALL, "+79165550031", "Звонок: квартира на Тверской", 0, 0.5, "new"),
    ("29", Channel.WEBFORM, {"name": "Евгения Титова", "phone": "+79165559004", "email": "e.titova@yandex.ru"},
     "Заявка с сайта: аренда на год", None, 120, "common"),
    ("30", Channel.EMAIL, "+79165550021", "Продажа офиса на Новослободской", 11, 36, "done:oleg"),
)
BIRTHDAYS = (  # client phone, days from today, year of birth
    ("+79161234567", 0, 1984), ("+79165550004", 2, 1971), ("+79165550009", 5, 1979),
    ("+79035550101", 12, 1990), ("+79165550020", 40, 1995), ("+79857776655", -3, 1968),
)


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
