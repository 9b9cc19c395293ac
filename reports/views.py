"""Report pages: /reports and one page per report, with a date range and filters, a chart drawn as inline SVG
on the server, the table, and CSV/XLSX exports of the same figures.

Every role may open the reports and sees the figures in its reach (crm_core/reports/scope.py): an agent their
own, a department's manager or head the department's, a director the division's, the administrator all.
A department or agent filter beyond that reach is refused with 403.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web
from markupsafe import Markup
from sqlalchemy import select

from crm_core.access import Actor
from crm_core.models import Channel, Department, User
from crm_core.models.call_sources import DidSource
from privacy.masking import mask_rows
from privacy.wiring import mask_policy
from reports import charts, export, queries
from reports.definitions import Report
from reports.filters import ReportFilter, parse_filter
from reports.scope import user_scope
from reports.settings import ReportSettings, report_settings
from routing.calendar import ProductionCalendar, production_calendar
from web import labels
from web.features import NavItem
from web.guard import allow
from web.i18n import add_texts, translator
from web.keys import ACTOR, HUB, LOCALE, USER, sessions
from web.render import render

NAV = [NavItem("/reports", "reports.nav", order=70, group="reports")]

add_texts({
    "reports.nav": ("Отчёты", "Reports"),
    "reports.title": ("Отчёты", "Reports"),
    "reports.show": ("Показать", "Show"),
    "reports.period": ("Период", "Period"),
    "reports.date_from": ("С", "From"),
    "reports.date_to": ("По", "To"),
    "reports.department": ("Отдел", "Department"),
    "reports.agent": ("Агент", "Agent"),
    "reports.source": ("Источник", "Source"),
    "reports.any": ("Все", "All"),
    "reports.group": ("Разрез", "Group by"),
    "reports.export": ("Выгрузить", "Export"),
    "reports.truncated": ("Показаны первые {n} строк; в выгрузке — все.", "The first {n} rows are shown; the export "
                          "holds them all."),
    "reports.empty": ("За этот период данных нет", "No data for this period"),
    "reports.total": ("Итого", "Total"),
    "reports.err.date": ("Дата в формате ГГГГ-ММ-ДД", "Date as YYYY-MM-DD"),
    "reports.err.order": ("Конец периода раньше начала", "The period ends before it starts"),
    "reports.err.too_long": ("Период не длиннее трёх лет", "The period is at most three years"),
    "reports.err.id": ("Выберите из списка", "Pick one from the list"),
    "reports.err.group": ("Такого разреза нет", "No such grouping"),
    "reports.scope.agent": ("Ваши собственные показатели", "Your own figures"),
    "reports.scope.department": ("Показатели вашего отдела", "Your department's figures"),
    "reports.scope.division": ("Показатели вашего дивизиона", "Your division's figures"),
    "reports.scope.all": ("Все показатели агентства", "The whole agency's figures"),
    "reports.r.funnel": ("Воронка", "Funnel"),
    "reports.d.funnel": ("Получено → обработано → положительный результат, по отделам, агентам и источникам",
                         "Received → processed → positive result, by department, agent and source"),
    "reports.r.kpi": ("KPI агентов", "Agent KPI"),
    "reports.d.kpi": ("Показатели агентов против нормы", "Agents' figures against the norm"),
    "reports.r.heatmap": ("Звонки по часам", "Calls by hour"),
    "reports.d.heatmap": ("Входящие звонки по дням недели и часам — для графика дежурств",
                          "Inbound calls by weekday and hour, for duty schedules"),
    "reports.r.sources": ("Источники", "Sources"),
    "reports.d.sources": ("Номера (DID), UTM-метки и сайты с их конверсией", "Dialed numbers (DID), UTM and sites "
                          "with their conversion"),
    "reports.r.properties": ("Звонки по объектам", "Calls per property"),
    "reports.d.properties": ("Сколько звонили по каждому объекту", "How many calls each property drew"),
    "reports.r.missed": ("Пропущенные звонки", "Missed calls"),
    "reports.d.missed": ("Пропущенные и брошенные звонки и как быстро перезвонили",
                         "Missed and abandoned calls and how fast they were called back"),
    "reports.r.cold": ("Холодный список", "Cold list"),
    "reports.d.cold": ("Номера, которые звонили, но ещё не стали ничьими клиентами",
                       "Numbers that called and are nobody's client yet"),
    "reports.col.department": ("Отдел", "Department"),
    "reports.col.agent": ("Агент", "Agent"),
    "reports.col.source": ("Источник", "Source"),
    "reports.col.received": ("Получено", "Received"),
    "reports.col.processed": ("Обработано", "Processed"),
    "reports.col.positive": ("Положительный результат", "Positive result"),
    "reports.col.processed_share": ("Доля обработанных", "Processed share"),
    "reports.col.conversion": ("Конверсия", "Conversion"),
    "reports.col.answered": ("Отвечено звонков", "Calls answered"),
    "reports.col.talk_min": ("Разговор, мин", "Talk, min"),
    "reports.col.norm_attained": ("Выполнение нормы", "Norm attained"),
    "reports.col.qc_score": ("Оценка качества", "QC score"),
    "reports.col.weekday": ("День недели", "Weekday"),
    "reports.col.kind": ("Тип", "Kind"),
    "reports.col.ad_source": ("Рекламный источник", "Advertising source"),
    "reports.col.deals": ("Успешных сделок", "Deals won"), "reports.col.cost": ("Расход, ₽", "Cost, ₽"),
    "reports.col.cost_per_inquiry": ("Цена обращения, ₽", "Cost per inquiry, ₽"),
    "reports.col.cost_per_deal": ("Цена сделки, ₽", "Cost per deal, ₽"),
    "reports.col.property_id": ("№ объекта", "Property no."),
    "reports.col.address": ("Адрес", "Address"),
    "reports.col.district": ("Район", "District"),
    "reports.col.calls": ("Звонков", "Calls"),
    "reports.col.missed": ("Пропущено", "Missed"),
    "reports.col.last_call": ("Последний звонок", "Last call"),
    "reports.col.first_call": ("Первый звонок", "First call"),
    "reports.col.at": ("Когда", "When"),
    "reports.col.caller": ("Номер", "Number"),
    "reports.col.caller_name": ("Имя звонившего", "Caller name"),
    "reports.col.queue": ("Очередь", "Queue"),
    "reports.col.outcome": ("Итог", "Outcome"),
    "reports.col.wait_s": ("Ожидание, с", "Wait, s"),
    "reports.col.called_back_at": ("Перезвонили", "Called back at"),
    "reports.col.callback_delay": ("Через, мин", "After, min"),
    "reports.stage.received": ("Получено", "Received"),
    "reports.stage.processed": ("Обработано", "Processed"),
    "reports.stage.positive": ("Положительный результат", "Positive result"),
    "reports.kind.did": ("Номер (DID)", "Dialed number"),
    "reports.kind.utm": ("UTM-метка", "UTM"),
    "reports.kind.site": ("Сайт", "Site"),
    "reports.outcome.abandoned": ("Брошен в очереди", "Abandoned"),
    "reports.outcome.no_answer": ("Не ответили", "Not answered"),
    "reports.calls": ("звонков", "calls"),
    "reports.missed_total": ("Пропущено всего", "Missed in all"),
    "reports.abandoned": ("из них брошено в очереди", "abandoned in the queue"),
    "reports.called_back": ("Перезвонили", "Called back"),
    "reports.avg_delay": ("В среднем через", "On average after"),
    "reports.avg_wait": ("Среднее ожидание до сброса", "Average wait before hanging up"),
    "reports.bucket": ("Через сколько минут перезвонили", "Called back within, minutes"),
    "reports.bucket.later": ("позже", "later"),
    "reports.bucket.never": ("не перезвонили", "never"),
    "reports.norm": ("Норма на период", "Norm for the period"),
    "reports.norm_line": ("{answered} отвеченных звонков, {talk} мин разговора ({days} раб. дн.), "
                          "{processed}% обработано, конверсия {conversion}%",
                          "{answered} answered calls, {talk} min of talk ({days} working days), "
                          "{processed}% processed, {conversion}% conversion"),
    "reports.peak": ("Пик", "Peak"),
    "reports.total_calls": ("Всего входящих", "Inbound in all"),
    "reports.numbers": ("Номеров", "Numbers"),
    "reports.wd.0": ("Пн", "Mon"), "reports.wd.1": ("Вт", "Tue"), "reports.wd.2": ("Ср", "Wed"),
    "reports.wd.3": ("Чт", "Thu"), "reports.wd.4": ("Пт", "Fri"), "reports.wd.5": ("Сб", "Sat"),
    "reports.wd.6": ("Вс", "Sun"),
    "reports.group.department": ("по отделам", "by department"),
    "reports.group.agent": ("по агентам", "by agent"),
    "reports.group.source": ("по источникам", "by source"),
    "reports.no_agent": ("без агента", "no agent"),
})

LIST_REPORTS = ("properties", "missed", "cold")


def _zone(request: web.Request) -> ZoneInfo:
    return ZoneInfo(request.app[HUB].settings.time_zone)


def _filter(request: web.Request, zone: ZoneInfo) -> tuple[ReportFilter, dict[str, str]]:
    """The query's filters, with the agency's production calendar (the official files when configured)."""
    f, errors = parse_filter(request.query, zone)
    return replace(f, calendar=_calendar(request.app[HUB].settings.routing.hours.production_calendar_dir)), errors


@cache
def _calendar(xml_dir: Path | None) -> ProductionCalendar:
    return production_calendar(xml_dir)


def _settings(request: web.Request) -> ReportSettings:
    return report_settings(request.app[HUB].settings)


def _scope_key(actor: Actor) -> str:
    if actor.is_admin:
        return "reports.scope.all"
    if actor.role == "director":
        return "reports.scope.division"
    return "reports.scope.department" if actor.manages_department else "reports.scope.agent"


def _name(request: web.Request) -> str:
    name = request.match_info["name"]
    if name not in queries.REPORTS:
        raise web.HTTPNotFound()
    return name


def _group(request: web.Request, errors: dict[str, str]) -> str:
    group = request.query.get("group", "department")
    if group not in queries.FUNNEL_GROUPS:
        errors["group"] = "reports.err.group"
        return "department"
    return group


def _headers(report: Report, t) -> list[str]:  # noqa: ANN001
    out = []
    for c in report.columns:
        if c.key.startswith("h") and c.key[1:].isdigit():
            out.append(c.key[1:])
        else:
            out.append(t("reports.col." + c.key))
    return out


def _display_rows(report: Report, t, queue=str) -> list[tuple]:  # noqa: ANN001
    """Values a person reads: weekday names, outcome and source kinds in words, an agentless row named."""
    rows = []
    for row in report.rows:
        out = []
        for value, col in zip(row, report.columns, strict=False):
            if col.key == "weekday":
                value = t(f"reports.wd.{value}")
            elif col.key == "outcome" and value:
                value = t(f"reports.outcome.{value}")
            elif col.key == "kind" and value in ("did", "utm", "site"):
                value = t(f"reports.kind.{value}")
            elif col.key in ("kind", "source", "channel") and value in CHANNEL_CODES:
                value = t(f"channel.{value}")  # a channel code where no source was given
            elif col.key == "queue" and value:
                value = queue(value)
            elif col.key == "agent" and value is None:
                value = t("reports.no_agent")
            elif col.key == "callback_delay" and value is not None:
                value = round(float(value) / 60, 1)
            out.append(value)
        rows.append(tuple(out))
    return rows


CHANNEL_CODES = frozenset(c.value for c in Channel)


def _queues(request: web.Request):  # noqa: ANN202
    """A PBX queue by its display name (settings ``[asterisk] queue_names``, else web.labels' guess)."""
    locale, names = request.get(LOCALE, "ru"), request.app[HUB].settings.asterisk.queue_names
    return lambda name: labels.queue(name, locale, names)


def _word(value: object, t) -> object:  # noqa: ANN001
    return t(f"channel.{value}") if value in CHANNEL_CODES else value


def _fmt(value: object, kind: str, zone: ZoneInfo) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        return value.astimezone(zone).strftime("%d.%m.%Y %H:%M")
    if kind == "pct":
        return f"{100 * float(value):.1f} %".replace(".", ",")
    if kind == "num":
        return f"{float(value):.1f}".replace(".", ",")
    if kind == "rub":  # roubles: 30 000,00
        return f"{float(str(value)):,.2f}".replace(",", "\u00a0").replace(".", ",")
    if kind == "sec":
        v = float(value)
        return f"{v:.0f}" if v.is_integer() else f"{v:.1f}".replace(".", ",")
    return str(value)


def _chart(name: str, report: Report, t, group: str) -> Markup:  # noqa: ANN001
    title = t(f"reports.r.{name}")
    if name == "funnel":
        stages = charts.bar_chart([(t(f"reports.stage.{k}"), v, 0) for k, v in report.chart["stages"]],
                                  title=title, first=t("reports.col.received"), css="funnel", legend=False)
        label = (lambda x: t("reports.no_agent") if x is None else x) if group == "agent" else \
            (lambda x: _word(x, t))
        bars = charts.bar_chart([(label(a), b, c) for a, b, c in report.chart["bars"]],
                                title=f"{title} {t('reports.group.' + group)}", first=t("reports.col.received"),
                                second=t("reports.col.positive"))
        return stages + bars
    if name == "kpi":
        return charts.bar_chart([(a, 100 * v, 0) for a, v in report.chart["bars"]], title=title,
                                first=t("reports.col.norm_attained") + ", %")
    if name == "heatmap":
        return charts.heat_map(report.chart["grid"], rows=[t(f"reports.wd.{d}") for d in range(7)], title=title,
                               unit=t("reports.calls"))
    if name == "missed":
        labels = {"later": t("reports.bucket.later"), "never": t("reports.bucket.never")}
        return charts.bar_chart([(labels.get(k, k), v, 0) for k, v, _ in report.chart["bars"]],
                                title=t("reports.bucket"), first=t("reports.col.calls"))
    if name == "sources":
        return charts.bar_chart([(_word(a, t), b, c) for a, b, c in report.chart["bars"]], title=title,
                                first=t("reports.col.received"), second=t("reports.col.positive"))
    if name == "properties":
        return charts.bar_chart(report.chart["bars"], title=title, first=t("reports.col.calls"),
                                second=t("reports.col.answered"))
    return Markup("")


async def _choices(request: web.Request, actor: Actor) -> tuple[list, list]:
    async with sessions(request)() as s:
        people = (await s.execute(select(User.id, User.full_name, User.department_id)
                                  .where(user_scope(actor), User.role == "agent").order_by(User.full_name))).all()
        if actor.is_admin:
            depts = select(Department.id, Department.name)
        elif actor.role == "director":
            depts = select(Department.id, Department.name).where(Department.division_id == actor.division_id)
        else:
            depts = select(Department.id, Department.name).where(Department.id == actor.department_id)
        departments = (await s.execute(depts.order_by(Department.name))).all()
    return departments, people


async def _report(request: web.Request, name: str, f: ReportFilter, group: str, limit: int) -> Report:
    hub = request.app[HUB]
    async with sessions(request)() as s:
        dids = dict(hub.settings.dids)  # the «Источники звонков» table over the settings section it started from
        dids.update((await s.execute(select(DidSource.did, DidSource.source))).tuples().all())
        report = await queries.run(name, s, request[ACTOR], f, _settings(request), group=group,
                                   dids=dids, limit=limit)
    user = request[USER]
    if user is not None and mask_policy(hub).masks(user.role, user.department_id):  # hidden numbers (privacy/)
        report.rows = mask_rows([c.key for c in report.columns], report.rows)
    return report


@allow()
async def index_page(request: web.Request) -> web.StreamResponse:
    f, errors = _filter(request, _zone(request))
    t = translator(request.get(LOCALE, "ru"))
    funnel = None
    if not errors:
        funnel = await _report(request, "funnel", f, "department", 50)
    chart = Markup("") if funnel is None else _chart("funnel", funnel, t, "department")
    return render(request, "reports_index.html", {
        "reports": queries.REPORTS, "f": f, "query": f.query(), "errors": errors, "chart": chart,
        "scope_key": _scope_key(request[ACTOR])}, status=422 if errors else 200)


@allow()
async def report_page(request: web.Request) -> web.StreamResponse:
    name = _name(request)
    zone = _zone(request)
    f, errors = _filter(request, zone)
    group = _group(request, errors)
    actor = request[ACTOR]
    departments, people = await _choices(request, actor)
    t = translator(request.get(LOCALE, "ru"))
    ctx: dict = {"name": name, "f": f, "errors": errors, "group": group, "groups": queries.FUNNEL_GROUPS,
                 "departments": departments, "people": people, "scope_key": _scope_key(actor),
                 "form": {k: request.query.get(k, "")[:200] for k in ("date_from", "date_to", "department",
                                                                       "agent", "source")},
                 "report": None, "chart": Markup(""), "headers": [], "rows": [], "totals": None, "kinds": [],
                 "export_query": ""}
    if not errors:
        report = await _report(request, name, f, group, _settings(request).page_rows)
        kinds = [c.kind for c in report.columns]
        ctx.update(
            report=report, chart=_chart(name, report, t, group), headers=_headers(report, t), kinds=kinds,
            rows=[[_fmt(v, k, zone) for v, k in zip(r, kinds, strict=False)]
                  for r in _display_rows(report, t, _queues(request))],
            totals=None if report.totals is None else ["" if v == "" else _fmt(v, k, zone) for v, k in
                                                        zip(report.totals, kinds, strict=False)],
            export_query=request.query_string)
    return render(request, "reports_report.html", ctx, status=422 if errors else 200)


@allow()
async def export_file(request: web.Request) -> web.StreamResponse:
    name, fmt = _name(request), request.match_info["fmt"]
    zone = _zone(request)
    f, errors = _filter(request, zone)
    group = _group(request, errors)
    t = translator(request.get(LOCALE, "ru"))
    if errors:
        raise web.HTTPUnprocessableEntity(text="; ".join(f"{k}: {t(v)}" for k, v in errors.items()))
    report = await _report(request, name, f, group, _settings(request).export_rows)
    headers, rows = _headers(report, t), _display_rows(report, t, _queues(request))
    if report.totals is not None:
        rows.append((t("reports.total"), *report.totals[1:]))
    stem = f"report-{name}-{f.first_day.isoformat()}_{f.last_day.isoformat()}"
    if fmt == "csv":
        body = await asyncio.to_thread(export.to_csv, report, headers, zone, rows)
        ctype = "text/csv"
    else:
        body = await asyncio.to_thread(export.to_xlsx, report, headers, zone, t(f"reports.r.{name}"), rows)
        ctype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return web.Response(body=body, headers={
        "Content-Type": ctype + ("; charset=utf-8" if fmt == "csv" else ""),
        "Content-Disposition": f'attachment; filename="{stem}.{fmt}"', "Cache-Control": "private, no-store"})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/reports", index_page)
    router.add_get("/reports/{name:[a-z]+}.{fmt:(csv|xlsx)}", export_file)
    router.add_get("/reports/{name:[a-z]+}", report_page)
