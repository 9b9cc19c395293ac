"""A client's personal data page (from the client card): consents, the export with its progress, erasure.

Consents may be recorded by anyone who can read the client (an agent's note of what the client said);
export and erasure only by an administrator or the data-protection officer.
"""

from __future__ import annotations

import json
import logging

from aiohttp import web

from crm_core import audit
from crm_core.access import Forbidden, can_handle_personal_data, get_client
from crm_core.models.privacy import Erasure
from privacy import queries
from privacy.consent import PURPOSES
from privacy.erasure import AlreadyErased, delete_files, erase_client
from privacy.wiring import service_of
from web.guard import allow
from web.i18n import add_texts, translator
from web.keys import ACTOR, HUB, LOCALE, sessions
from web.render import render

log = logging.getLogger("hub.web.privacy")

add_texts({
    "privacy.client.link": ("Согласия и персональные данные", "Consents and personal data"),
    "privacy.client.title": ("Персональные данные клиента", "Client's personal data"),
    "privacy.consent.title": ("Согласия", "Consents"),
    "privacy.consent.processing": ("на обработку персональных данных", "to processing of personal data"),
    "privacy.consent.recording": ("на запись разговоров", "to call recording"),
    "privacy.consent.marketing": ("на рекламные сообщения и поздравления", "to marketing and greetings"),
    "privacy.consent.yes": ("есть", "given"),
    "privacy.consent.no": ("отозвано", "withdrawn"),
    "privacy.consent.none": ("нет сведений", "not recorded"),
    "privacy.consent.record": ("Записать со слов клиента", "Record what the client said"),
    "privacy.consent.note": ("Как получено (звонок, встреча…)", "How it was given (call, meeting…)"),
    "privacy.consent.saved": ("Согласия записаны", "Consents recorded"),
    "privacy.consent.history": ("История", "History"),
    "privacy.source.webform": ("форма на сайте", "web form"),
    "privacy.source.bot": ("кнопка в боте", "bot's button"),
    "privacy.source.agent": ("со слов клиента", "agent's note"),
    "privacy.source.import": ("импорт", "import"),
    "privacy.source.api": ("API", "API"),
    "privacy.export.title": ("Выгрузка данных клиента", "Client's data export"),
    "privacy.export.help": ("ZIP: карточка, контакты, обращения, сообщения, звонки с записями и расшифровками, "
                            "задачи, сделки, согласия и журнал доступа.",
                            "ZIP: card, contacts, inquiries, messages, calls with recordings and transcripts, "
                            "tasks, deals, consents and the access log."),
    "privacy.export.start": ("Собрать архив", "Build the archive"),
    "privacy.export.running": ("Собирается архив: {percent}%", "Building the archive: {percent}%"),
    "privacy.export.ready": ("Архив готов — скачать", "The archive is ready — download"),
    "privacy.export.failed": ("Не удалось собрать архив", "The archive could not be built"),
    "privacy.erase.title": ("Удаление по запросу клиента", "Erasure on the client's request"),
    "privacy.erase.help": ("Имя, контакты, тексты, записи и расшифровки удаляются; обращения, звонки и сделки "
                           "остаются обезличенными, поэтому цифры отчётов не меняются. Отменить нельзя.",
                           "Name, contacts, texts, recordings and transcripts are removed; inquiries, calls and "
                           "deals stay anonymised, so the reports' figures do not change. It cannot be undone."),
    "privacy.erase.reason": ("Основание (запрос клиента, дата, номер)", "Reason (the client's request, date, no.)"),
    "privacy.erase.confirm": ("Удалить данные клиента", "Erase the client's data"),
    "privacy.erase.done": ("Данные клиента удалены", "The client's data was erased"),
    "privacy.erase.already": ("Данные этого клиента уже удалены", "This client's data was erased already"),
    "privacy.erase.need_reason": ("Укажите основание", "Give the reason"),
})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(r"/clients/{id:\d+}/privacy", client_privacy_page)
    router.add_post(r"/clients/{id:\d+}/consent", save_consent)
    router.add_post(r"/clients/{id:\d+}/privacy/export", start_export)
    router.add_post(r"/clients/{id:\d+}/privacy/erase", erase)
    router.add_get(r"/privacy/exports/{token:[A-Za-z0-9_-]{16,40}}", export_status)
    router.add_get(r"/privacy/exports/{token:[A-Za-z0-9_-]{16,40}}.zip", export_file)


def _json(data: dict, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


@allow()
async def client_privacy_page(request: web.Request) -> web.StreamResponse:
    client_id, actor = int(request.match_info["id"]), request[ACTOR]
    async with sessions(request)() as s:
        client = await get_client(s, actor, client_id)
        state = await queries.consents_of(s, client_id)
        history = await queries.consent_history(s, client_id)
        erased = (await s.execute(Erasure.__table__.select().where(Erasure.client_id == client_id))).first()
    return render(request, "privacy_client.html", {
        "client": client, "state": state, "history": history, "purposes": PURPOSES, "erased": erased,
        "may": can_handle_personal_data(actor), "notice": request.query.get("notice", "")})


@allow()
async def save_consent(request: web.Request) -> web.StreamResponse:
    client_id, actor = int(request.match_info["id"]), request[ACTOR]
    form = await request.post()
    given = {p: form.get(p) == "yes" for p in PURPOSES if form.get(p) in ("yes", "no")}
    note = str(form.get("note") or "").strip()[:500] or None
    async with sessions(request)() as s, s.begin():
        await get_client(s, actor, client_id)
        n = await queries.record_consents(s, client_id, given, source="agent", source_ref=f"user:{actor.user_id}",
                                          actor_id=actor.user_id, note=note)
    log.info("consents of client %s recorded by user=%s changes=%d", client_id, actor.user_id, n)
    raise web.HTTPSeeOther(f"/clients/{client_id}/privacy?notice=consent")


def _personal_data_officer(request: web.Request) -> None:
    if not can_handle_personal_data(request[ACTOR]):
        raise Forbidden("personal data")


@allow()
async def start_export(request: web.Request) -> web.StreamResponse:
    _personal_data_officer(request)
    client_id, actor = int(request.match_info["id"]), request[ACTOR]
    async with sessions(request)() as s:
        await get_client(s, actor, client_id)
    service = service_of(request.app[HUB])
    if service is None:
        raise web.HTTPServiceUnavailable(text="privacy is off")
    job = service.start_export(client_id, actor.user_id)
    if "application/json" in request.headers.get("Accept", ""):
        return _json({"token": job.token, "status": f"/privacy/exports/{job.token}"})
    raise web.HTTPSeeOther(f"/clients/{client_id}/privacy?export={job.token}")


def _job(request: web.Request):  # noqa: ANN202
    service = service_of(request.app[HUB])
    job = service.exports.get(request.match_info["token"]) if service is not None else None
    if job is None or not (job.actor_id == request[ACTOR].user_id or request[ACTOR].is_admin):
        raise web.HTTPNotFound()
    return job


@allow()
async def export_status(request: web.Request) -> web.StreamResponse:
    _personal_data_officer(request)
    job = _job(request)
    t = translator(request.get(LOCALE, "ru"))
    text = {"ready": t("privacy.export.ready"), "failed": t("privacy.export.failed")}.get(
        job.state, t("privacy.export.running", percent=job.percent))
    return _json({"state": job.state, "percent": job.percent, "text": text,
                  "url": f"/privacy/exports/{job.token}.zip" if job.state == "ready" else None})


@allow()
async def export_file(request: web.Request) -> web.StreamResponse:
    _personal_data_officer(request)
    job = _job(request)
    if job.state != "ready" or job.path is None or not job.path.is_file():
        raise web.HTTPNotFound()
    service = service_of(request.app[HUB])
    if service is not None:
        service.access.note(request[ACTOR].user_id, "client_export", client_id=job.client_id,
                            ref=f"download:{job.path.name}")
    return web.FileResponse(job.path, headers={
        "Content-Type": "application/zip", "Cache-Control": "private, no-store",
        "Content-Disposition": f'attachment; filename="{job.path.name}"'})


@allow()
async def erase(request: web.Request) -> web.StreamResponse:
    _personal_data_officer(request)
    client_id, actor = int(request.match_info["id"]), request[ACTOR]
    form = await request.post()
    reason = str(form.get("reason") or "").strip()
    if not reason:
        raise web.HTTPSeeOther(f"/clients/{client_id}/privacy?notice=need_reason")
    service = service_of(request.app[HUB])
    from privacy.files import FileRoots

    try:
        async with sessions(request)() as s:
            async with s.begin():
                await get_client(s, actor, client_id)
                result = await erase_client(s, FileRoots.of(request.app[HUB]), client_id, actor_id=actor.user_id,
                                            reason=reason)
                await audit.record(s, actor.user_id, "privacy.erase", f"client:{client_id}",
                                   {"erasure": result.erasure_id, **result.counts})
            await delete_files(s)
    except AlreadyErased:
        raise web.HTTPSeeOther(f"/clients/{client_id}/privacy?notice=already") from None
    if service is not None:
        service.access.note(actor.user_id, "erasure", client_id=client_id, ref=f"erasure:{result.erasure_id}")
    raise web.HTTPSeeOther(f"/clients/{client_id}/privacy?notice=erased")
