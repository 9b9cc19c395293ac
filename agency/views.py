"""The agency pages' common ground: the roles that work deals (``WORKERS``), the agency's interface texts
(deals, funnel, manual intake, control, and the timeline/history entries the agency writes) and the helpers
every agency page module uses (rendering, the id in the path, the posted form, pydantic errors per field,
the agency's local time).

The pages themselves: ``views_deals`` (deals), ``views_inquiry`` (an inquiry's work page, manual intake),
``views_control`` («Контроль»), ``views_funnel`` (the administrator's stages and results) and
``views_properties`` (the property base); ``agency/wiring.py`` lists them in ``VIEWS``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import ValidationError

from crm_core.models import Role
from web.i18n import add_texts
from web.keys import LOCALE, viewer_zone

log = logging.getLogger("hub.web.agency")

WORKERS = (Role.AGENT, Role.DEPT_MANAGER, Role.DEPT_HEAD, Role.ADMIN)

add_texts({
    "agency.nav_deals": ("Сделки", "Deals"),
    "agency.nav_manual": ("Новое обращение", "New inquiry"),
    "agency.nav_stages": ("Этапы воронки", "Funnel stages"),
    "agency.nav_results": ("Справочник результатов", "Results directory"),
    "agency.deals_title": ("Сделки", "Deals"),
    "agency.no_deals": ("Сделок нет", "No deals"),
    "agency.deal_title": ("Сделка №{id}", "Deal #{id}"),
    "agency.deal_of": ("Сделка по обращению №{id}", "Deal of inquiry #{id}"),
    "agency.inquiry_work": ("Работа с обращением №{id}", "Working on inquiry #{id}"),
    "agency.open_deal": ("Открыть сделку", "Open a deal"),
    "agency.no_deal_yet": ("Сделки по обращению ещё нет", "No deal for this inquiry yet"),
    "agency.stage": ("Этап", "Stage"),
    "agency.set_stage": ("Перевести на этап", "Move to stage"),
    "agency.positive": ("положительный результат", "positive result"),
    "agency.status": ("Статус", "Status"),
    "agency.deal_status.open": ("в работе", "open"),
    "agency.deal_status.won": ("успешна", "won"),
    "agency.deal_status.lost": ("закрыта без результата", "lost"),
    "agency.steps": ("Шаги сделки", "Deal steps"),
    "agency.no_steps": ("Шагов пока нет", "No steps yet"),
    "agency.new_step": ("Записать шаг", "Record a step"),
    "agency.kind": ("Что", "What"),
    "agency.kind.viewing": ("Просмотр", "Viewing"),
    "agency.kind.contract": ("Договор", "Contract"),
    "agency.kind.action": ("Действие", "Action"),
    "agency.kind.stage": ("Этап", "Stage"),
    "agency.when": ("Когда", "When"),
    "agency.planned": ("Запланировать (задача агенту)", "Plan it (a task for the agent)"),
    "agency.step_status.planned": ("запланирован", "planned"),
    "agency.step_status.done": ("проведён", "done"),
    "agency.step_status.cancelled": ("отменён", "cancelled"),
    "agency.property": ("Объект", "Property"),
    "agency.property_id": ("№ объекта", "Property #"),
    "agency.result": ("Результат", "Result"),
    "agency.pick_result": ("— выберите результат —", "— pick a result —"),
    "agency.agent": ("Агент", "Agent"),
    "agency.note": ("Комментарий", "Comment"),
    "agency.close_step": ("Закрыть с результатом", "Close with a result"),
    "agency.saved": ("Сохранено", "Saved"),
    "agency.client": ("Клиент", "Client"),
    "agency.inquiry": ("Обращение", "Inquiry"),
    "agency.updated": ("Изменено", "Updated"),
    "agency.funnel": ("Воронка", "Funnel"),
    "agency.received": ("Получено обращений", "Inquiries received"),
    "agency.deals_count": ("Сделок", "Deals"),
    "agency.positive_count": ("С положительным результатом", "With a positive result"),
    "agency.stages_title": ("Этапы воронки", "Funnel stages"),
    "agency.default_list": ("Общий список (для отделов без своего)", "Default list (departments without their own)"),
    "agency.department_list": ("Отдел", "Department"),
    "agency.uses_default": ("У отдела нет своего списка: действует общий.", "The department uses the default list."),
    "agency.copy_default": ("Сделать свой список отдела (копия общего)", "Give the department its own list (a copy)"),
    "agency.add_stage": ("Добавить этап", "Add a stage"),
    "agency.name": ("Название", "Name"),
    "agency.active": ("Действует", "Active"),
    "agency.on": ("да", "yes"),
    "agency.off": ("нет", "no"),
    "agency.toggle_positive": ("Положительный: да/нет", "Positive: on/off"),
    "agency.toggle_active": ("Вкл/выкл", "On/off"),
    "agency.rename": ("Переименовать", "Rename"),
    "agency.up": ("Выше", "Up"),
    "agency.down": ("Ниже", "Down"),
    "agency.results_title": ("Справочник результатов", "Results directory"),
    "agency.applies_to": ("Для", "For"),
    "agency.applies.any": ("любого шага", "any step"),
    "agency.applies.action": ("действия", "action"),
    "agency.applies.viewing": ("просмотра", "viewing"),
    "agency.applies.contract": ("договора", "contract"),
    "agency.applies.call": ("звонка", "call"),
    "agency.add_result": ("Добавить результат", "Add a result"),
    "agency.manual_title": ("Новое обращение вручную", "Register an inquiry by hand"),
    "agency.manual_kind": ("Откуда", "Where from"),
    "agency.manual.visit": ("Визит в офис", "Walk-in visit"),
    "agency.manual.mobile_operator": ("Лид от мобильного оператора", "Mobile operator lead"),
    "agency.manual.recommendation": ("Рекомендация", "Recommendation"),
    "agency.name_client": ("Имя клиента", "Client's name"),
    "agency.phone": ("Телефон", "Phone"),
    "agency.email": ("Email", "Email"),
    "agency.text": ("Что нужно клиенту", "What the client needs"),
    "agency.source": ("Рекламный источник", "Advertising source"),
    "agency.source_hint": ("пусто — по виду обращения", "empty — by the kind"),
    "agency.recommended_by": ("Кто рекомендовал", "Recommended by"),
    "agency.register": ("Зарегистрировать", "Register"),
    "agency.registered": ("Обращение №{id} зарегистрировано", "Inquiry #{id} registered"),
    "agency.registered_existing": (
        "Клиент уже известен: обращение №{id} зарегистрировано на него", "A known client: inquiry #{id} registered"),
    "agency.duplicate": ("Эта форма уже отправлена: обращение №{id}", "This form was already sent: inquiry #{id}"),
    "agency.routed": ("Обращение передано по правилам распределения.", "The inquiry went to routing."),
    "agency.open_inquiry": ("Открыть обращение", "Open the inquiry"),
    "agency.set_source": ("Изменить источник", "Change the source"),
    "agency.current_source": ("Сейчас", "Now"),
    "agency.link_property": ("Привязать объект", "Link a property"),
    "agency.search_hint": ("адрес, № объекта или цена", "address, property # or price"),
    "agency.link": ("Привязать", "Link"),
    "agency.linked": ("Объект привязан", "Property linked"),
    "agency.nothing_found": ("Ничего не найдено", "Nothing found"),
    "agency.work_link": ("Сделка, объект, источник", "Deal, property, source"),
    "agency.nav_control": ("Контроль", "Control"),
    "agency.control_title": ("Контроль: обращения отдела", "Control: the department's inquiries"),
    "agency.control_none": ("Открытых обращений нет", "No open inquiries"),
    "agency.overdue": ("просрочено", "overdue"),
    "agency.today": ("сегодня", "today"),
    "agency.no_plan": ("нет плана", "nothing planned"),
    "agency.next_action": ("Следующее действие", "Next action"),
    "agency.last_action": ("Последнее действие", "Last action"),
    "agency.set_next": ("Назначить", "Set"),
    "agency.max_ahead": ("не дальше чем на 2 месяца", "at most 2 months ahead"),
    "timeline.planned": ("Запланировано", "Planned"),
    "history.deal_opened": ("Открыта сделка", "Deal opened"),
    "history.deal_stage": ("Этап сделки", "Deal stage"),
    "history.viewing": ("Просмотр", "Viewing"),
    "history.viewing_planned": ("Назначен просмотр", "Viewing planned"),
    "history.contract": ("Договор", "Contract"),
    "history.contract_planned": ("Назначено подписание договора", "Contract signing planned"),
    "history.action": ("Действие", "Action"),
    "history.action_planned": ("Запланировано действие", "Action planned"),
    "history.property_linked": ("Привязан объект", "Property linked"),
    "history.source": ("Источник изменён", "Source changed"),
    "timeline.deal_opened": ("Открыта сделка", "Deal opened"),
    "timeline.deal_stage": ("Этап сделки", "Deal stage"),
    "timeline.viewing": ("Просмотр", "Viewing"),
    "timeline.viewing_planned": ("Назначен просмотр", "Viewing planned"),
    "timeline.contract": ("Договор", "Contract"),
    "timeline.contract_planned": ("Назначено подписание договора", "Contract signing planned"),
    "timeline.action": ("Действие", "Action"),
    "timeline.action_planned": ("Запланировано действие", "Action planned"),
    "timeline.property_linked": ("Привязан объект", "Property linked"),
    "timeline.property_added": ("Добавлен объект", "Property added"),
    "timeline.source": ("Источник изменён", "Source changed"),
})


def render(request: web.Request, name: str, context: dict[str, Any], status: int = 200) -> web.Response:
    from web.labels import message
    from web.render import render as _render  # web.render imports web.features, which imports this module

    errors = context.get("errors")
    if isinstance(errors, dict):  # the records' English problems in the reader's language («field: …» kept whole)
        locale = request.get(LOCALE, "ru")
        context = {**context, "errors": {k: v if not isinstance(v, str) or ": " in v else message(v, locale)
                                         for k, v in errors.items()}}
    return _render(request, name, context, status)


def int_param(request: web.Request, name: str = "id") -> int:
    value = request.match_info[name]
    if not value.isdigit() or len(value) > 12:
        raise web.HTTPNotFound()
    return int(value)


async def form_of(request: web.Request) -> dict[str, str]:
    return {k: str(v) for k, v in (await request.post()).items() if k != "_csrf" and isinstance(v, str)}


def field_errors(exc: ValidationError, locale: str = "ru") -> dict[str, str]:
    """Field → its first problem, in words a person reads (web.labels translates pydantic's types)."""
    from web.labels import field_errors as translated

    return translated(exc, locale)


def local_to_aware(value: str, zone: str) -> str:
    """The browser's datetime-local field has no zone: it is the agency's local time."""
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        return value  # pydantic reports it
    return naive.replace(tzinfo=ZoneInfo(zone)).isoformat() if naive.tzinfo is None else value


def zone_of(request: web.Request) -> str:
    return viewer_zone(request)
