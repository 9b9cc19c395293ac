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
from crm_core.settings_audit import record_setting_change
from web.features import NavItem
from web.guard import allow
from web.i18n import add_texts
from web.keys import ACTOR, sessions
from web.render import render
from workflow import checklist_form, quality
from workflow.settings import QcRule
from workflow.webutil import int_param, optional_int, service

log = logging.getLogger("hub.web.quality")
READERS = (Role.DEPT_MANAGER, Role.DEPT_HEAD, Role.DIRECTOR, Role.ADMIN)
REVIEWERS = (Role.DEPT_MANAGER, Role.DEPT_HEAD, Role.ADMIN)
NAV = [NavItem("/quality", "qc.nav", roles=frozenset(READERS), order=62, group="team")]

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
    "qc.item_text": ("Что проверить", "What to check"),
    "qc.item_weight": ("Вес", "Weight"),
    "qc.add_item": ("Добавить пункт", "Add an item"),
    "qc.remove": ("Удалить", "Remove"),
    "qc.up": ("Выше", "Up"),
    "qc.down": ("Ниже", "Down"),
    "qc.text_io": ("Импорт и экспорт текстом", "Import and export as text"),
    "qc.text_import": ("Сохранить из текста", "Save from the text"),
    "qc.err.fix": ("Чек-лист не сохранён: исправьте отмеченные поля", "Not saved: fix the marked fields"),
    "qc.err.name": ("Укажите название чек-листа", "Give the checklist a name"),
    "qc.err.text": ("Напишите, что проверить", "Write what to check"),
    "qc.err.weight": ("Вес — число больше 0 и не больше 100", "The weight is a number above 0, at most 100"),
    "qc.err.no_items": ("В чек-листе нужен хотя бы один пункт", "A checklist needs at least one item"),
    "qc.err.too_many": ("Не больше 50 пунктов", "At most 50 items"),
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


async def _editor(request: web.Request, *, edit_id: int | None, name: str, rows: list[dict],
                  errors: dict[str, str] | None = None, error: str | None = None, text: str | None = None,
                  status: int = 200) -> web.Response:
    async with sessions(request)() as s:
        checklists = await _checklists(s, active_only=False)
    filled = [{"text": r["text"], "weight": float(r["weight"])} for r in rows
              if r["text"] and r["weight"].replace(".", "", 1).isdigit()]
    return render(request, "workflow_checklists.html", {
        "checklists": checklists, "rule": service(request).qc_rule, "error": error, "errors": errors or {},
        "edit_id": edit_id, "name": name, "item_rows": rows,
        "items_text": quality.format_items(filled) if text is None else text,
        "format_items": quality.format_items}, status=status)


def _rows(items: list[dict]) -> list[dict]:
    return [{"text": i["text"], "weight": f"{float(i['weight']):g}"} for i in items]


@allow(Role.ADMIN)
async def checklists_page(request: web.Request) -> web.StreamResponse:
    edit_id = optional_int(request.query.get("edit"))
    async with sessions(request)() as s:
        editing = await s.get(QcChecklist, edit_id) if edit_id else None
    rows = _rows(editing.items) if editing else [{"text": "", "weight": "1"}]
    return await _editor(request, edit_id=editing.id if editing else None, name=editing.name if editing else "",
                         rows=rows)


@allow(Role.ADMIN)
async def save_checklist(request: web.Request) -> web.StreamResponse:
    """The row editor (``op`` posted: add, move, remove re-show the form; ``save`` stores) or the text import."""
    form = await request.post()
    checklist_id = optional_int(form.get("id"))
    name = str(form.get("name") or "").strip()[:200]
    if "op" in form:
        rows = checklist_form.rows_from_form(lambda key: [str(v) for v in form.getall(key, [])])
        op = str(form.get("op") or "save")
        if op != "save":
            return await _editor(request, edit_id=checklist_id, name=name, rows=checklist_form.apply_op(rows, op))
        items, errors = checklist_form.validate(rows)
        if not name:
            errors["name"] = "qc.err.name"
        if errors:
            return await _editor(request, edit_id=checklist_id, name=name, rows=rows, errors=errors,
                                 error="qc.err.fix", status=422)
    else:
        text = str(form.get("items") or "")
        try:
            items = quality.parse_items(text)
            if not name:
                raise quality.ChecklistError("a checklist needs a name")
        except quality.ChecklistError as exc:
            return await _editor(request, edit_id=checklist_id, name=name, rows=[], error=str(exc), text=text,
                                 status=422)
    async with sessions(request)() as s, s.begin():
        if checklist_id is None:
            checklist, before = QcChecklist(name=name, items=items), None
            s.add(checklist)
            await s.flush()
        else:
            found = await s.get(QcChecklist, checklist_id)
            if found is None:
                raise web.HTTPNotFound()
            checklist, before = found, _snapshot(found)
            checklist.name, checklist.items = name, items
        await record_setting_change(s, request[ACTOR].user_id, "checklist", f"checklist:{checklist.id}", before,
                                    _snapshot(checklist))
    raise web.HTTPSeeOther("/quality/checklists")


def _snapshot(checklist: QcChecklist) -> dict:
    """What the settings journal keeps of a checklist."""
    return {"name": checklist.name, "items": checklist.items, "active": bool(checklist.active)}


@allow(Role.ADMIN)
async def toggle_checklist(request: web.Request) -> web.StreamResponse:
    checklist_id = int_param(request.match_info["id"])
    await request.post()
    async with sessions(request)() as s, s.begin():
        checklist = await s.get(QcChecklist, checklist_id)
        if checklist is None:
            raise web.HTTPNotFound()
        before = _snapshot(checklist)
        checklist.active = not checklist.active
        await record_setting_change(s, request[ACTOR].user_id, "checklist", f"checklist:{checklist.id}", before,
                                    _snapshot(checklist))
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
        await record_setting_change(s, request[ACTOR].user_id, "checklist", "qc_rule",
                                    service(request).qc_rule.model_dump(mode="json"), rule.model_dump(mode="json"))
    service(request).set_rules(qc=rule)
    raise web.HTTPSeeOther("/quality/checklists")


@allow(Role.ADMIN)
async def sample_now(request: web.Request) -> web.StreamResponse:
    await request.post()
    added = await service(request).sample()
    raise web.HTTPSeeOther(f"/quality?sampled={added}")


