"""The header's search box: an inquiry number ("123", "№123") opens that inquiry when the reader may see it;
anything else (a name, a phone in any form, an e-mail) is looked up among the clients. Also the menus' titles."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import select

from crm_core.access import inquiry_scope
from crm_core.models import Inquiry
from web.guard import allow
from web.i18n import add_texts
from web.keys import ACTOR, sessions

INQUIRY_NUMBER = re.compile(r"^\s*(?:№|N|#|No\.?)?\s*(\d{1,9})\s*$", re.IGNORECASE)

add_texts({
    "nav.group.work": ("Работа", "Work"),
    "nav.group.clients": ("Клиенты и объекты", "Clients & properties"),
    "nav.group.calls": ("Звонки", "Calls"),
    "nav.group.team": ("Команда", "Team"),
    "nav.group.reports": ("Отчёты", "Reports"),
    "nav.group.settings": ("Настройки", "Settings"),
    "nav.menu": ("Разделы", "Sections"),
    "search.label": ("Поиск: клиент, телефон, № обращения", "Search: client, phone, inquiry number"),
    "search.placeholder": ("Клиент, телефон, № обращения", "Client, phone, inquiry no."),
    "search.go": ("Найти", "Search"),
})


@allow()
async def search(request: web.Request) -> web.StreamResponse:
    q = request.query.get("q", "").strip()[:200]
    number = INQUIRY_NUMBER.match(q)
    if number:
        inquiry_id = int(number.group(1))
        async with sessions(request)() as s:
            found = (await s.execute(select(Inquiry.id).where(Inquiry.id == inquiry_id,
                                                              inquiry_scope(request[ACTOR])))).scalar()
        if found is not None:
            raise web.HTTPSeeOther(f"/inquiries/{found}")
    raise web.HTTPSeeOther("/clients?" + urlencode({"q": q}) if q else "/clients")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/search", search)
