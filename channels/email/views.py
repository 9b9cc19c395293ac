"""The admin page of mail kept aside: quarantined mail (could not be stored; «Повторить» takes it in
again, «Удалить» drops it) and system mail (bounces, reports, auto-replies and receipts that answer no
conversation of ours)."""

from __future__ import annotations

import logging

from aiohttp import web

from channels.email import queries
from channels.email.wiring import mail_intake
from crm_core import audit
from crm_core.models import Role
from web.features import NavItem
from web.guard import allow
from web.i18n import add_texts
from web.keys import ACTOR, HUB, sessions
from web.render import render

log = logging.getLogger("hub.web.email")

NAV = [NavItem("/admin/mail", "mail.nav", roles=frozenset({Role.ADMIN}), order=90, group="settings")]
TABS = ("quarantine", "system")

add_texts({
    "mail.nav": ("Почта: карантин", "Mail quarantine"),
    "mail.title": ("Почта, отложенная в сторону", "Mail kept aside"),
    "mail.tab.quarantine": ("Карантин ({n})", "Quarantine ({n})"),
    "mail.tab.system": ("Системные письма ({n})", "System mail ({n})"),
    "mail.quarantine.help": ("Эти письма не удалось сохранить. Письмо хранится целиком, пока его не примут "
                             "повторно или не удалят; почтовый ящик читается дальше.",
                             "These messages could not be stored. Each is kept whole until it is taken in "
                             "again or deleted; the mailbox goes on."),
    "mail.system.help": ("Возвраты, жалобы, автоответы и уведомления о прочтении, которые не относятся ни к "
                         "одной переписке. Они не становятся обращениями.",
                         "Bounces, abuse reports, auto-replies and read receipts that answer no conversation. "
                         "They never become inquiries."),
    "mail.empty": ("Здесь пусто", "Nothing here"),
    "mail.col.when": ("Когда", "When"),
    "mail.col.mailbox": ("Ящик", "Mailbox"),
    "mail.col.uid": ("UID", "UID"),
    "mail.col.size": ("Размер, байт", "Size, bytes"),
    "mail.col.reason": ("Причина", "Reason"),
    "mail.col.attempts": ("Попыток", "Attempts"),
    "mail.col.kind": ("Вид", "Kind"),
    "mail.col.from": ("От кого", "From"),
    "mail.col.subject": ("Тема", "Subject"),
    "mail.retry": ("Повторить", "Retry"),
    "mail.delete": ("Удалить", "Delete"),
    "mail.done.retried": ("Письмо принято", "The message was taken in"),
    "mail.done.failed": ("Письмо снова не удалось принять, оно осталось в карантине",
                         "The message failed again and stays in quarantine"),
    "mail.done.deleted": ("Удалено", "Deleted"),
    "mail.kind.bounce": ("возврат", "bounce"),
    "mail.kind.feedback": ("жалоба (ARF)", "abuse report (ARF)"),
    "mail.kind.auto_reply": ("автоответ", "auto-reply"),
    "mail.kind.receipt": ("уведомление о прочтении", "read receipt"),
})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/admin/mail", page)
    router.add_post(r"/admin/mail/quarantine/{id:\d+}/retry", retry)
    router.add_post(r"/admin/mail/quarantine/{id:\d+}/delete", delete)
    router.add_post(r"/admin/mail/system/{id:\d+}/delete", dismiss)


@allow(Role.ADMIN)
async def page(request: web.Request) -> web.StreamResponse:
    tab = request.query.get("tab", "quarantine")
    tab = tab if tab in TABS else "quarantine"
    async with sessions(request)() as s:
        quarantined, system = await queries.counts(s)
        rows = await queries.list_quarantine(s) if tab == "quarantine" else await queries.list_system_mail(s)
    return render(request, "email_mail.html", {"tab": tab, "rows": rows, "quarantined": quarantined,
                                               "system": system, "done": request.query.get("done", "")})


@allow(Role.ADMIN)
async def retry(request: web.Request) -> web.StreamResponse:
    item = int(request.match_info["id"])
    ok = await mail_intake(request.app[HUB]).retry(item)
    async with sessions(request)() as s, s.begin():
        await audit.record(s, request[ACTOR].user_id, "mail.quarantine.retry", f"mail_quarantine:{item}", {"ok": ok})
    log.info("quarantined item=%s retried by user=%s ok=%s", item, request[ACTOR].user_id, ok)
    raise web.HTTPSeeOther(f"/admin/mail?done={'retried' if ok else 'failed'}")


@allow(Role.ADMIN)
async def delete(request: web.Request) -> web.StreamResponse:
    item = int(request.match_info["id"])
    await mail_intake(request.app[HUB]).delete(item)
    async with sessions(request)() as s, s.begin():
        await audit.record(s, request[ACTOR].user_id, "mail.quarantine.delete", f"mail_quarantine:{item}", {})
    log.info("quarantined item=%s deleted by user=%s", item, request[ACTOR].user_id)
    raise web.HTTPSeeOther("/admin/mail?done=deleted")


@allow(Role.ADMIN)
async def dismiss(request: web.Request) -> web.StreamResponse:
    item = int(request.match_info["id"])
    await mail_intake(request.app[HUB]).dismiss_system_mail(item)
    log.info("system mail item=%s deleted by user=%s", item, request[ACTOR].user_id)
    raise web.HTTPSeeOther("/admin/mail?tab=system&done=deleted")
