"""The access log's recording (a middleware), its search page for admins and the DPO, and the overview.

Which request is an access to a client's data is named once, in ``WATCHED`` (method and route): the client
card, the API's client, a recording played or downloaded, a transcript opened, a report exported. Only an
answer that went out (status below 400) is logged; ``AccessLog.note`` appends to memory, the writer batches.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from crm_core.access import can_handle_personal_data
from crm_core.models import Role
from privacy import queries
from privacy.access import KINDS
from privacy.wiring import jobs_of, mask_policy, service_of, settings_of
from web.features import NavItem
from web.guard import allow
from web.i18n import add_texts
from web.keys import ACTOR, HUB, JINJA, sessions
from web.render import render

NAV = [NavItem("/privacy", "privacy.nav", roles=frozenset({Role.ADMIN, Role.DPO}), order=95, group="settings")]
PD_ROLES = (Role.ADMIN, Role.DPO)

# (method, route) → (kind, which path parameter names the client / the call / the recording)
WATCHED: dict[tuple[str, str], tuple[str, str, str]] = {
    ("GET", "/clients/{id}"): ("card", "client", "id"),
    ("GET", "/api/clients/{id}"): ("api_card", "client", "id"),
    ("GET", "/api/v1/clients/{id}"): ("api_card", "client", "id"),
    ("GET", "/calls/{id}/transcript"): ("transcript", "call", "id"),
    ("GET", "/calls/{id}/recordings/{rec}"): ("recording_play", "recording", "rec"),
    ("GET", "/reports/{name}.{fmt}"): ("export", "report", "name"),
    ("GET", "/api/v1/clients/{id}/contacts"): ("api_card", "client", "id"),
    ("GET", "/api/v1/calls/{id}/transcript"): ("transcript", "call", "id"),
    ("GET", "/api/v1/calls/{id}/recordings/{rec}"): ("recording_download", "recording", "rec"),
}

add_texts({
    "privacy.nav": ("Персональные данные", "Personal data"),
    "privacy.title": ("Персональные данные", "Personal data"),
    "privacy.access.title": ("Журнал доступа к данным клиентов", "Client data access log"),
    "privacy.access.link": ("Журнал доступа", "Access log"),
    "privacy.access.client": ("Клиент №", "Client no."),
    "privacy.access.user": ("Сотрудник №", "User no."),
    "privacy.access.since": ("С", "From"),
    "privacy.access.until": ("По", "To"),
    "privacy.access.kind": ("Что", "What"),
    "privacy.access.any": ("всё", "anything"),
    "privacy.access.find": ("Найти", "Search"),
    "privacy.access.empty": ("Записей нет", "No entries"),
    "privacy.col.when": ("Когда", "When"),
    "privacy.col.who": ("Кто", "Who"),
    "privacy.col.what": ("Что", "What"),
    "privacy.col.client": ("Клиент", "Client"),
    "privacy.col.ref": ("Объект", "Object"),
    "privacy.kind.card": ("карточка клиента", "client card"),
    "privacy.kind.api_card": ("клиент через API", "client via the API"),
    "privacy.kind.recording_play": ("прослушана запись", "recording played"),
    "privacy.kind.recording_download": ("скачана запись", "recording downloaded"),
    "privacy.kind.transcript": ("открыта расшифровка", "transcript opened"),
    "privacy.kind.export": ("выгрузка отчёта", "report export"),
    "privacy.kind.client_export": ("выгрузка данных клиента", "client's data export"),
    "privacy.kind.erasure": ("удаление данных клиента", "client's data erased"),
    "privacy.runs.title": ("Сроки хранения: последние запуски", "Retention: latest runs"),
    "privacy.runs.empty": ("Запусков ещё не было", "No runs yet"),
    "privacy.runs.dry": ("проверка", "dry run"),
    "privacy.runs.rows": ("Обработано", "Processed"),
    "privacy.runs.files": ("Файлов удалено", "Files deleted"),
    "privacy.runs.now": ("Проверить сейчас (без изменений)", "Check now (no changes)"),
    "privacy.settings.title": ("Настройки", "Settings"),
    "privacy.settings.days": ("{days} дн.", "{days} days"),
    "privacy.settings.keep": ("хранить бессрочно", "kept forever"),
    "privacy.settings.masked": ("Номера скрыты для ролей", "Numbers masked for roles"),
    "privacy.settings.masked_departments": ("и для отделов №", "and for departments no."),
    "privacy.settings.none": ("никого", "nobody"),
    "privacy.retention.recordings": ("Записи звонков", "Call recordings"),
    "privacy.retention.transcripts": ("Расшифровки", "Transcripts"),
    "privacy.retention.messages": ("Сообщения и вложения", "Messages and attachments"),
    "privacy.retention.closed_inquiries": ("Закрытые обращения", "Closed inquiries"),
    "privacy.retention.web_sessions": ("Сеансы входа", "Web sessions"),
    "privacy.retention.logs": ("Журнал доступа", "Access log"),
    "privacy.erasures.title": ("Удаления по запросу", "Erasures on request"),
})


def setup_app(app: web.Application) -> None:
    """The mask policy for the templates' ``phone`` filter and the access log's middleware."""
    app[JINJA].globals["privacy_policy"] = mask_policy(app[HUB])
    if settings_of(app[HUB]).enabled:
        app.middlewares.append(access_middleware)


@web.middleware
async def access_middleware(request: web.Request, handler) -> web.StreamResponse:  # noqa: ANN001
    response = await handler(request)
    route = request.match_info.route
    resource = route.resource
    spec = WATCHED.get((request.method, resource.canonical)) if resource is not None else None
    if spec is None or response.status >= 400 or ACTOR not in request:
        return response
    service = service_of(request.app[HUB])
    if service is None:
        return response
    kind, what, param = spec
    value = request.match_info.get(param, "")
    user_id = request[ACTOR].user_id
    if what == "client" and value.isdigit():
        service.access.note(user_id, kind, client_id=int(value), ref=f"client:{value}")
    elif what == "call" and value.isdigit():
        service.access.note(user_id, kind, call_id=int(value), ref=f"call:{value}")
    elif what == "recording" and value.isdigit():
        kind = "recording_download" if "download" in request.query else kind
        service.access.note(user_id, kind, recording_id=int(value), ref=f"recording:{value}")
    elif what == "report":
        service.access.note(user_id, kind, ref=f"report:{value}.{request.match_info.get('fmt', '')}")
    return response


def _day(text: str | None, zone: ZoneInfo) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text[:10], "%Y-%m-%d").replace(tzinfo=zone)
    except ValueError:
        return None


def _id(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() and len(text) <= 10 else None


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/privacy", overview_page)
    router.add_post("/privacy/retention/check", retention_check)
    router.add_get("/privacy/access", access_page)


@allow(*PD_ROLES)
async def access_page(request: web.Request) -> web.StreamResponse:
    q = request.query
    zone = ZoneInfo(request.app[HUB].settings.time_zone)
    since, until = _day(q.get("since"), zone), _day(q.get("until"), zone)
    kind = q.get("kind") if q.get("kind") in KINDS else None
    service = service_of(request.app[HUB])
    if service is not None:
        await service.access.flush()  # what was read a moment ago is on the page
    async with sessions(request)() as s:
        rows = await queries.search_access(s, client_id=_id(q.get("client_id")), user_id=_id(q.get("user_id")),
                                           since=since, until=until + timedelta(days=1) if until else None,
                                           kind=kind, limit=500)
    return render(request, "privacy_access.html", {"rows": rows, "q": dict(q), "kinds": KINDS})


@allow(*PD_ROLES)
async def overview_page(request: web.Request) -> web.StreamResponse:
    from sqlalchemy import select

    from crm_core.models.privacy import Erasure, RetentionRun

    settings = settings_of(request.app[HUB])
    async with sessions(request)() as s:
        runs = list((await s.execute(select(RetentionRun).order_by(RetentionRun.started_at.desc()).limit(20)))
                    .scalars())
        erasures = list((await s.execute(select(Erasure).order_by(Erasure.at.desc()).limit(50))).scalars())
    return render(request, "privacy_overview.html", {"runs": runs, "erasures": erasures, "s": settings,
                                                     "may": can_handle_personal_data(request[ACTOR])})


@allow(*PD_ROLES)
async def retention_check(request: web.Request) -> web.StreamResponse:
    """What the next run would do, counted without changing anything."""
    runner = jobs_of(request.app[HUB])
    if runner is not None:
        await runner.run_retention(dry_run=True)
    raise web.HTTPSeeOther("/privacy")
