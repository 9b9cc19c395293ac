"""The administrator's page of API tokens (/admin/api-tokens): make one for an integration (name, the user it
acts as, scopes per resource, optional address allow-list, expiry, rate), shown once; revoke; last use."""

from __future__ import annotations

import logging
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError, field_validator

from api import queries, tokens
from crm_core import queries as core_queries
from crm_core.models import Role
from web import labels
from web.features import NavItem
from web.guard import allow
from web.i18n import add_texts
from web.keys import ACTOR, HUB, LOCALE, sessions
from web.render import render

log = logging.getLogger("hub.api")
NAV = [NavItem("/admin/api-tokens", "api.tokens.nav", roles=frozenset({Role.ADMIN}), order=64, group="settings")]

add_texts({
    "api.tokens.nav": ("Интеграции", "Integrations"),
    "api.tokens.title": ("Ключи API для интеграций", "API tokens for integrations"),
    "api.tokens.intro": ("Ключ даёт внешней системе (сайт, 1С, amoCRM) доступ к API от имени выбранного "
                         "сотрудника — в пределах его прав и отмеченных разделов.",
                         "A token lets an outside system (a site, 1C, amoCRM) use the API as the chosen person, "
                         "within their rights and the ticked scopes."),
    "api.tokens.reference": ("Справочник API", "API reference"),
    "api.tokens.name": ("Название", "Name"),
    "api.tokens.user": ("Действует от имени", "Acts as"),
    "api.tokens.scopes": ("Разделы", "Scopes"),
    "api.tokens.read": ("чтение", "read"),
    "api.tokens.write": ("изменение", "write"),
    "api.tokens.ips": ("Разрешённые адреса (по одному в строке, можно сеть 10.0.0.0/24; пусто — любые)",
                       "Allowed addresses (one a line, networks like 10.0.0.0/24; empty: any)"),
    "api.tokens.expires": ("Действует до (пусто — бессрочно)", "Valid until (empty: no end)"),
    "api.tokens.rate": ("Запросов в минуту", "Requests a minute"),
    "api.tokens.create": ("Выпустить ключ", "Issue the token"),
    "api.tokens.shown_once": ("Скопируйте ключ сейчас: он показывается один раз и нигде не хранится.",
                              "Copy the token now: it is shown once and not stored anywhere."),
    "api.tokens.created_at": ("Выпущен", "Issued"),
    "api.tokens.last_used": ("Последнее обращение", "Last used"),
    "api.tokens.never": ("не использовался", "never"),
    "api.tokens.state": ("Состояние", "State"),
    "api.tokens.active": ("действует", "active"),
    "api.tokens.revoked": ("отозван", "revoked"),
    "api.tokens.expired": ("истёк", "expired"),
    "api.tokens.revoke": ("Отозвать", "Revoke"),
    "api.tokens.revoked_notice": ("Ключ отозван", "The token is revoked"),
    "api.tokens.none": ("Ключей ещё нет", "No tokens yet"),
    "api.scope.clients": ("Клиенты", "Clients"),
    "api.scope.inquiries": ("Обращения", "Inquiries"),
    "api.scope.calls": ("Звонки", "Calls"),
    "api.scope.tasks": ("Задачи", "Tasks"),
    "api.scope.deals": ("Сделки", "Deals"),
    "api.scope.properties": ("Объекты", "Properties"),
    "api.scope.reports": ("Отчёты", "Reports"),
    "api.scope.users": ("Сотрудники", "Staff"),
    "api.scope.departments": ("Отделы", "Departments"),
})


class NewToken(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    user_id: int = Field(ge=1, le=2**31 - 1)
    allowed_ips: list[str] = Field(default_factory=list)
    expires_on: date | None = None
    rate_per_minute: int = Field(default=120, ge=1, le=10000)

    @field_validator("allowed_ips", mode="before")
    @classmethod
    def _networks(cls, v: object) -> object:
        try:
            return tokens.parse_networks(v) if isinstance(v, str) else v
        except ValueError:
            raise ValueError("не адрес или сеть / not an address or a network") from None

    @field_validator("expires_on", mode="before")
    @classmethod
    def _blank(cls, v: object) -> object:
        return None if v == "" else v


async def _page(request: web.Request, *, form: dict | None = None, errors: dict | None = None,
                new: str | None = None, status: int = 200) -> web.Response:
    async with sessions(request)() as s:
        rows = await queries.list_tokens(s)
        users = [u for u in await core_queries.users(s) if u.is_active]
    return render(request, "api_tokens.html", {
        "rows": rows, "users": users, "resources": tokens.RESOURCES, "form": form or {}, "errors": errors or {},
        "new_token": new, "notice": request.query.get("notice"), "now": datetime.now(ZoneInfo("UTC")),
        "tz": ZoneInfo(request.app[HUB].settings.time_zone)}, status=status)


@allow(Role.ADMIN)
async def tokens_page(request: web.Request) -> web.StreamResponse:
    return await _page(request)


@allow(Role.ADMIN)
async def tokens_create(request: web.Request) -> web.StreamResponse:
    post = await request.post()
    form = {k: str(v) for k, v in post.items() if k not in ("_csrf", "scope")}
    scopes = [str(v) for v in post.getall("scope", [])]
    try:
        data = NewToken.model_validate({**form, "user_id": form.get("user_id") or 0})
    except ValidationError as exc:
        return await _page(request, form={**form, "scopes": scopes},
                           errors=labels.field_errors(exc, request[LOCALE]), status=422)
    zone = ZoneInfo(request.app[HUB].settings.time_zone)
    expires = datetime.combine(data.expires_on, time(23, 59, 59), zone) if data.expires_on else None
    async with sessions(request)() as s, s.begin():
        made = await queries.create_token(s, name=data.name, user_id=data.user_id, scopes=scopes,
                                          allowed_ips=data.allowed_ips, expires_at=expires,
                                          rate_per_minute=data.rate_per_minute, created_by=request[ACTOR].user_id)
    log.info("api token=%s made by user=%s for user=%s scopes=%s", made.row.id, request[ACTOR].user_id,
             data.user_id, ",".join(made.row.scopes))
    return await _page(request, new=made.text)


@allow(Role.ADMIN)
async def tokens_revoke(request: web.Request) -> web.StreamResponse:
    token_id = int(request.match_info["id"])
    async with sessions(request)() as s, s.begin():
        done = await queries.revoke_token(s, token_id, request[ACTOR].user_id)
    log.info("api token=%s revoked=%s by user=%s", token_id, done, request[ACTOR].user_id)
    raise web.HTTPSeeOther("/admin/api-tokens?notice=revoked")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/admin/api-tokens", tokens_page)
    router.add_post("/admin/api-tokens", tokens_create)
    router.add_post(r"/admin/api-tokens/{id:\d+}/revoke", tokens_revoke)
