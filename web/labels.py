"""Display names for the codes the cores store (call outcomes, routing strategies, channels, PBX queues), the
routing explanations and the validation messages, in the reader's language — one place, used by every page.

The cores keep their codes and English notes (logs and exports read them); a page shows them through the
filters registered here (``outcome``, ``strategy``, ``queue``, ``routing_text``, ``message``) or through
``field_errors`` for a form.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup
from pydantic import ValidationError

from privacy import filters as privacy_filters
from web.i18n import TEXTS, add_texts, one_language

add_texts({
    "role.dpo": ("Ответственный за персональные данные", "Data-protection officer"),
    "outcome.answered": ("принят", "answered"),
    "outcome.abandoned": ("клиент не дождался", "abandoned"),
    "outcome.no_answer": ("без ответа", "no answer"),
    "outcome.failed": ("не состоялся", "failed"),
    "outcome.transferred": ("переведён", "transferred"),
    "outcome.lost_track": ("потерян", "lost track"),
    "outcome.busy": ("занято", "busy"),
    "strategy.least_loaded": ("наименее загруженному", "least loaded"),
    "strategy.round_robin": ("по очереди", "round robin"),
    "strategy.random": ("случайно", "random"),
    "strategy.even_spread": ("поровну за период", "even spread"),
    "strategy.team_claim": ("предложение группе", "team claim"),
    "strategy.owner_first": ("ответственному за клиента", "the client's owner first"),
    "strategy.pool": ("в аукцион", "to a pool"),
    "queue.unnamed": ("Очередь {name}", "Queue {name}"),
    "unit.seconds": ("с", "s"),
    "history.closed": ("Закрыто", "Closed"),
    "history.message_edited": ("Сообщение исправлено", "Message edited"),
    "history.to_common_pool": ("Передано в общий аукцион", "Moved to the common pool"),
    "history.to_department_pool": ("Передано в аукцион отдела", "Moved to the department pool"),
    "timeline.telegram_linked": ("Привязан Telegram", "Telegram linked"),
    "timeline.telegram_unlinked": ("Отвязан Telegram", "Telegram unlinked"),
    "utm.utm_source": ("источник", "source"),
    "utm.utm_medium": ("тип трафика", "medium"),
    "utm.utm_campaign": ("кампания", "campaign"),
    "utm.utm_term": ("ключевое слово", "term"),
    "utm.utm_content": ("объявление", "content"),
    "field.planned_at": ("Когда", "When"),
    "field.planned_action": ("Следующее действие", "Next action"),
})

# PBX queue names that are common words, when the settings give no display name (asterisk.queue_names).
QUEUE_WORDS = {"sales": "Продажи", "sale": "Продажи", "rent": "Аренда", "rental": "Аренда", "support": "Поддержка",
               "main": "Основная", "general": "Общая", "office": "Офис", "reception": "Приёмная",
               "callcenter": "Колл-центр", "commercial": "Коммерческая", "secondary": "Вторичка",
               "newbuild": "Новостройки", "new": "Новостройки", "vip": "VIP", "mortgage": "Ипотека",
               "default": "Общая", "info": "Справочная", "buy": "Покупка", "owners": "Собственники"}

# Notes and reasons the routing core writes in English, shown in the reader's language.
ROUTING_PHRASES: tuple[tuple[str, tuple[str, str]], ...] = (
    (r"; the inquiry has no department, so the common pool", ("; у обращения нет отдела, поэтому — в общий аукцион",
                                                            "; the inquiry has no department, so the common pool")),
    (r"offered to the group: the first to claim gets it", ("предложено группе: получит тот, кто возьмёт первым",
                                                           "offered to the group: the first to claim gets it")),
    (r"nobody in the target is eligible", ("никто из адресатов правила не может взять", "nobody in the target is "
                                                                                        "eligible")),
    (r"the rule sends it to the pool", ("правило отправляет в аукцион", "the rule sends it to the pool")),
    (r"nobody claimed the offer in time", ("никто не взял предложение вовремя", "nobody claimed the offer in time")),
    (r"nobody claimed in time", ("никто не взял вовремя", "nobody claimed in time")),
    (r"everyone offered became unavailable", ("все, кому предложили, стали недоступны",
                                              "everyone offered became unavailable")),
    (r"went (\w+) before accepting", ("стал недоступен («\\1») до того, как принял", "went \\1 before accepting")),
    (r"\bnot_accepted\b", ("не принято вовремя", "not accepted")),
    (r"\bplanned_day_missed\b", ("пропущен запланированный день", "planned day missed")),
    (r"\bidle_limit\b", ("слишком долго без действий", "idle too long")),
    (r"\bdepartment_pool_expired\b", ("истёк срок в аукционе отдела", "department pool expired")),
    (r"\bcommon_pool_expired\b", ("истёк срок в общем аукционе", "common pool expired")),
    (r"\brefusals\b", ("слишком много отказов", "too many refusals")),
    (r"\bto_department_pool\b", ("в аукцион отдела", "to the department pool")),
    (r"\bto_common_pool\b", ("в общий аукцион", "to the common pool")),
    (r"\bto_archive\b", ("в архив", "to the archive")),
    (r"client's owner: ", ("ответственный за клиента: ", "client's owner: ")),
    (r"the client's owner", ("ответственный за клиента", "the client's owner")),
    (r"excluded \(refused or re-routed\)", ("исключён (отказался или перераспределено)",
                                            "excluded (refused or re-routed)")),
    (r"unknown agent", ("неизвестный сотрудник", "unknown agent")),
    (r"unknown duty schedule '([^']*)'", ("неизвестный график дежурств «\\1»", "unknown duty schedule '\\1'")),
    (r"off duty", ("не на дежурстве", "off duty")),
    (r"missing skill ", ("нет навыка: ", "missing skill ")),
    (r"does not speak (\w+)", ("не говорит на языке «\\1»", "does not speak \\1")),
    (r"at capacity (\w+) (\d+)/(\d+)", ("загрузка по каналу «\\1» \\2/\\3 — больше нельзя", "at capacity \\1 \\2/\\3")),
    (r"on break", ("перерыв", "on break")),
    (r"in wrap-up", ("постобработка", "in wrap-up")),
    (r"on a call", ("разговор", "on a call")),
    (r"\boffline\b", ("не в сети", "offline")),
    (r"\bavailable\b", ("доступен", "available")),
    (r"Default rule", ("Правило по умолчанию", "Default rule")),
    (r"\b(least_loaded|round_robin|even_spread|team_claim|property_agent_first|owner_first)\b", ("", "")),
)
_PHRASES = [(re.compile(p), pair) for p, pair in ROUTING_PHRASES]

# Field problems the cores raise in English (agency.deal_forms.DealError and others).
MESSAGES: dict[str, tuple[str, str]] = {
    "at most 2 months ahead": ("не дальше чем на 2 месяца вперёд", "at most 2 months ahead"),
    "the date is in the past": ("дата уже прошла", "the date is in the past"),
    "the date needs a time zone": ("у даты нет часового пояса", "the date needs a time zone"),
    "say what is to be done": ("напишите, что нужно сделать", "say what is to be done"),
    "not a date": ("это не дата", "not a date"),
    "pick a department": ("выберите отдел", "pick a department"),
    "a name is required": ("нужно название", "a name is required"),
    "pick a stage": ("выберите этап", "pick a stage"),
    "pick the result from the directory": ("выберите результат из справочника", "pick the result from the directory"),
    "this step is already closed": ("этот шаг уже закрыт", "this step is already closed"),
    "no such property": ("такого объекта нет", "no such property"),
    "a viewing needs the property": ("для показа нужен объект", "a viewing needs the property"),
    "an agent records their own steps": ("агент отмечает только свои шаги", "an agent records their own steps"),
    "no such agent in your department": ("в вашем отделе нет такого агента", "no such agent in your department"),
    "this call was already marked": ("этот звонок уже отмечен", "this call was already marked"),
    "not a stage of this department's funnel": ("это не этап воронки этого отдела",
                                                "not a stage of this department's funnel"),
    "not a result for this kind of step": ("это не результат для такого шага", "not a result for this kind of step"),
    "the department already has its own list": ("у отдела уже есть свой список",
                                                "the department already has its own list"),
    "this list already has a stage with this name": ("в списке уже есть этап с таким названием",
                                                     "this list already has a stage with this name"),
    "status can be set to in_work or done only": ("статус можно сменить только на «В работе» или «Закрыто»",
                                                  "status can be set to in_work or done only"),
    "extension or login already in use": ("внутренний номер или логин уже заняты", "extension or login already in use"),
    "login must be 1–100 characters without spaces": ("логин: от 1 до 100 символов без пробелов",
                                                      "login must be 1–100 characters without spaces"),
    "empty phone number": ("пустой номер телефона", "empty phone number"),
    "wrong number of digits": ("неверное число цифр в номере", "wrong number of digits"),
    "the directory already has this result": ("в справочнике уже есть такой результат",
                                              "the directory already has this result"),
    "a phone or an email is required to know the client": ("нужен телефон или e-mail, чтобы узнать клиента",
                                                            "a phone or an email is required to know the client"),
    "give both latitude and longitude, or neither": ("укажите и широту, и долготу — или ни то, ни другое",
                                                     "give both latitude and longitude, or neither"),
}

# Messages that carry a value after a fixed start: the start is translated (the English keeps the rest).
PREFIXES: tuple[tuple[str, tuple[str, str]], ...] = (
    ("not a phone number", ("это не номер телефона", "not a phone number")),
    ("password must have at least", ("пароль слишком короткий", "password must have at least")),
    ("unknown role", ("неизвестная роль", "unknown role")),
)

# Pydantic's error types, by ``type``; ``{…}`` is filled from the error's context.
VALIDATION: dict[str, tuple[str, str]] = {
    "missing": ("Обязательное поле", "Required"),
    "string_type": ("Нужен текст", "Text is needed"),
    "string_too_short": ("Слишком коротко: не меньше {min_length} символов", "At least {min_length} characters"),
    "string_too_long": ("Не длиннее {max_length} символов", "At most {max_length} characters"),
    "string_pattern_mismatch": ("Неверный формат", "Wrong format"),
    "int_type": ("Нужно целое число", "A whole number is needed"),
    "int_parsing": ("Нужно целое число", "A whole number is needed"),
    "int_from_float": ("Нужно целое число", "A whole number is needed"),
    "float_type": ("Нужно число", "A number is needed"),
    "float_parsing": ("Нужно число", "A number is needed"),
    "decimal_parsing": ("Нужно число", "A number is needed"),
    "bool_parsing": ("Нужно «да» или «нет»", "Yes or no is needed"),
    "bool_type": ("Нужно «да» или «нет»", "Yes or no is needed"),
    "greater_than": ("Больше {gt}", "Greater than {gt}"),
    "greater_than_equal": ("Не меньше {ge}", "At least {ge}"),
    "less_than": ("Меньше {lt}", "Less than {lt}"),
    "less_than_equal": ("Не больше {le}", "At most {le}"),
    "datetime_parsing": ("Нужны дата и время", "A date and time are needed"),
    "datetime_from_date_parsing": ("Нужны дата и время", "A date and time are needed"),
    "datetime_type": ("Нужны дата и время", "A date and time are needed"),
    "date_parsing": ("Нужна дата", "A date is needed"),
    "date_from_datetime_parsing": ("Нужна дата", "A date is needed"),
    "date_type": ("Нужна дата", "A date is needed"),
    "time_parsing": ("Нужно время", "A time is needed"),
    "enum": ("Выберите значение из списка", "Pick a value from the list"),
    "literal_error": ("Выберите значение из списка", "Pick a value from the list"),
    "too_long": ("Слишком много значений", "Too many values"),
    "too_short": ("Слишком мало значений", "Too few values"),
    "list_type": ("Нужен список", "A list is needed"),
    "extra_forbidden": ("Лишнее поле", "Unexpected field"),
    "url_parsing": ("Неверный адрес", "Not a valid address"),
    "value_error": ("Неверное значение", "Not a valid value"),
}


def _pick(pair: tuple[str, str], locale: str) -> str:
    return pair[1] if locale == "en" else pair[0]


def text(key: str, locale: str, default: str | None = None, **kw: object) -> str:
    pair = TEXTS.get(key)
    if pair is None:
        return default if default is not None else key
    out = _pick(pair, locale)
    return out.format(**kw) if kw else out


def outcome(code: str | None, locale: str = "ru") -> str:
    return text(f"outcome.{code}", locale, default=str(code)) if code else "—"


def strategy(code: str | None, locale: str = "ru") -> str:
    return text(f"strategy.{code}", locale, default=str(code)) if code else ""


def queue(name: str | None, locale: str = "ru", names: Mapping[str, str] | None = None) -> str:
    """A PBX queue by its display name (settings ``[asterisk] queue_names``), else a Russian guess."""
    if not name:
        return "—"
    if names and name in names:
        return names[name]
    if locale == "en":
        return name
    word = QUEUE_WORDS.get(name.lower().replace("-", "").replace("_", ""))
    return word or text("queue.unnamed", locale, name=name if not re.search("[A-Za-z]", name) else _translit(name))


_LAT = dict(zip("abvgdezijklmnoprstufhcy", "абвгдезийклмнопрстуфхцы", strict=True)) | {
    "w": "в", "x": "кс", "q": "к"}


def _translit(name: str) -> str:
    return "".join(_LAT.get(ch.lower(), ch) for ch in name)


def routing_text(value: str | None, locale: str = "ru") -> str:
    """A routing note, reason or summary with its English phrases and strategy codes in the reader's language."""
    out = value or ""
    for pattern, pair in _PHRASES:
        if pair == ("", ""):
            out = pattern.sub(lambda m: strategy(m.group(1), locale), out)
        else:
            out = pattern.sub(_pick(pair, locale), out)
    return out


def message(value: str | None, locale: str = "ru") -> str:
    """A core's field problem: a known English message translated, «ru / en» halves picked, else as it is."""
    value = value or ""
    head, sep, tail = value.partition(": ")
    if sep and tail in MESSAGES:  # «planned_at: at most 2 months ahead»
        label = text(f"field.{head}", locale, default=head)
        return f"{label}: {_pick(MESSAGES[tail], locale)}"
    if value in MESSAGES:
        return _pick(MESSAGES[value], locale)
    taken = re.fullmatch(r"login '(.+)' is taken", value)
    if taken:
        return value if locale == "en" else f"логин «{taken.group(1)}» уже занят"
    for prefix, pair in PREFIXES:
        if value.startswith(prefix):
            return _pick(pair, locale) + (value[len(prefix):] if locale == "en" else "")
    return one_language(value, locale)


def field_errors(exc: ValidationError, locale: str = "ru") -> dict[str, str]:
    """Field name → its first problem, in the interface language (pydantic's own words never reach a page)."""
    out: dict[str, str] = {}
    for e in exc.errors(include_input=False, include_url=False):
        key = str(e["loc"][0]) if e["loc"] else e.get("type", "form")  # a form-wide check names itself
        ctx = {k: v for k, v in (e.get("ctx") or {}).items() if isinstance(v, int | float | str)}
        if e["type"] not in VALIDATION and e["type"] != "value_error":  # a check of our own: its words, translated
            said = str(e.get("msg", ""))
            out.setdefault(key, message(said, locale) if message(said, locale) != said
                           else _pick(VALIDATION["value_error"], locale))
            continue
        if e["type"] == "value_error" and isinstance((e.get("ctx") or {}).get("error"), ValueError):
            said = str(e["ctx"]["error"])
            texts = message(said, locale)
            out.setdefault(key, texts if texts != said or not re.search("[A-Za-z]{3}", said)
                           else _pick(VALIDATION["value_error"], locale))
            continue
        pair = VALIDATION.get(e["type"])
        try:
            out.setdefault(key, _pick(pair, locale).format(**ctx) if pair else _pick(VALIDATION["value_error"], locale))
        except (KeyError, IndexError):
            out.setdefault(key, _pick(VALIDATION["value_error"], locale))
    return out


def _with_locale(fn):  # noqa: ANN001, ANN202
    @jinja2.pass_context
    def filt(ctx: jinja2.runtime.Context, value: object, *args: object) -> str:
        return fn(value, ctx.get("locale", "ru"), *args)
    return filt


@jinja2.pass_context
def _queue_filter(ctx: jinja2.runtime.Context, value: str | None) -> str:
    return queue(value, ctx.get("locale", "ru"), ctx.get("queue_names"))


ZONES = {"Europe/Moscow": "Москва", "Europe/Kaliningrad": "Калининград", "Europe/Samara": "Самара",
         "Asia/Yekaterinburg": "Екатеринбург", "Asia/Omsk": "Омск", "Asia/Novosibirsk": "Новосибирск",
         "Asia/Krasnoyarsk": "Красноярск", "Asia/Irkutsk": "Иркутск", "Asia/Yakutsk": "Якутск",
         "Asia/Vladivostok": "Владивосток", "Asia/Magadan": "Магадан", "Asia/Kamchatka": "Камчатка",
         "Europe/Volgograd": "Волгоград", "Europe/Saratov": "Саратов", "Europe/Ulyanovsk": "Ульяновск"}


def zone_name(zone: str | None, locale: str = "ru") -> str:
    """The agency's time zone as a reader says it: «Москва», else «пояс +5 ч»."""
    if not zone or locale == "en":
        return zone or ""
    if zone in ZONES:
        return ZONES[zone]
    try:
        offset = datetime.now(ZoneInfo(zone)).utcoffset() or timedelta(0)
    except (KeyError, ValueError):
        return zone
    hours = offset.total_seconds() / 3600
    return f"пояс {hours:+g} ч"


_OUTCOME_IN_TEXT = re.compile(r"\((answered|abandoned|no_answer|failed|transferred|lost_track|busy)\)")


def outcomes_in(value: str | None, locale: str = "ru") -> str:
    """A stored note naming a call's outcome code, «Пропущенный звонок (abandoned)», with the outcome in words."""
    return _OUTCOME_IN_TEXT.sub(lambda m: f"({outcome(m.group(1), locale)})", value or "")


def utm_key(key: str, locale: str = "ru") -> str:
    return text(f"utm.{key}", locale, default=key)


add_texts({  # the messengers (issue 27): channels, identities, delivery reports, merged clients
    "channel.vk": ("ВКонтакте", "VK"),
    "channel.whatsapp": ("WhatsApp", "WhatsApp"),
    "channel.avito": ("Авито", "Avito"),
    "channel.sms": ("СМС", "SMS"),
    "timeline.sms_opt_out": ("Отказался от СМС", "Opted out of SMS"),
    "timeline.sms_opt_in": ("Снова согласен на СМС", "Opted in to SMS again"),
    "contact.phone": ("Телефон", "Phone"),
    "contact.email": ("Email", "Email"),
    "contact.telegram": ("Telegram", "Telegram"),
    "contact.vk": ("ВКонтакте", "VK"),
    "contact.whatsapp": ("WhatsApp", "WhatsApp"),
    "contact.avito": ("Авито", "Avito"),
    "contact.blocked": ("запретил сообщения", "has forbidden messages"),
    "delivery.delivered": ("доставлено", "delivered"),
    "delivery.read": ("прочитано", "read"),
    "timeline.vk_blocked": ("Запретил сообщения сообщества VK", "Forbade the VK community's messages"),
    "timeline.vk_unblocked": ("Разрешил сообщения сообщества VK", "Allowed the VK community's messages"),
    "timeline.whatsapp_blocked": ("Запретил сообщения в WhatsApp", "Forbade WhatsApp messages"),
    "timeline.whatsapp_unblocked": ("Разрешил сообщения в WhatsApp", "Allowed WhatsApp messages"),
    "timeline.clients_merged": ("Карточки клиентов объединены", "Client cards merged"),
})


def channel_icon(kind: object) -> Markup:
    """A channel's (or a contact kind's) icon, inline SVG with its name for screen readers."""
    from channels.messaging.icons import icon_svg

    return Markup(icon_svg(str(kind or "")))  # noqa: S704 - built from fixed strings, the kind escaped


def identity(kind: object, value: object) -> str:
    from channels.messaging.icons import identity_text

    return identity_text(str(kind or ""), str(value or ""))


def identity_link(kind: object, value: object) -> str | None:
    from channels.messaging.icons import identity_link as link

    return link(str(kind or ""), str(value or ""))


def message_identity(message: object) -> str:
    from channels.messaging.icons import message_identity as of

    return of(str(getattr(message, "channel", "")), getattr(message, "meta", None))


FILTERS = {
    "channel_icon": channel_icon,
    "identity": identity,
    "identity_link": identity_link,
    "message_identity": message_identity,
    "phone": privacy_filters.phone,  # a client's number, masked for roles that must not see it (privacy/)
    "phones_masked": privacy_filters.phones_masked,
    "outcomes_in": _with_locale(outcomes_in),
    "zone_name": _with_locale(zone_name),
    "utm_key": _with_locale(utm_key),
    "outcome": _with_locale(outcome),
    "strategy": _with_locale(strategy),
    "routing_text": _with_locale(routing_text),
    "message": _with_locale(message),
    "queue": _queue_filter,
}
