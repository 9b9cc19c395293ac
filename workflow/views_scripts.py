"""Call scripts: the administrator's editor, the script for a ringing call (shown by workflow.js beside the
pop-up) or for an inquiry, and the agent's answers stored on the inquiry.

Reach: a call's script and answers only for the agent whose phone rings or who talks (the same test as «create
client» on the pop-up; remembered for the call after it ends, so the agent may finish the script); an inquiry's
only for who may change the inquiry (``crm_core.access.get_inquiry(write=True)``)."""

from __future__ import annotations

import json
import logging
from collections import OrderedDict

from aiohttp import web
from sqlalchemy import select

from crm_core.access import NotFound, get_inquiry
from crm_core.models import Call, Channel, Role, utcnow
from crm_core.models.workflow import CallScript
from crm_core.settings_audit import record_setting_change
from web.features import NavItem
from web.guard import allow
from web.i18n import add_texts
from web.keys import ACTOR, HUB, USER, sessions
from web.render import render
from workflow import script_form, scripts
from workflow.webutil import int_param, optional_int, service

log = logging.getLogger("hub.web.scripts")
AGENTS = (Role.AGENT, Role.DEPT_MANAGER, Role.DEPT_HEAD, Role.ADMIN)
NAV = [NavItem("/scripts", "scripts.nav", roles=frozenset({Role.ADMIN}), order=63, group="settings")]
SCRIPTS = ["/static/workflow/workflow.js"]
CHANNELS = [c.value for c in Channel]
REMEMBERED_CALLS = 5000

add_texts({
    "scripts.nav": ("Скрипты", "Scripts"),
    "scripts.title": ("Скрипты разговора", "Call scripts"),
    "scripts.none": ("Скриптов пока нет", "No scripts yet"),
    "scripts.new": ("Новый скрипт", "New script"),
    "scripts.name": ("Название", "Name"),
    "scripts.queues": ("Очереди АТС (через запятую)", "PBX queues (comma-separated)"),
    "scripts.channels": ("Каналы обращений", "Inquiry channels"),
    "scripts.steps": ("Шаги", "Steps"),
    "scripts.steps_hint": ("«# шаг: вопрос», затем «поля: Имя, Бюджет» и ответы «- Да -> следующий_шаг» "
                           "(без стрелки или «-> конец» — конец).",
                           "“# step: question”, then “fields: Name, Budget” and answers “- Yes -> next_step” "
                           "(no arrow or “-> end”: the end)."),
    "scripts.active": ("действует", "active"),
    "scripts.inactive": ("выключен", "off"),
    "scripts.edit": ("Изменить", "Edit"),
    "scripts.toggle": ("Вкл/выкл", "On/off"),
    "scripts.save": ("Сохранить", "Save"),
    "scripts.error": ("Скрипт не сохранён: {error}", "The script was not saved: {error}"),
    "scripts.panel": ("Скрипт", "Script"),
    "scripts.done": ("Сохранить ответы", "Save the answers"),
    "scripts.saved": ("Ответы сохранены", "Answers saved"),
    "scripts.saved_later": ("Ответы сохранены; попадут в обращение после звонка",
                            "Answers saved; they go on the inquiry when the call ends"),
    "scripts.failed": ("Не удалось сохранить ответы", "Could not save the answers"),
    "scripts.close": ("Закрыть", "Close"),
    "scripts.back": ("Назад", "Back"),
    "scripts.end": ("Скрипт пройден", "Script complete"),
    "mod.channel.vk": ("ВКонтакте", "VK"),  # channels added later than the moderation page's own labels
    "mod.channel.whatsapp": ("WhatsApp", "WhatsApp"),
    "mod.channel.avito": ("Авито", "Avito"),
    "mod.channel.sms": ("СМС", "SMS"),
    "scripts.step": ("Шаг {n}", "Step {n}"),
    "scripts.step_id": ("Код шага", "Step code"),
    "scripts.step_id_hint": ("латиницей или по-русски, без пробелов; пусто — придумаем",
                             "letters, digits, no spaces; empty: made up"),
    "scripts.question": ("Вопрос агенту", "The agent's question"),
    "scripts.fields": ("Поля для заполнения (через запятую)", "Fields to fill (comma-separated)"),
    "scripts.answers": ("Ответы клиента", "The client's answers"),
    "scripts.answer": ("Ответ", "Answer"),
    "scripts.next": ("Затем", "Then"),
    "scripts.to_end": ("конец скрипта", "end of the script"),
    "scripts.to_step": ("шаг «{id}»", "step “{id}”"),
    "scripts.remove_step": ("Удалить шаг", "Remove the step"),
    "scripts.up": ("Выше", "Up"),
    "scripts.down": ("Ниже", "Down"),
    "scripts.add_step": ("Добавить шаг", "Add a step"),
    "scripts.add_answer": ("Ещё ответ", "One more answer"),
    "scripts.answer_hint": ("Пустой ответ не сохраняется; шаг без ответов — кнопка «Далее».",
                            "An empty answer is not kept; a step without answers shows “Next”."),
    "scripts.preview": ("Так скрипт увидит агент", "The script as the agent sees it"),
    "scripts.preview_next": ("Далее", "Next"),
    "scripts.text": ("Импорт и экспорт текстом", "Import and export as text"),
    "scripts.text_import": ("Сохранить из текста", "Save from the text"),
    "scripts.err.fix": ("Скрипт не сохранён: исправьте отмеченные поля", "The script was not saved: fix the marked "
                        "fields"),
    "scripts.err.name": ("Укажите название скрипта", "Give the script a name"),
    "scripts.err.question": ("Напишите вопрос этого шага", "Write this step's question"),
    "scripts.err.step_id": ("Код шага: буквы, цифры, «_» или «-», до 40 знаков, без пробелов",
                            "Step code: letters, digits, “_” or “-”, up to 40, no spaces"),
    "scripts.err.step_twice": ("Такой код шага уже есть", "This step code is taken"),
    "scripts.err.next": ("Ответ ведёт к шагу, которого нет", "The answer leads to a step that does not exist"),
    "scripts.err.loop": ("Ответ ведёт на тот же шаг", "The answer leads back to the same step"),
    "scripts.err.no_steps": ("В скрипте нужен хотя бы один шаг с вопросом", "A script needs at least one step"),
    "timeline.script_answers": ("Ответы по скрипту", "Script answers"),
    "history.script_answers": ("Ответы по скрипту", "Script answers"),
})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/scripts", scripts_page)
    router.add_post("/scripts", save_script)
    router.add_post("/scripts/{id}/toggle", toggle_script)
    router.add_get("/scripts/for-call/{linkedid}", script_for_call)
    router.add_get("/scripts/for-inquiry/{id}", script_for_inquiry)
    router.add_post("/scripts/answers", save_answers)


# --- the editor --------------------------------------------------------------------------------------------

async def _all(request: web.Request) -> list[CallScript]:
    async with sessions(request)() as s:
        return list((await s.execute(select(CallScript).order_by(CallScript.id))).scalars())


def snapshot(script: CallScript | None) -> dict | None:
    """What the settings journal keeps of a script, before and after a change."""
    if script is None:
        return None
    return {"name": script.name, "queues": list(script.queues or []), "channels": list(script.channels or []),
            "steps": script.steps, "active": bool(script.active)}


async def _editor(request: web.Request, *, edit_id: int | None, name: str, queues: list[str], chosen: list[str],
                  rows: list[dict], errors: dict[str, str] | None = None, error: str | None = None,
                  text: str | None = None, status: int = 200) -> web.Response:
    step_ids = [r["id"] for r in rows if r["id"]]
    export = scripts.format_steps([r for r in rows if r["question"]]) if text is None else text
    return render(request, "workflow_scripts.html", {
        "rows": await _all(request), "channels": CHANNELS, "error": error, "errors": errors or {},
        "edit_id": edit_id, "name": name, "queues": ", ".join(queues), "chosen": chosen, "steps": rows,
        "step_ids": step_ids, "steps_text": export,
        "format_steps": scripts.format_steps}, status=status)


@allow(Role.ADMIN)
async def scripts_page(request: web.Request) -> web.StreamResponse:
    edit_id = optional_int(request.query.get("edit"))
    editing = next((r for r in await _all(request) if r.id == edit_id), None)
    rows = [dict(s) for s in editing.steps] if editing else [{"id": "", "question": "", "fields": [], "answers": []}]
    return await _editor(request, edit_id=editing.id if editing else None, name=editing.name if editing else "",
                         queues=list(editing.queues) if editing else [],
                         chosen=list(editing.channels) if editing else [], rows=rows)


@allow(Role.ADMIN)
async def save_script(request: web.Request) -> web.StreamResponse:
    """The row editor (``op`` posted: a button that adds, removes or moves re-shows the form; ``save`` stores)
    or the text import (``steps`` as text, for power users)."""
    form = await request.post()
    script_id = optional_int(form.get("id"))
    name = str(form.get("name") or "").strip()[:200]
    queues = scripts.split_list(str(form.get("queues") or ""))
    channels = [c for c in form.getall("channel", []) if c in CHANNELS]
    if "op" in form:
        rows = script_form.rows_from_form(lambda key: [str(v) for v in form.getall(key, [])])
        op = str(form.get("op") or "save")
        if op != "save":
            return await _editor(request, edit_id=script_id, name=name, queues=queues, chosen=channels,
                                 rows=script_form.apply_op(rows, op))
        steps, errors = script_form.validate(rows)
        if not name:
            errors["name"] = "scripts.err.name"
        if errors:
            return await _editor(request, edit_id=script_id, name=name, queues=queues, chosen=channels,
                                 rows=rows, errors=errors, error="scripts.err.fix", status=422)
    else:
        text = str(form.get("steps") or "")
        try:
            steps = scripts.parse_steps(text)
            if not name:
                raise scripts.ScriptError("a script needs a name")
        except scripts.ScriptError as exc:
            return await _editor(request, edit_id=script_id, name=name, queues=queues, chosen=channels,
                                 rows=[], error=str(exc), text=text, status=422)
    async with sessions(request)() as s, s.begin():
        if script_id is None:
            script = CallScript(name=name, queues=queues, channels=channels, steps=steps)
            s.add(script)
            await s.flush()
            before = None
        else:
            found = await s.get(CallScript, script_id)
            if found is None:
                raise web.HTTPNotFound()
            script, before = found, snapshot(found)
            script.name, script.queues, script.channels, script.steps = name, queues, channels, steps
            script.updated_at = utcnow()
        await record_setting_change(s, request[ACTOR].user_id, "script", f"script:{script.id}", before,
                                    snapshot(script))
    log.info("call script %s saved by user=%s", script.id, request[ACTOR].user_id)
    raise web.HTTPSeeOther("/scripts")


@allow(Role.ADMIN)
async def toggle_script(request: web.Request) -> web.StreamResponse:
    script_id = int_param(request.match_info["id"])
    await request.post()
    async with sessions(request)() as s, s.begin():
        script = await s.get(CallScript, script_id)
        if script is None:
            raise web.HTTPNotFound()
        before = snapshot(script)
        script.active = not script.active
        await record_setting_change(s, request[ACTOR].user_id, "script", f"script:{script.id}", before,
                                    snapshot(script))
    raise web.HTTPSeeOther("/scripts")


# --- during a call -----------------------------------------------------------------------------------------

def _remembered(request: web.Request) -> OrderedDict[str, set[int]]:
    """Calls whose script an agent opened while on them: they may still save answers after the hang-up."""
    return service(request).calls


def _live_call(request: web.Request, linkedid: str):  # noqa: ANN202
    telephony = request.app[HUB].telephony
    return telephony.calls.calls.get(linkedid) if telephony is not None else None


def _on_call(request: web.Request, call) -> bool:  # noqa: ANN001
    ext = request[USER].extension or ""
    return bool(ext) and (ext in call.ringing or call.answered_by == ext or call.transferred_to == ext)


async def _check_call(request: web.Request, linkedid: str):  # noqa: ANN202
    """The live call (or None after it ended) when this user is on it; else 404."""
    call = _live_call(request, linkedid)
    user_id = request[USER].id
    if call is not None and _on_call(request, call):
        seen = _remembered(request)
        seen.setdefault(linkedid, set()).add(user_id)
        seen.move_to_end(linkedid)
        while len(seen) > REMEMBERED_CALLS:
            seen.popitem(last=False)
        return call
    if user_id in _remembered(request).get(linkedid, set()):
        return None
    async with sessions(request)() as s:
        stored = (await s.execute(select(Call.id).where(Call.linkedid == linkedid, Call.agent_id == user_id))).first()
    if stored is None:
        raise NotFound("call")
    return None


def _json(data: dict, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def _script_json(script: CallScript | None) -> dict | None:
    if script is None:
        return None
    return {"id": script.id, "name": script.name, "steps": script.steps}


@allow(*AGENTS)
async def script_for_call(request: web.Request) -> web.StreamResponse:
    linkedid = request.match_info["linkedid"][:64]
    call = await _check_call(request, linkedid)
    async with sessions(request)() as s:
        script = await scripts.script_for(s, queue=call.queue if call else None, channel=Channel.CALL.value)
    return _json({"call_id": linkedid, "queue": call.queue if call else None, "script": _script_json(script)})


@allow(*AGENTS)
async def script_for_inquiry(request: web.Request) -> web.StreamResponse:
    inquiry_id = int_param(request.match_info["id"])
    async with sessions(request)() as s:
        inquiry = await get_inquiry(s, request[ACTOR], inquiry_id, write=True)
        script = await scripts.script_for(s, queue=None, channel=str(inquiry.channel))
    return _json({"inquiry_id": inquiry_id, "script": _script_json(script)})


@allow(*AGENTS)
async def save_answers(request: web.Request) -> web.StreamResponse:
    """JSON ``{"script_id", "call_id" | "inquiry_id", "answers": [{"step", "answer", "fields": {..}}]}``."""
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text="a JSON body is expected") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="a JSON object is expected")
    script_id = optional_int(body.get("script_id"))
    inquiry_id = optional_int(body.get("inquiry_id"))
    linkedid = str(body.get("call_id") or "")[:64] or None
    if script_id is None or (inquiry_id is None and linkedid is None):
        raise web.HTTPBadRequest(text="script_id and call_id or inquiry_id are required")
    if inquiry_id is not None:  # named by the page: only one this user may change
        async with sessions(request)() as s:
            await get_inquiry(s, request[ACTOR], inquiry_id, write=True)
    if linkedid is not None:
        call = await _check_call(request, linkedid)
        if inquiry_id is None and call is not None and call.inquiry_id and call.inquiry_id.isdigit():
            inquiry_id = int(call.inquiry_id)  # a click-to-call made from an inquiry
    async with sessions(request)() as s:
        script = await s.get(CallScript, script_id)
    if script is None:
        raise NotFound("script")
    try:
        answers = scripts.clean_answers(script, body.get("answers"))
    except scripts.ScriptError as exc:
        return _json({"ok": False, "error": str(exc)}, status=422)
    stored = await scripts.store_run(sessions(request), script, answers, agent_id=request[USER].id,
                                     inquiry_id=inquiry_id, linkedid=linkedid)
    log.info("script answers run=%s script=%s user=%s call=%s inquiry=%s", stored.run_id, script.id,
             request[USER].id, linkedid, stored.inquiry_id)
    return _json({"ok": True, "run_id": stored.run_id, "inquiry_id": stored.inquiry_id})
