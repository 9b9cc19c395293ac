"""«Журнал настроек»: the administrator reads every change of the agency's setup (who, when, before and after),
filtered by kind, by who made it and by period, page by page. The routing rules' published versions are listed
with the rest and link to their own page (crm_core.settings_audit)."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select

from crm_core import settings_audit
from crm_core.models import Role, User
from web.features import NavItem
from web.guard import allow
from web.i18n import add_texts
from web.keys import HUB, sessions
from web.render import render

NAV = [NavItem("/admin/settings-log", "setlog.nav", roles=frozenset({Role.ADMIN}), order=90, group="settings")]
PER_PAGE = 50

add_texts({
    "setlog.nav": ("Журнал настроек", "Settings log"),
    "setlog.title": ("Журнал настроек", "Settings log"),
    "setlog.kind": ("Что", "What"),
    "setlog.any_kind": ("Все настройки", "All settings"),
    "setlog.who": ("Кто", "Who"),
    "setlog.anyone": ("Все", "Everyone"),
    "setlog.from": ("С даты", "From"),
    "setlog.to": ("По дату", "To"),
    "setlog.show": ("Показать", "Show"),
    "setlog.when": ("Когда", "When"),
    "setlog.item": ("Запись", "Item"),
    "setlog.before": ("Было", "Before"),
    "setlog.after": ("Стало", "After"),
    "setlog.created": ("создано", "created"),
    "setlog.deleted": ("удалено", "deleted"),
    "setlog.none": ("Изменений за этот период нет", "No changes in this period"),
    "setlog.system": ("система", "the system"),
    "setlog.versions": ("версии правил", "rule versions"),
    "setlog.bad_date": ("Дата в формате ГГГГ-ММ-ДД", "Date as YYYY-MM-DD"),
    "setlog.page": ("Страница {n} из {of}", "Page {n} of {of}"),
    "setlog.prev": ("← Новее", "← Newer"),
    "setlog.next": ("Старее →", "Older →"),
    "setlog.total": ("Всего изменений: {n}", "Changes: {n}"),
    "setlog.kind.routing": ("Правила распределения", "Routing rules"),
    "setlog.kind.script": ("Скрипты разговора", "Call scripts"),
    "setlog.kind.checklist": ("Чек-листы контроля качества", "QC checklists"),
    "setlog.kind.word_list": ("Списки слов речевой аналитики", "Speech word lists"),
    "setlog.kind.source": ("Рекламные источники", "Advertising sources"),
    "setlog.kind.queue": ("Названия очередей", "Queue names"),
    "setlog.kind.user": ("Пользователи", "Users"),
    "setlog.kind.role": ("Роли", "Roles"),
    "setlog.kind.department": ("Отделы", "Departments"),
})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/admin/settings-log", settings_log_page)


def _day(value: str, zone: ZoneInfo, *, end: bool = False) -> datetime | None:
    if not value:
        return None
    day = datetime.strptime(value, "%Y-%m-%d").date()  # ValueError → the field's message
    return datetime.combine(day + timedelta(days=1) if end else day, time(), zone)


def pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)


@allow(Role.ADMIN)
async def settings_log_page(request: web.Request) -> web.StreamResponse:
    zone = ZoneInfo(request.app[HUB].settings.time_zone)
    form = {k: request.query.get(k, "").strip()[:40] for k in ("kind", "who", "from", "to")}
    kind = form["kind"] if form["kind"] in settings_audit.KINDS else ""
    who = int(form["who"]) if form["who"].isdigit() else None
    page_no = max(1, min(10_000, int(request.query["page"]) if request.query.get("page", "").isdigit() else 1))
    errors: dict[str, str] = {}
    period: dict[str, datetime | None] = {}
    for key in ("from", "to"):
        try:
            period[key] = _day(form[key], zone, end=key == "to")
        except ValueError:
            errors[key], period[key] = "setlog.bad_date", None
    async with sessions(request)() as s:
        found = await settings_audit.page(s, kind=kind or None, actor_id=who, start=period["from"],
                                          end=period["to"], page_no=page_no, per_page=PER_PAGE)
        people = (await s.execute(select(User.id, User.full_name)
                                  .where(User.role.in_([Role.ADMIN, Role.DEPT_HEAD, Role.DIRECTOR]))
                                  .order_by(User.full_name))).all()
    query = {k: v for k, v in form.items() if v}

    def page_link(n: int) -> str:
        return "/admin/settings-log?" + urlencode({**query, "page": n})

    return render(request, "settings_log.html", {
        "found": found, "form": form, "kinds": settings_audit.KINDS, "people": people, "errors": errors,
        "pretty": pretty, "page_link": page_link}, status=422 if errors else 200)
