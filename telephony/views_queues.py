"""«Названия очередей»: the administrator names the PBX queues in Russian (``sales`` → «Продажи»). Stored in
``queue_names``; a name here wins over ``[asterisk] queue_names`` of the settings file, and a cleared one falls
back to it (or to the guess of ``web.labels.queue``).

The names in force live in one dict, ``hub.settings.asterisk.queue_names``, which every page already reads (the
templates' ``queue`` filter through the ``queue_names`` global, the wall board, the call feed, the reports): it is
updated in place when the hub starts and after each save, so the file's own names are kept aside first."""

from __future__ import annotations

import logging
import re

from aiohttp import web
from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError

from crm_core.models import Call, Role, utcnow
from crm_core.models.queue_names import QueueName
from crm_core.settings_audit import record_setting_change
from web import labels
from web.features import NavItem
from web.guard import allow
from web.i18n import add_texts
from web.keys import ACTOR, HUB, JINJA, LOCALE, sessions
from web.render import render

log = logging.getLogger("hub.web.queues")
NAV = [NavItem("/admin/queues", "queues.nav", roles=frozenset({Role.ADMIN}), order=66, group="settings")]
QUEUE_CODE = re.compile(r"^[\w.+-]{1,80}$")
FILE_NAMES: web.AppKey[dict[str, str]] = web.AppKey("queue_names_from_file", dict)
SEEN_LIMIT = 200

add_texts({
    "queues.nav": ("Названия очередей", "Queue names"),
    "queues.title": ("Названия очередей АТС", "PBX queue names"),
    "queues.hint": ("Как очередь называется в карточках, отчётах и на табло. Пустое поле — название из файла "
                    "настроек или подобранное автоматически.", "How a queue is named on cards, reports and the "
                    "board. Empty: the settings file's name or a guess."),
    "queues.code": ("Очередь в АТС", "PBX queue"),
    "queues.name": ("Название", "Name"),
    "queues.now": ("Сейчас показывается", "Shown now"),
    "queues.new": ("Новая очередь", "New queue"),
    "queues.save": ("Сохранить названия", "Save the names"),
    "queues.saved": ("Названия сохранены", "Names saved"),
    "queues.fix": ("Названия не сохранены: исправьте отмеченные поля", "Not saved: fix the marked fields"),
    "queues.none": ("Очередей пока не видно: они появятся после первых звонков", "No queues seen yet"),
    "queues.err.code": ("Имя очереди в АТС: латинские буквы, цифры, «_», «-», «.», до 80 знаков",
                        "PBX queue: letters, digits, “_”, “-”, “.”, up to 80"),
    "queues.err.long": ("Не длиннее 120 знаков", "At most 120 characters"),
    "queues.err.need_name": ("Укажите название новой очереди", "Name the new queue"),
})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/admin/queues", queues_page)
    router.add_post("/admin/queues", save_queues)


def setup_app(app: web.Application) -> None:
    app[FILE_NAMES] = dict(app[HUB].settings.asterisk.queue_names)
    app.on_startup.append(_load_on_start)


def _in_force(app: web.Application) -> dict[str, str]:
    return app[HUB].settings.asterisk.queue_names  # type: ignore[no-any-return]


def _apply(app: web.Application, stored: dict[str, str]) -> None:
    """The file's names overlaid by the stored ones, put in place where the pages read them."""
    file_names: dict[str, str] = app[FILE_NAMES]
    shown: dict[str, str] = app[JINJA].globals["queue_names"]  # type: ignore[assignment]
    merged = {**file_names, **stored}
    for names in (_in_force(app), shown):
        names.clear()
        names.update(merged)


async def _stored(s) -> dict[str, str]:  # noqa: ANN001
    return {r.queue: r.title for r in (await s.execute(select(QueueName))).scalars()}


async def _load_on_start(app: web.Application, *, after_start: bool = False) -> None:
    hub = app[HUB]
    try:
        async with hub.database.sessions() as s:
            stored = await _stored(s)
    except (SQLAlchemyError, OSError) as exc:
        if not after_start:  # a new database is migrated after the pages start: read again once the hub is up
            hub.tasks.spawn("queue-names", _load_once_started(app))
            return
        log.warning("queue names not loaded: %s", type(exc).__name__)
        return
    _apply(app, stored)


async def _load_once_started(app: web.Application) -> None:
    await app[HUB].started.wait()
    await _load_on_start(app, after_start=True)


async def _page(request: web.Request, *, rows: list[dict] | None = None, new: dict | None = None,
                errors: dict[str, str] | None = None, notice: str | None = None, status: int = 200) -> web.Response:
    async with sessions(request)() as s:
        stored = await _stored(s)
        seen = set((await s.execute(select(Call.queue).where(Call.queue.is_not(None)).distinct().limit(SEEN_LIMIT))
                    ).scalars())
    _apply(request.app, stored)
    telephony = request.app[HUB].telephony
    live = getattr(getattr(telephony, "calls", None), "calls", {}) if telephony is not None else {}
    seen |= {c.queue for c in live.values() if getattr(c, "queue", None)}
    file_names: dict[str, str] = request.app[FILE_NAMES]
    codes = sorted({q for q in seen if q} | set(stored) | set(file_names))
    locale, names = request.get(LOCALE, "ru"), _in_force(request.app)
    if rows is None:
        rows = [{"queue": q, "title": stored.get(q, "")} for q in codes]
    for row in rows:
        row["now"] = labels.queue(row["queue"], locale, names)
        row["file"] = file_names.get(row["queue"], "")
    return render(request, "telephony_queues.html", {
        "rows": rows, "new": new or {"queue": "", "title": ""}, "errors": errors or {}, "notice": notice},
        status=status)


@allow(Role.ADMIN)
async def queues_page(request: web.Request) -> web.StreamResponse:
    return await _page(request, notice="queues.saved" if request.query.get("saved") else None)


@allow(Role.ADMIN)
async def save_queues(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    codes, titles = form.getall("queue", []), form.getall("title", [])
    rows = [{"queue": str(q).strip()[:80], "title": " ".join(str(titles[i] if i < len(titles) else "").split())}
            for i, q in enumerate(codes[:SEEN_LIMIT * 2])]
    new = {"queue": str(form.get("new_queue") or "").strip()[:81],
           "title": " ".join(str(form.get("new_title") or "").split())}
    errors: dict[str, str] = {}
    for i, row in enumerate(rows):
        if not QUEUE_CODE.match(row["queue"]):
            errors[f"title-{i}"] = "queues.err.code"
        elif len(row["title"]) > 120:
            errors[f"title-{i}"] = "queues.err.long"
    if new["queue"] or new["title"]:
        if not QUEUE_CODE.match(new["queue"]):
            errors["new_queue"] = "queues.err.code"
        if not new["title"]:
            errors["new_title"] = "queues.err.need_name"
        elif len(new["title"]) > 120:
            errors["new_title"] = "queues.err.long"
        rows.append(dict(new))
    if errors:
        return await _page(request, rows=rows[:len(codes)], new=new, errors=errors, notice="queues.fix",
                           status=422)
    wanted = {r["queue"]: r["title"] for r in rows}
    async with sessions(request)() as s, s.begin():
        stored = await _stored(s)
        for code, title in wanted.items():
            before = stored.get(code)
            if title and title != before:
                record = await s.get(QueueName, code)
                if record is None:
                    s.add(QueueName(queue=code, title=title, updated_at=utcnow()))
                else:
                    record.title, record.updated_at = title, utcnow()
            elif not title and before is not None:
                await s.execute(delete(QueueName).where(QueueName.queue == code))
            await record_setting_change(s, request[ACTOR].user_id, "queue", f"queue:{code}", before, title or None)
        stored = await _stored(s)
    _apply(request.app, stored)
    log.info("queue names saved by user=%s queues=%d", request[ACTOR].user_id, len(wanted))
    raise web.HTTPSeeOther("/admin/queues?saved=1")
