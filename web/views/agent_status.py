"""The agent's own state, switched in the top bar: available, break (with a reason), wrap-up, offline."""

from __future__ import annotations

import logging

from aiohttp import web

from crm_core.agent_states import BREAK_REASONS, MANUAL, set_status
from crm_core.models import AgentStatus
from web.guard import allow
from web.i18n import add_texts
from web.keys import HUB, USER, sessions

log = logging.getLogger("hub.web.agents")

add_texts({
    "state.label": ("Статус", "Status"),
    "state.available": ("Доступен", "Available"),
    "state.break": ("Перерыв", "Break"),
    "state.wrap_up": ("Постобработка", "Wrap-up"),
    "state.on_call": ("Разговор", "On a call"),
    "state.offline": ("Не в сети", "Offline"),
    "state.set": ("Сменить", "Set"),
    "reason.lunch": ("обед", "lunch"),
    "reason.meeting": ("совещание", "meeting"),
    "reason.training": ("обучение", "training"),
    "reason.technical": ("технический", "technical"),
    "reason.other": ("другое", "other"),
})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/me/status", set_my_status)


def _safe_next(value: object) -> str:
    text = str(value or "/")
    return text if text.startswith("/") and not text.startswith("//") and "\\" not in text else "/"


@allow()
async def set_my_status(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        status = AgentStatus(str(form.get("status") or ""))
    except ValueError:
        raise web.HTTPBadRequest(text="unknown status") from None
    if status not in MANUAL:
        raise web.HTTPBadRequest(text="this status is set by the calls, not by hand")
    reason = str(form.get("reason") or "") or None
    if status == AgentStatus.BREAK and reason not in BREAK_REASONS:
        reason = "other"
    hub, user = request.app[HUB], request[USER]
    change = await set_status(sessions(request), hub.bus, user.id, status, reason=reason, source="hub")
    if change is not None and hub.telephony is not None and user.extension:
        paused = status in (AgentStatus.BREAK, AgentStatus.OFFLINE)
        was_paused = change.previous in (AgentStatus.BREAK, AgentStatus.OFFLINE)
        if paused != was_paused or status == AgentStatus.BREAK:
            await hub.telephony.pause(user.extension, paused, reason or status.value)
    raise web.HTTPSeeOther(_safe_next(form.get("next")))
