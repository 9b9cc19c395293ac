"""The demo agency's static data: departments, staff, clients, properties, inquiries and birthdays.

``crm_core.demo`` loads it. Agents 101–103 are the extensions of the real AMI traces, and the traces'
callers are among the clients, so the demo PBX pops up known cards.
"""

from __future__ import annotations

from crm_core.models import Channel, Role

DIVISION = "Москва"
SALES, RENT, CALLS = "Отдел продаж вторички", "Отдел аренды", "Колл-центр"
DEPARTMENTS = (SALES, RENT, CALLS)
STAFF = (  # login, full name, role, department, extension
    ("anna", "Анна Смирнова", Role.AGENT, SALES, "101"),
    ("oleg", "Олег Иванов", Role.AGENT, SALES, "102"),
    ("maria", "Мария Козлова", Role.AGENT, RENT, "103"),
    ("head", "Сергей Волков", Role.DEPT_HEAD, SALES, "104"),
    ("manager", "Елена Морозова", Role.DEPT_MANAGER, RENT, "105"),
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

# --- the workspace around the records: routing, scripts, quality, deals (loaded by crm_core.demo_extra) ---
CENTER = {"type": "Polygon", "coordinates": [[[37.56, 55.73], [37.68, 55.73], [37.68, 55.79], [37.56, 55.79],
                                              [37.56, 55.73]]]}
TERRITORIES = (("центр", "Центр в пределах Садового кольца", CENTER),)
# id, priority, name, when, target department ("" for the inquiry's own), strategy
RULES = (
    ("звонки-продажи", 10, "Звонки с ЦИАН — в отдел продаж", {"channels": ["call"], "dids": ["74950000001"]},
     SALES, "least_loaded"),
    ("сайт-центр", 20, "Заявки с сайта по центру — в отдел продаж",
     {"channels": ["webform"], "territories": ["центр"]}, SALES, "round_robin"),
    ("сайт-аренда", 30, "Заявки с сайта на аренду — в отдел аренды",
     {"channels": ["webform"], "deal_types": ["rent"]}, RENT, "least_loaded"),
)
SCRIPT_NAME = "Входящий звонок по объявлению"
SCRIPT_QUEUES = ("sales", "support", "linear")
SCRIPT_STEPS = (
    {"id": "начало", "question": "Вы звоните по объявлению?", "fields": ["Имя", "Бюджет"],
     "answers": [{"text": "Да", "next": "цель"}, {"text": "Нет", "next": None}]},
    {"id": "цель", "question": "Вы хотите купить, снять или продать?", "fields": ["Район"],
     "answers": [{"text": "Купить", "next": "показ"}, {"text": "Снять", "next": "показ"},
                 {"text": "Продать", "next": None}]},
    {"id": "показ", "question": "Когда вам удобно посмотреть объект?", "fields": ["Дата показа"],
     "answers": [{"text": "Договорились о показе", "next": None}, {"text": "Перезвонить позже", "next": None}]},
)
CHECKLIST_NAME = "Оценка входящего звонка"
CHECKLIST_ITEMS = (("Поздоровался и представился", 1), ("Выяснил бюджет и район", 2),
                   ("Предложил показ объекта", 2), ("Договорился о следующем шаге", 1))
ROTA = ("дежурство-аренда", "Дежурство отдела аренды",
        {"mon": [["09:00", "20:00"]], "tue": [["09:00", "20:00"]], "wed": [["09:00", "20:00"]],
         "thu": [["09:00", "20:00"]], "fri": [["09:00", "20:00"]], "sat": [["10:00", "18:00"]]})
ROTA_LOGIN = "manager"
FUNNEL = (("Новая", False), ("Подбор вариантов", False), ("Просмотры", False), ("Договор", True),
          ("Сделка закрыта", True))  # agency.deal_directories.DEFAULT_STAGES, when the agency has none yet
# inquiry key, stage, status
DEALS = (("08", "Новая", "open"), ("07", "Подбор вариантов", "open"), ("01", "Просмотры", "open"),
         ("04", "Договор", "open"), ("10", "Сделка закрыта", "won"))
# property address (a demo property without an owner), owner's phone, owner's name, source
OWNER_LEAD = ("Москва, ул. Профсоюзная, 93", "+79165559100", "Зинаида Крюкова", "Выгрузка ЦИАН")
# the stored call of inquiry "01" (answered.txt: Иван Петров to DID 74950000001, queue sales, agent 101)
CALL = ("demo-call-01", "01", "+79161234567", "Иван Петров", "74950000001", "sales", "anna")
