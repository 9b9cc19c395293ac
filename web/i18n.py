"""Interface texts: Russian first, English second. Unknown keys show the key, so a gap is visible."""

from __future__ import annotations

LOCALES = ("ru", "en")

TEXTS: dict[str, tuple[str, str]] = {
    "app.title": ("Контакт-центр", "Contact center"),
    "nav.inbox": ("Обращения", "Inquiries"),
    "nav.clients": ("Клиенты", "Clients"),
    "nav.users": ("Сотрудники", "Users"),
    "nav.departments": ("Отделы", "Departments"),
    "nav.import": ("Импорт клиентов", "Import clients"),
    "nav.logout": ("Выйти", "Log out"),
    "login.title": ("Вход", "Log in"),
    "login.login": ("Логин", "Login"),
    "login.password": ("Пароль", "Password"),
    "login.submit": ("Войти", "Log in"),
    "login.failed": ("Неверный логин или пароль", "Wrong login or password"),
    "login.too_many": (
        "Слишком много попыток. Повторите через {seconds} с.", "Too many attempts. Try again in {seconds} s."
    ),
    "box.mine": ("Мои", "Mine"),
    "box.department": ("Аукцион отдела", "Department pool"),
    "box.common": ("Общий аукцион", "Common pool"),
    "box.all": ("Все доступные", "All I can see"),
    "box.empty": ("Обращений нет", "No inquiries"),
    "box.team": ("Мой отдел", "My department"),
    "inbox.search": ("Имя, телефон или № обращения", "Name, phone or inquiry number"),
    "inbox.any_channel": ("Все каналы", "Any channel"),
    "inbox.any_status": ("Все статусы", "Any status"),
    "inbox.any_source": ("Все источники", "Any source"),
    "inbox.any_department": ("Все отделы", "Any department"),
    "inbox.open": ("Открытые", "Open"),
    "inbox.sort": ("Порядок", "Order"),
    "inbox.sort_created": ("Сначала новые", "Newest first"),
    "inbox.sort_planned": ("По следующему действию", "By next action"),
    "inbox.sort_status": ("По статусу", "By status"),
    "inbox.reset": ("Сбросить", "Reset"),
    "inbox.pages": ("Страницы", "Pages"),
    "inbox.prev": ("Назад", "Previous"),
    "inbox.next": ("Дальше", "Next"),
    "inbox.shown": ("всего {total}", "{total} in all"),
    "inbox.overdue": ("Просрочено", "Overdue"),
    "inbox.today": ("Сегодня", "Today"),
    "col.id": ("№", "#"),
    "col.client": ("Клиент", "Client"),
    "col.channel": ("Канал", "Channel"),
    "col.subject": ("Тема", "Subject"),
    "col.source": ("Источник", "Source"),
    "col.status": ("Статус", "Status"),
    "col.owner": ("Ответственный", "Owner"),
    "col.created": ("Создано", "Created"),
    "col.planned": ("План", "Planned"),
    "col.name": ("Имя", "Name"),
    "col.login": ("Логин", "Login"),
    "col.role": ("Роль", "Role"),
    "col.department": ("Отдел", "Department"),
    "col.extension": ("Внутренний", "Extension"),
    "col.contacts": ("Контакты", "Contacts"),
    "col.division": ("Дивизион", "Division"),
    "inquiry.title": ("Обращение №{id}", "Inquiry #{id}"),
    "inquiry.messages": ("Переписка", "Messages"),
    "inquiry.history": ("История", "History"),
    "inquiry.claim": ("Беру работу на себя", "I'll take it"),
    "inquiry.claimed": ("Обращение ваше", "The inquiry is yours"),
    "inquiry.already_taken": ("Обращение уже взял другой сотрудник", "Someone else has already taken it"),
    "inquiry.saved": ("Сохранено", "Saved"),
    "inquiry.next_action": ("Следующее действие", "Next action"),
    "inquiry.next_date": ("Когда", "When"),
    "inquiry.note": ("Заметка", "Note"),
    "history.status": ("Статус изменён", "Status changed"),
    "history.planned": ("Запланировано", "Planned"),
    "history.note": ("Заметка", "Note"),
    "timeline.note": ("Заметка", "Note"),
    "inquiry.reply": ("Ответ клиенту", "Reply to the client"),
    "inquiry.reply_via": ("Канал", "Channel"),
    "inquiry.send": ("Отправить", "Send"),
    "inquiry.reply_queued": ("Ответ поставлен в очередь отправки", "The reply is queued for sending"),
    "delivery.queued": ("в очереди", "queued"),
    "delivery.retry": ("повтор отправки", "retrying"),
    "delivery.sending": ("отправляется", "sending"),
    "delivery.sent": ("отправлено", "sent"),
    "delivery.undelivered": ("не доставлено", "undelivered"),
    "delivery.channel_off": ("не отправлено: канал выключен", "not sent: the channel is off"),
    "reply.channel_off": ("Канал {channel} выключен — ответ не отправлен", "The {channel} channel is off — the reply "
                          "was not sent"),
    "reply.off_option": ("выключен", "off"),
    "history.reply": ("Ответ клиенту", "Reply sent"),
    "inquiry.why": ("Почему этот сотрудник", "Why this agent"),
    "inquiry.pool": ("Пул", "Pool"),
    "client.title": ("Карточка клиента", "Client card"),
    "client.timeline": ("Хронология", "Timeline"),
    "client.owner": ("Ответственный агент", "Owner agent"),
    "client.company": ("Компания", "Company"),
    "client.inquiries": ("Обращения", "Inquiries"),
    "client.search": ("Поиск по имени, телефону или e-mail", "Search by name, phone or email"),
    "client.add_phone": ("Добавить телефон", "Add a phone"),
    "client.add_email": ("Добавить e-mail", "Add an email"),
    "timeline.client_updated": ("Карточка изменена", "Card updated"),
    "client.none": ("Никого не нашли", "Nobody found"),
    "common.nobody": ("—", "—"),
    "common.save": ("Сохранить", "Save"),
    "common.create": ("Создать", "Create"),
    "common.find": ("Найти", "Find"),
    "common.back": ("Назад", "Back"),
    "users.create": ("Новый сотрудник", "New user"),
    "users.created": ("Сотрудник создан", "User created"),
    "users.served": ("Обслуживаемые отделы", "Served departments"),
    "departments.create": ("Новый отдел", "New department"),
    "departments.created": ("Отдел создан", "Department created"),
    "departments.work_time": ("Рабочее время", "Working time"),
    "zone.viewer": ("время", "times in"),
    "departments.as_agency": ("как у агентства", "as the agency's"),
    "departments.change": ("изменить", "change"),
    "import.title": ("Импорт клиентов из CSV или XLSX", "Import clients from CSV or XLSX"),
    "import.file": ("Файл", "File"),
    "import.dry_run": ("Только проверить", "Check only"),
    "import.submit": ("Загрузить", "Upload"),
    "import.report": ("Отчёт об импорте", "Import report"),
    "import.rows": ("Строк", "Rows"),
    "import.created": ("Создано", "Created"),
    "import.merged": ("Объединено", "Merged"),
    "import.skipped": ("Пропущено", "Skipped"),
    "import.warnings": ("Предупреждения", "Warnings"),
    "import.errors": ("Ошибки по строкам", "Row errors"),
    "error.not_found": ("Не найдено", "Not found"),
    "error.forbidden": ("Нет доступа", "Forbidden"),
    "error.csrf": ("Форма устарела, обновите страницу", "The form expired, reload the page"),
    "error.db_down": ("База данных недоступна, повторите позже", "Database unavailable, try again later"),
    "popup.incoming": ("Входящий звонок", "Incoming call"),
    "popup.new_number": ("Новый номер", "New number"),
    "timeline.client_created": ("Клиент создан", "Client created"),
    "timeline.inquiry_opened": ("Новое обращение", "Inquiry opened"),
    "timeline.message_in": ("Входящее сообщение", "Message received"),
    "timeline.message_out": ("Ответ клиенту", "Reply sent"),
    "timeline.claimed": ("Обращение взято в работу", "Inquiry claimed"),
    "timeline.imported": ("Импортирован", "Imported"),
    "timeline.call": ("Звонок", "Call"),
    "timeline.task": ("Задача", "Task"),
    "history.opened": ("Создано", "Opened"),
    "history.claimed": ("Взято в работу", "Claimed"),
    "history.intake_note": ("Замечание при приёме", "Intake note"),
    "history.assigned": ("Назначено", "Assigned"),
    "ws.online": ("на связи", "online"),
    "ws.offline": ("нет связи", "offline"),
    "role.agent": ("Агент", "Agent"),
    "role.dept_manager": ("Менеджер отдела", "Department manager"),
    "role.dept_head": ("Руководитель отдела", "Department head"),
    "role.director": ("Директор", "Director"),
    "role.admin": ("Администратор", "Administrator"),
    "role.service_engineer": ("Сервисный инженер", "Service engineer"),
    "status.moderation": ("На модерации", "In moderation"),
    "status.new": ("Новое", "New"),
    "status.offered": ("Предложено", "Offered"),
    "status.in_work": ("В работе", "In work"),
    "status.done": ("Закрыто", "Done"),
    "status.archived": ("Архив", "Archived"),
    "channel.call": ("Звонок", "Call"),
    "channel.email": ("Email", "Email"),
    "channel.telegram": ("Telegram", "Telegram"),
    "channel.webform": ("Форма на сайте", "Web form"),
    "channel.visit": ("Визит", "Visit"),
    "channel.manual": ("Вручную", "Manual"),
    "pool.none": ("—", "—"),
    "pool.department": ("Аукцион отдела", "Department pool"),
    "pool.common": ("Общий аукцион", "Common pool"),
    "pool.archive": ("Архив", "Archive"),
}


def add_texts(table: dict[str, tuple[str, str]]) -> None:
    """A feature brings its own texts (kept beside its views); a key defined twice is a mistake, refused."""
    clash = sorted(set(table) & set(TEXTS))
    if clash:
        raise ValueError(f"interface text keys defined twice: {', '.join(clash)}")
    TEXTS.update(table)


def translator(locale: str):  # noqa: ANN201 - returns a plain function for Jinja
    index = 1 if locale == "en" else 0

    def t(key: str, **kw: object) -> str:
        pair = TEXTS.get(key)
        text = pair[index] if pair else key
        return text.format(**kw) if kw else text

    return t


def one_language(text: str, locale: str) -> str:
    """A core's message written «по-русски / in English»: the half in the reader's language."""
    ru, sep, en = text.partition(" / ")
    if not sep:
        return text
    return en if locale == "en" else ru


def pick_locale(user_locale: str | None, accept_language: str | None, default: str = "ru") -> str:
    if user_locale in LOCALES:
        return user_locale
    header = (accept_language or "").lower()
    if header.startswith("en"):
        return "en"
    return default
