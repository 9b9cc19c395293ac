"""Quality-control pages: the supervisors' re-check queue, the review form (checklist marks, comment, re-open),
and the administrator's checklists and sampling rule.

Reach: a department's manager or head sees and reviews their people's items, a director reads the division's,
the administrator all (``crm_core.access.staff_scope`` on the reviewed agent); agents and service engineers
have no such page (403)."""

from __future__ import annotations

import logging

from aiohttp import web
from sqlalchemy import select

from crm_core.models import Role
from crm_core.models.workflow import QcChecklist
from web.features import NavItem
from web.guard import allow
from web.i18n import add_texts
from web.keys import ACTOR, sessions
from web.render import render
from workflow import quality
from workflow.settings import QcRule
from workflow.webutil import int_param, optional_int, service

log = logging.getLogger("hub.web.quality")
READERS = (Role.DEPT_MANAGER, Role.DEPT_HEAD, Role.DIRECTOR, Role.ADMIN)
REVIEWERS = (Role.DEPT_MANAGER, Role.DEPT_HEAD, Role.ADMIN)
NAV = [NavItem("/quality", "qc.nav", roles=frozenset(READERS), order=62)]

add_texts({
    "qc.nav": ("Контроль качества", "Quality control"),
    "qc.title": ("Контроль качества: на проверку", "Quality control: to re-check"),
    "qc.reviewed_title": ("Проверенные", "Reviewed"),
    "qc.none": ("Проверять нечего", "Nothing to re-check"),
    "qc.kind.inquiry": ("Обращение", "Inquiry"),
    "qc.kind.call": ("Звонок", "Call"),
    "qc.reason.sample": ("выборка", "sample"),
    "qc.reason.speech": ("речевая аналитика", "speech analytics"),
    "qc.reason.manual": ("вручную", "by hand"),
    "qc.col.what": ("Что", "What"),
    "qc.col.agent": ("Агент", "Agent"),
    "qc.col.why": ("Почему", "Why"),
    "qc.col.added": ("Добавлено", "Added"),
    "qc.col.score": ("Оценка", "Score"),
    "qc.col.reviewer": ("Проверил", "Reviewed by"),
    "qc.open": ("Проверить", "Review"),
    "qc.review_title": ("Проверка №{id}", "Review №{id}"),
    "qc.checklist": ("Чек-лист", "Checklist"),
    "qc.no_checklist": ("Администратор ещё не создал чек-лист", "No checklist has been defined yet"),
    "qc.comment": ("Комментарий", "Comment"),
    "qc.reopen": ("Вернуть обращение в работу (на распределение)", "Re-open the inquiry (back to routing)"),
    "qc.save": ("Сохранить оценку", "Save the review"),
    "qc.saved": ("Оценка сохранена: {score}%", "Review saved: {score}%"),
    "qc.reopened": ("Обращение №{id} возвращено на распределение", "Inquiry №{id} is back in routing"),
    "qc.transcript": ("Расшифровка", "Transcript"),
    "qc.client": ("Клиент", "Client"),
    "qc.status": ("Статус", "Status"),
    "qc.checklists": ("Чек-листы", "Checklists"),
    "qc.checklist_name": ("Название", "Name"),
    "qc.items": ("Пункты: «вес | текст», по одному в строке", "Items: “weight | text”, one a line"),
    "qc.new_checklist": ("Новый чек-лист", "New checklist"),
    "qc.edit": ("Изменить", "Edit"),
    "qc.toggle": ("Вкл/выкл", "On/off"),
    "qc.active": ("действует", "active"),
    "qc.inactive": ("выключен", "off"),
    "qc.rule": ("Правило выборки", "Sampling rule"),
    "qc.percent": ("Доля закрытых обращений и звонков каждого агента за неделю, %",
                   "Share of each agent's closed inquiries and calls a week, %"),
    "qc.rule_inquiries": ("обращения", "inquiries"),
    "qc.rule_calls": ("звонки", "calls"),
    "qc.rule_speech": ("звонки с отметками речевой аналитики", "calls flagged by speech analytics"),
    "qc.sample_now": ("Пополнить очередь сейчас", "Fill the queue now"),
    "qc.sampled": ("Добавлено в очередь: {n}", "Added to the queue: {n}"),
    "qc.error": ("Ошибка: {error}", "Error: {error}"),
    "timeline.qc_review": ("Контроль качества", "Quality review"),
    "timeline.inquiry_reopened": ("Обращение открыто снова", "Inquiry re-opened"),
    "history.reopened": ("Открыто снова", "Re-opened"),
    "timeline.moderation_accepted": ("Принята модератором", "Accepted by a moderator"),
    "timeline.moderation_rejected": ("Отклонена модератором", "Rejected by a moderator"),
    "history.moderation_accepted": ("Принята модератором", "Accepted by a moderator"),
    "history.moderation_rejected": ("Отклонена модератором", "Rejected by a moderator"),
})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/quality", queue_page)
    router.add_get("/quality/checklists", checklists_page)
    router.add_post("/quality/checklists", save_checklist)
    router.add_post("/quality/checklists/{id}/toggle", toggle_checklist)
    router.add_post("/quality/rule", save_rule)
    router.add_post("/quality/sample", sample_now)
    router.add_get("/quality/{id}", item_page)
    router.add_post("/quality/{id}/review", review)


@allow(*READERS)
async def queue_page(request: web.Request) -> web.StreamResponse:
    status = "reviewed" if request.query.get("status") == "reviewed" else "open"
    async with sessions(request)() as s:
        rows = await quality.queue(s, request[ACTOR], status)
    sampled = request.query.get("sampled", "")
    return render(request, "workflow_quality.html", {
        "rows": rows, "status": status, "sampled": int(sampled) if sampled.isdigit() else None,
        "can_review": quality.can_review(request[ACTOR])})


async def _checklists(s, active_only: bool = True) -> list[QcChecklist]:  # noqa: ANN001
    q = select(QcChecklist).order_by(QcChecklist.id)
    if active_only:
        q = q.where(QcChecklist.active.is_(True))
    return list((await s.execute(q)).scalars())


@allow(*READERS)
async def item_page(request: web.Request) -> web.StreamResponse:
    item_id = int_param(request.match_info["id"])
    async with sessions(request)() as s:
        item = await quality.get_item(s, request[ACTOR], item_id)
        ctx = await quality.item_context(s, item)
        checklists = await _checklists(s)
        chosen_id = optional_int(request.query.get("checklist")) or item.checklist_id
        chosen = next((c for c in checklists if c.id == chosen_id), None) or (checklists[0] if checklists else None)
        if chosen is None and item.checklist_id:
            chosen = await s.get(QcChecklist, item.checklist_id)
    return render(request, "workflow_quality_item.html", {
        "item": item, **ctx, "checklists": checklists, "checklist": chosen,
        "can_review": quality.can_review(request[ACTOR]), "saved": request.query.get("saved") == "1"})


@allow(*REVIEWERS)
async def review(request: web.Request) -> web.StreamResponse:
    item_id = int_param(request.match_info["id"])
    form = await request.post()
    checklist_id = optional_int(form.get("checklist_id"))
    if checklist_id is None:
        raise web.HTTPBadRequest(text="checklist_id is required")
    await quality.review(sessions(request), request[ACTOR], item_id, checklist_id,
                         {str(v) for v in form.getall("mark", [])}, str(form.get("comment") or ""),
                         form.get("reopen") == "1", service(request).route)
    raise web.HTTPSeeOther(f"/quality/{item_id}?saved=1")


@allow(Role.ADMIN)
async def checklists_page(request: web.Request) -> web.StreamResponse:
    edit_id = optional_int(request.query.get("edit"))
    async with sessions(request)() as s:
        checklists = await _checklists(s, active_only=False)
    editing = next((c for c in checklists if c.id == edit_id), None)
    return render(request, "workflow_checklists.html", {
        "checklists": checklists, "editing": editing, "rule": service(request).qc_rule, "error": None,
        "edit_id": None, "name": editing.name if editing else "",
        "items_text": quality.format_items(editing.items) if editing else "",
        "format_items": quality.format_items})


@allow(Role.ADMIN)
async def save_checklist(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    checklist_id = optional_int(form.get("id"))
    name, text = str(form.get("name") or "").strip()[:200], str(form.get("items") or "")
    try:
        items = quality.parse_items(text)
        if not name:
            raise quality.ChecklistError("a checklist needs a name")
    except quality.ChecklistError as exc:
        async with sessions(request)() as s:
            checklists = await _checklists(s, active_only=False)
        return render(request, "workflow_checklists.html", {
            "checklists": checklists, "editing": None, "rule": service(request).qc_rule, "error": str(exc),
            "name": name, "items_text": text, "edit_id": checklist_id, "format_items": quality.format_items},
            status=422)
    async with sessions(request)() as s, s.begin():
        if checklist_id is None:
            s.add(QcChecklist(name=name, items=items))
        else:
            checklist = await s.get(QcChecklist, checklist_id)
            if checklist is None:
                raise web.HTTPNotFound()
            checklist.name, checklist.items = name, items
    raise web.HTTPSeeOther("/quality/checklists")


@allow(Role.ADMIN)
async def toggle_checklist(request: web.Request) -> web.StreamResponse:
    checklist_id = int_param(request.match_info["id"])
    await request.post()
    async with sessions(request)() as s, s.begin():
        checklist = await s.get(QcChecklist, checklist_id)
        if checklist is None:
            raise web.HTTPNotFound()
        checklist.active = not checklist.active
    raise web.HTTPSeeOther("/quality/checklists")


@allow(Role.ADMIN)
async def save_rule(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        rule = QcRule(percent=float(str(form.get("percent") or "0").replace(",", ".")),
                      inquiries=form.get("inquiries") == "1", calls=form.get("calls") == "1",
                      speech_flags=form.get("speech_flags") == "1")
    except ValueError:
        raise web.HTTPBadRequest(text="percent must be a number from 0 to 100") from None
    async with sessions(request)() as s, s.begin():
        await quality.save_rule(s, rule)
    service(request).set_rules(qc=rule)
    raise web.HTTPSeeOther("/quality/checklists")


@allow(Role.ADMIN)
async def sample_now(request: web.Request) -> web.StreamResponse:
    await request.post()
    added = await service(request).sample()
    raise web.HTTPSeeOther(f"/quality?sampled={added}")


