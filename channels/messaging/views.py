"""Merging two client cards of one person: on the card of the client who stays, the agent names the other
card's number (a VK id, a WhatsApp number and a phone met as separate clients). Both cards must be theirs
to change (crm_core.access); the merge is audited and shown on the timeline."""

from __future__ import annotations

import logging

from aiohttp import web

from crm_core.access import Forbidden, NotFound
from crm_core.client_merge import SameClient, merge_clients
from web.guard import allow
from web.i18n import add_texts
from web.keys import ACTOR, sessions

log = logging.getLogger("hub.web.clients")

add_texts({
    "merge.title": ("Объединить с другой карточкой", "Merge with another card"),
    "merge.help": ("Если это тот же человек (например, писал в ВКонтакте и WhatsApp), укажите номер другой "
                   "карточки: её обращения, сообщения, звонки и контакты перейдут сюда, а она будет удалена.",
                   "If this is the same person (e.g. wrote in VK and WhatsApp), give the other card's number: its "
                   "inquiries, messages, calls and contacts move here and it is deleted."),
    "merge.field": ("Номер другой карточки", "The other card's number"),
    "merge.button": ("Объединить", "Merge"),
    "merge.done": ("Карточки объединены", "Cards merged"),
    "merge.bad": ("Укажите номер другой карточки клиента", "Give another client card's number"),
    "merge.forbidden": ("Объединять можно только карточки, которые вы вправе менять",
                        "You may merge only cards you are allowed to change"),
    "merge.missing": ("Карточка с таким номером не найдена", "No client card with that number"),
})


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_post("/clients/{id:\\d+}/merge", merge)


@allow()
async def merge(request: web.Request) -> web.StreamResponse:
    keep_id = int(request.match_info["id"])
    form = await request.post()
    raw = str(form.get("other_id", "")).strip().lstrip("№#")
    if not raw.isdigit() or len(raw) > 12:
        raise web.HTTPSeeOther(f"/clients/{keep_id}?notice=merge_bad")
    actor = request[ACTOR]
    try:
        async with sessions(request)() as s, s.begin():
            await merge_clients(s, keep_id, int(raw), actor=actor, reason="объединено агентом / merged by an agent")
    except SameClient:
        raise web.HTTPSeeOther(f"/clients/{keep_id}?notice=merge_bad") from None
    except Forbidden:
        raise web.HTTPSeeOther(f"/clients/{keep_id}?notice=merge_forbidden") from None
    except NotFound:
        raise web.HTTPSeeOther(f"/clients/{keep_id}?notice=merge_missing") from None
    raise web.HTTPSeeOther(f"/clients/{keep_id}?notice=merged")
