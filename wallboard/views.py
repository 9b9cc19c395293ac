"""The supervisors' wallboard page (live over the WebSocket) and their actions on agents and inquiries.

Watching: department managers and heads (their departments), directors (their division), the administrator
(everything). Acting — pause, whisper, barge, reassign — the same without directors, who read; a director
may listen. Every action is written to the audit log (crm_core/audit.py).
"""

from __future__ import annotations

import json
import logging

from aiohttp import web
from sqlalchemy import select

from crm_core import audit
from crm_core.agent_states import BREAK_REASONS
from crm_core.models import User
from wallboard import actions
from wallboard.queries import ACT_ROLES, VIEW_ROLES, scope_for
from wallboard.settings import WallboardSettings
from web import labels
from web.features import NavItem
from web.guard import allow
from web.i18n import add_texts, translator
from web.keys import ACTOR, HUB, LOCALE, sessions
from web.render import render

log = logging.getLogger("hub.web.wallboard")

NAV = [NavItem("/wallboard", "wallboard.nav", roles=frozenset(VIEW_ROLES), order=25, group="calls")]

TEXTS = {
    "wallboard.nav": ("Мониторинг", "Wallboard"),
    "wallboard.title": ("Мониторинг очередей и агентов", "Queues and agents, live"),
    "wallboard.off": ("Мониторинг выключен", "The wallboard is off"),
    "wallboard.no_pbx": ("АТС не подключена: очереди не видны", "No PBX connected: queues are not shown"),
    "wallboard.queues": ("Очереди", "Queues"),
    "wallboard.queue": ("Очередь", "Queue"),
    "wallboard.waiting": ("Ждут", "Waiting"),
    "wallboard.longest": ("Дольше всех", "Longest wait"),
    "wallboard.answered": ("Принято", "Answered"),
    "wallboard.abandoned": ("Не дождались", "Abandoned"),
    "wallboard.sl": ("Уровень сервиса (≤ {s} с)", "Service level (≤ {s} s)"),
    "wallboard.avg_wait": ("Ср. ожидание", "Avg wait"),
    "wallboard.avg_talk": ("Ср. разговор", "Avg talk"),
    "wallboard.staffed": ("Агенты (своб./всего)", "Agents (free/logged in)"),
    "wallboard.no_queues": ("Очередей пока нет", "No queues yet"),
    "wallboard.agents": ("Агенты", "Agents"),
    "wallboard.agent": ("Агент", "Agent"),
    "wallboard.ext": ("Вн. номер", "Ext."),
    "wallboard.state": ("Статус", "State"),
    "wallboard.for": ("Сколько", "For"),
    "wallboard.call": ("Текущий звонок", "Current call"),
    "wallboard.load": ("Обращения / лимит", "Inquiries / capacity"),
    "wallboard.actions": ("Действия", "Actions"),
    "wallboard.no_agents": ("Агентов нет", "No agents"),
    "wallboard.ringing": ("звонит", "ringing"),
    "wallboard.paused": ("пауза на АТС", "paused on the PBX"),
    "wallboard.inquiries": ("Просроченные и скоро просрочатся", "Overdue and soon overdue"),
    "wallboard.no_inquiries": ("Просроченных обращений нет", "Nothing overdue"),
    "wallboard.inquiry": ("Обращение", "Inquiry"),
    "wallboard.owner": ("Ответственный", "Owner"),
    "wallboard.due": ("Срок", "Due"),
    "wallboard.step": ("Что будет", "Next step"),
    "wallboard.overdue": ("просрочено", "overdue"),
    "wallboard.left": ("осталось", "left"),
    "wallboard.nobody": ("нет", "nobody"),
    "wallboard.flags": ("Отмеченные звонки (речевая аналитика)", "Flagged calls (speech analytics)"),
    "wallboard.no_flags": ("Отмеченных звонков сегодня нет", "No flagged calls today"),
    "wallboard.live_flags": ("Услышано в идущих звонках", "Heard in calls going on"),
    "wallboard.no_live_flags": ("Пока ничего не услышано", "Nothing heard yet"),
    "wallboard.heard": ("Услышано", "Heard"),
    "wallboard.leg": ("Кто сказал", "Said by"),
    "wallboard.leg.agent": ("агент", "agent"),
    "wallboard.leg.client": ("клиент", "client"),
    "wallboard.leg.unknown": ("—", "—"),
    "wallboard.at_s": ("Секунда звонка", "Second of the call"),
    "wallboard.caller": ("Номер", "Caller"),
    "wallboard.when": ("Когда", "When"),
    "wallboard.categories": ("Отметки", "Flags"),
    "wallboard.pause": ("Пауза", "Pause"),
    "wallboard.unpause": ("Снять паузу", "Unpause"),
    "wallboard.listen": ("Слушать", "Listen"),
    "wallboard.whisper": ("Суфлёр", "Whisper"),
    "wallboard.barge": ("Вмешаться", "Barge"),
    "wallboard.reassign": ("Передать", "Reassign"),
    "wallboard.audit": ("Журнал действий", "Action log"),
    "wallboard.no_audit": ("Действий не было", "No actions yet"),
    "wallboard.who": ("Кто", "Who"),
    "wallboard.what": ("Что", "What"),
    "wallboard.target": ("Над кем", "Target"),
    "wallboard.live": ("обновляется в реальном времени", "updates live"),
    "wallboard.stale": ("нет связи — данные могут устареть", "offline — the figures may be stale"),
    "wallboard.result.paused": ("Агент поставлен на паузу", "The agent is paused"),
    "wallboard.result.unpaused": ("Пауза снята", "The pause is lifted"),
    "wallboard.result.unchanged": ("Ничего не изменилось", "Nothing changed"),
    "wallboard.result.listen": ("Ваш телефон зазвонит: снимите трубку, чтобы слушать",
                                "Your phone rings: answer to listen"),
    "wallboard.result.whisper": ("Ваш телефон зазвонит: агент будет слышать вас, клиент — нет",
                                 "Your phone rings: the agent will hear you, the client will not"),
    "wallboard.result.barge": ("Ваш телефон зазвонит: вас услышат оба", "Your phone rings: both will hear you"),
    "wallboard.result.reassigned": ("Обращение передано", "The inquiry is reassigned"),
    "wallboard.result.closed": ("Обращение уже закрыто", "The inquiry is closed"),
    "wallboard.result.conflict": ("Обращение только что изменилось, попробуйте ещё раз",
                                  "The inquiry just changed; try again"),
    "wallboard.result.no_extension": ("У вас нет внутреннего номера", "You have no extension"),
    "wallboard.result.agent_no_extension": ("У агента нет внутреннего номера", "The agent has no extension"),
    "wallboard.result.no_pbx": ("АТС не подключена", "No PBX connected"),
    "wallboard.result.pbx_failed": ("АТС отказала: {reason}", "The PBX refused: {reason}"),
}
add_texts(TEXTS)
STATES = ("available", "break", "wrap_up", "on_call", "offline")
DEVICES = {"idle": ("свободен", "idle"), "in_use": ("занят", "in use"), "busy": ("занят", "busy"),
           "ringing": ("звонит", "ringing"), "unavailable": ("недоступен", "unavailable"),
           "on_hold": ("на удержании", "on hold"), "invalid": ("нет такого", "invalid"),
           "unknown": ("неизвестно", "unknown")}
ACTIONS = ("wallboard.pause", "wallboard.unpause", "wallboard.listen", "wallboard.whisper", "wallboard.barge",
           "wallboard.reassign")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/wallboard", wallboard_page)
    router.add_get("/wallboard/state", wallboard_state)
    router.add_post("/wallboard/agents/{user_id:\\d+}/pause", pause)
    router.add_post("/wallboard/agents/{user_id:\\d+}/{mode:listen|whisper|barge}", spy)
    router.add_post("/wallboard/inquiries/{inquiry_id:\\d+}/reassign", reassign)


def _service(request: web.Request):  # noqa: ANN202
    return request.app[HUB].connectors.get("wallboard")


def _settings(request: web.Request) -> WallboardSettings:
    return getattr(request.app[HUB].settings, "wallboard", None) or WallboardSettings()


async def _snapshot(request: web.Request) -> dict | None:
    service = _service(request)
    if service is None:
        return None
    actor = request[ACTOR]
    async with sessions(request)() as s:
        scope = await scope_for(s, actor)
    service.watch(actor.user_id, scope)
    return service.snapshot(scope)


def _labels(locale: str) -> dict[str, str]:
    t = translator(locale)
    i = 1 if locale == "en" else 0
    labels = {k.removeprefix("wallboard."): t(k) for k in TEXTS}
    labels.update({f"state.{s}": t(f"state.{s}") for s in STATES})
    labels.update({f"reason.{r}": t(f"reason.{r}") for r in BREAK_REASONS})
    labels.update({f"device.{k}": v[i] for k, v in DEVICES.items()})
    for c in ("rudeness", "forbidden", "competitors", "missing_script"):
        labels[f"cat.{c}"] = t(f"speech.cat.{c}")
    for a in ("to_department_pool", "to_common_pool", "to_archive"):
        labels[f"step.{a}"] = {"to_department_pool": ("в пул отдела", "to the department pool"),
                               "to_common_pool": ("в общий пул", "to the common pool"),
                               "to_archive": ("в архив", "to the archive")}[a][i]
    return labels


@allow(*VIEW_ROLES)
async def wallboard_page(request: web.Request) -> web.StreamResponse:
    actor = request[ACTOR]
    snapshot = await _snapshot(request)
    async with sessions(request)() as s:
        entries = await audit.recent(s, action_prefix="wallboard.", limit=20)
        names = {}
        targets = {int(e.target.partition(":")[2]) for e in entries
                   if (e.target or "").startswith("user:") and e.target.partition(":")[2].isdigit()}
        ids = {e.actor_id for e in entries if e.actor_id} | targets
        if ids:
            names = dict((await s.execute(select(User.id, User.full_name).where(User.id.in_(ids)))).all())
    locale = request.get(LOCALE, "ru")
    settings = _settings(request)
    return render(request, "wallboard.html", {
        "snapshot": snapshot, "labels": _labels(locale), "can_act": actor.role in ACT_ROLES,
        "has_pbx": request.app[HUB].telephony is not None, "entries": entries, "names": names,
        "service_level_s": settings.service_level_s,
        "board_config": {"can_act": actor.role in ACT_ROLES, "locale": locale,
                         "queue_names": _queue_names(request, locale, snapshot),
                         "queue_unnamed": translator(locale)("queue.unnamed", name="{name}")},
    })


def _queue_names(request: web.Request, locale: str, snapshot: object) -> dict[str, str]:
    """Display names of the PBX queues: the settings' names, else a Russian guess (web.labels.queue)."""
    named = request.app[HUB].settings.asterisk.queue_names
    known = set(named) | set(labels.QUEUE_WORDS)
    if isinstance(snapshot, dict):
        known |= set(snapshot.get("queues", {}) or {})
    return {q: labels.queue(q, locale, named) for q in known}


@allow(*VIEW_ROLES)
async def wallboard_state(request: web.Request) -> web.StreamResponse:
    """The whole board now (the page asks after a reconnect or a missed frame)."""
    snapshot = await _snapshot(request)
    if snapshot is None:
        raise web.HTTPNotFound(text="the wallboard is off")
    return web.json_response(snapshot, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def _answer(request: web.Request, outcome: actions.Outcome) -> web.Response:
    t = translator(request.get(LOCALE, "ru"))
    message = t(f"wallboard.result.{outcome.result}", reason=outcome.detail)
    status = 200 if outcome.ok else (502 if outcome.result == "pbx_failed" else 409)
    return web.json_response({"ok": outcome.ok, "result": outcome.result, "message": message}, status=status,
                             dumps=lambda o: json.dumps(o, ensure_ascii=False))


@allow(*ACT_ROLES)
async def pause(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    paused = str(form.get("paused") or "1") not in ("0", "false", "no")
    reason = str(form.get("reason") or "") or None
    outcome = await actions.pause_agent(request.app[HUB], request[ACTOR], int(request.match_info["user_id"]),
                                        paused, reason)
    return _answer(request, outcome)


@allow(*VIEW_ROLES)
async def spy(request: web.Request) -> web.StreamResponse:
    outcome = await actions.spy(request.app[HUB], _settings(request), request[ACTOR],
                                int(request.match_info["user_id"]), request.match_info["mode"])
    return _answer(request, outcome)


@allow(*ACT_ROLES)
async def reassign(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    to = str(form.get("to") or "").strip()
    if not to.isdigit() or len(to) > 12:
        raise web.HTTPBadRequest(text="to must be a user id")
    outcome = await actions.reassign(request.app[HUB], request[ACTOR], int(request.match_info["inquiry_id"]), int(to))
    return _answer(request, outcome)
