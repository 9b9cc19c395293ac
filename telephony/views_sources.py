"""«Источники звонков»: the admin's table of dialed numbers (DID) and the advertising each was printed in.

A call that opens an inquiry takes its source from here (``telephony/did_sources.py``); the table starts as a
copy of the ``[dids]`` settings section.
"""

from __future__ import annotations

import logging

from aiohttp import web

from crm_core.models import Role
from crm_core.settings_audit import record_setting_change
from telephony import views_ad_sources
from telephony.did_sources import all_sources, delete_source, did_key, save_source, seed_once, source_of
from web.features import NavItem
from web.guard import allow
from web.i18n import add_texts
from web.keys import HUB, USER, sessions
from web.render import render

log = logging.getLogger("hub.web.did_sources")

NAV = [NavItem("/admin/call-sources", "sources.nav", roles=frozenset({Role.ADMIN}), order=62, group="settings")]

add_texts({
    "sources.nav": ("Источники звонков", "Call sources"),
    "sources.title": ("Источники звонков", "Call sources"),
    "sources.hint": ("Номер, на который звонят клиенты, и реклама, где он напечатан. Новое обращение по звонку "
                     "получает этот источник.",
                     "The number clients dial and the advertising it was printed in. A call's new inquiry "
                     "takes this source."),
    "sources.did": ("Номер (DID)", "Number (DID)"),
    "sources.source": ("Источник рекламы", "Advertising source"),
    "sources.updated": ("Изменено", "Changed"),
    "sources.none": ("Номеров пока нет", "No numbers yet"),
    "sources.add": ("Добавить номер", "Add a number"),
    "sources.delete": ("Удалить", "Delete"),
    "sources.saved": ("Сохранено", "Saved"),
    "sources.deleted": ("Номер удалён", "Number deleted"),
    "sources.required": ("Нужны номер (цифры) и источник", "A number (digits) and a source are needed"),
    "history.call_joined": ("Звонок", "Call"),
    "history.merged": ("Объединено", "Merged"),
})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/admin/call-sources", sources_page)
    router.add_post("/admin/call-sources", save)
    router.add_post("/admin/call-sources/delete", remove)
    views_ad_sources.add_routes(router, _context)  # the UTM labels and the monthly costs on the same page


async def _context(request: web.Request, **extra: object) -> dict:
    await seed_once(sessions(request), request.app[HUB].settings.dids)
    async with sessions(request)() as s:
        rows = await all_sources(s)
        ads = await views_ad_sources.ad_context(s)
    return {"rows": rows, "errors": {}, "form": {}, "notice": request.query.get("notice"), "ad_errors": {},
            "ad_form": {}, **ads, **extra}


@allow(Role.ADMIN)
async def sources_page(request: web.Request) -> web.StreamResponse:
    return render(request, "telephony_sources.html", await _context(request))


@allow(Role.ADMIN)
async def save(request: web.Request) -> web.StreamResponse:
    form = {k: str(v) for k, v in (await request.post()).items() if k != "_csrf"}
    did, source = form.get("did", ""), form.get("source", "")
    if not did_key(did) or not source.strip():
        context = await _context(request, errors={"form": "sources.required"}, form=form)
        return render(request, "telephony_sources.html", context, status=422)
    admin = request[USER]
    assert admin is not None  # @allow(Role.ADMIN) let only a logged-in admin in
    async with sessions(request)() as s, s.begin():
        before = await source_of(s, did)
        row = await save_source(s, did, source, admin.id)
        key = row.did
        await record_setting_change(s, admin.id, "source", f"did:{key}", None if before is None else
                                    {"source": before}, {"source": row.source})
    log.info("did source saved did=%s by admin=%s", key, admin.id)
    raise web.HTTPSeeOther("/admin/call-sources?notice=saved")


@allow(Role.ADMIN)
async def remove(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    admin = request[USER]
    assert admin is not None  # @allow(Role.ADMIN) let only a logged-in admin in
    async with sessions(request)() as s, s.begin():
        before = await source_of(s, str(form.get("did", "")))
        if await delete_source(s, str(form.get("did", ""))):
            await record_setting_change(s, admin.id, "source", f"did:{did_key(str(form.get('did', '')))}",
                                        {"source": before}, None)
    log.info("did source deleted did=%s by admin=%s", did_key(str(form.get("did", ""))), admin.id)
    raise web.HTTPSeeOther("/admin/call-sources?notice=deleted")
