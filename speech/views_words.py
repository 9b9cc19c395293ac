"""«Списки слов»: the administrator edits speech analytics' word lists (rude words, forbidden phrases,
competitors, phrases the script requires) row by row; a word finds its other forms (``договор`` also finds
``договора``). Saved lists win over ``[speech.phrases]`` of the settings file and take effect at once for the
transcription and the live speech services of this instance (others read them when they start). The lists can be
exported and imported as TOML, the settings file's own form."""

from __future__ import annotations

import logging
import tomllib

import tomli_w
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from crm_core.models import Role, utcnow
from crm_core.models.speech_words import SpeechWordList
from crm_core.settings_audit import record_setting_change
from speech.analytics import PhraseMatcher, tokens
from speech.settings import PhraseLists
from web.features import NavItem
from web.guard import allow
from web.i18n import add_texts
from web.keys import ACTOR, HUB, sessions
from web.render import render

log = logging.getLogger("hub.web.speech")
LISTS = ("rudeness", "forbidden", "competitors", "required")
MAX_PHRASES = 500
BLANK_ROWS = 3
NAV = [NavItem("/speech/words", "words.nav", roles=frozenset({Role.ADMIN}), order=64, group="settings")]

add_texts({
    "words.nav": ("Списки слов", "Word lists"),
    "words.title": ("Списки слов речевой аналитики", "Speech analytics word lists"),
    "words.hint": ("Слово находится во всех формах: «договор» найдёт и «договора». Чтобы удалить фразу, "
                   "очистите её поле.", "A word is found in all its forms. Clear a field to remove its phrase."),
    "words.list.rudeness": ("Грубость", "Rudeness"),
    "words.list.forbidden": ("Запрещённые фразы", "Forbidden phrases"),
    "words.list.competitors": ("Конкуренты", "Competitors"),
    "words.list.required": ("Обязательные фразы скрипта", "Phrases the script requires"),
    "words.phrase": ("Слово или фраза", "Word or phrase"),
    "words.more": ("Ещё строки", "More rows"),
    "words.save": ("Сохранить списки", "Save the lists"),
    "words.saved": ("Списки сохранены", "Lists saved"),
    "words.fix": ("Списки не сохранены: исправьте отмеченные поля", "Not saved: fix the marked fields"),
    "words.err.no_word": ("Во фразе нет ни одного слова", "The phrase has no word"),
    "words.err.twice": ("Эта фраза уже есть в списке", "This phrase is already in the list"),
    "words.err.too_many": ("Не больше 500 фраз в списке", "At most 500 phrases a list"),
    "words.toml": ("Импорт и экспорт в TOML", "TOML import and export"),
    "words.import": ("Загрузить из TOML", "Load from TOML"),
    "words.err.toml": ("Текст не разобран как TOML: {error}", "Not valid TOML: {error}"),
    "words.err.toml_shape": ("Ожидались списки строк: rudeness, forbidden, competitors, required",
                             "Expected lists of strings: rudeness, forbidden, competitors, required"),
})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/speech/words", words_page)
    router.add_post("/speech/words", save_words)
    router.add_post("/speech/words/import", import_words)


def setup_app(app: web.Application) -> None:
    app.on_startup.append(_load_on_start)


async def _load_on_start(app: web.Application, *, after_start: bool = False) -> None:
    hub = app[HUB]
    try:
        async with hub.database.sessions() as s:
            lists = await current(s, hub.settings.speech.phrases)
    except (SQLAlchemyError, OSError) as exc:  # until then the settings' lists stay
        if not after_start:  # a new database is migrated after the pages start: read again once the hub is up
            hub.tasks.spawn("speech-word-lists", _load_once_started(app))
            return
        log.warning("speech word lists not loaded: %s", type(exc).__name__)
        return
    apply(hub, lists)


async def _load_once_started(app: web.Application) -> None:
    await app[HUB].started.wait()
    await _load_on_start(app, after_start=True)


async def current(s, defaults: PhraseLists) -> PhraseLists:  # noqa: ANN001
    stored = {r.category: r.phrases for r in (await s.execute(select(SpeechWordList))).scalars()}
    return PhraseLists(**{k: list(stored.get(k, getattr(defaults, k))) for k in LISTS})


def apply(hub, lists: PhraseLists) -> None:  # noqa: ANN001 - bootstrap.Hub
    """The running services match the new lists from the next transcript on."""
    for key in ("speech", "speech_live"):
        svc = hub.connectors.get(key)
        if svc is not None and hasattr(svc, "matcher"):
            svc.matcher = PhraseMatcher(lists)


def clean(raw: dict[str, list[str]]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Blank rows dropped; per-field errors keyed ``phrase-<list>-<row>``."""
    out: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    for name in LISTS:
        seen: set[tuple[str, ...]] = set()
        out[name] = []
        for j, value in enumerate(raw.get(name, [])):
            phrase = " ".join(str(value).split())[:200]
            if not phrase:
                continue
            key = tuple(tokens(phrase))
            if not key:
                errors[f"phrase-{name}-{j}"] = "words.err.no_word"
            elif key in seen:
                errors[f"phrase-{name}-{j}"] = "words.err.twice"
            seen.add(key)
            out[name].append(phrase)
        if len(out[name]) > MAX_PHRASES:
            errors[f"list-{name}"] = "words.err.too_many"
    return out, errors


def _page(request: web.Request, lists: dict[str, list[str]], *, extra: int = BLANK_ROWS,
          errors: dict[str, str] | None = None, notice: str | None = None, toml_text: str | None = None,
          toml_error: str | None = None, status: int = 200) -> web.Response:
    export = tomli_w.dumps({"speech": {"phrases": {k: [p for p in lists[k] if p.strip()] for k in LISTS}}})
    return render(request, "speech_words.html", {
        "lists": LISTS, "rows": {k: [*lists[k], *[""] * extra] for k in LISTS}, "errors": errors or {},
        "notice": notice, "toml_text": export if toml_text is None else toml_text, "toml_error": toml_error,
        "extra": extra}, status=status)


@allow(Role.ADMIN)
async def words_page(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    async with sessions(request)() as s:
        lists = await current(s, hub.settings.speech.phrases)
    return _page(request, lists.model_dump(), notice="words.saved" if request.query.get("saved") else None)


async def _store(request: web.Request, lists: dict[str, list[str]]) -> None:
    hub = request.app[HUB]
    async with sessions(request)() as s, s.begin():
        before = await current(s, hub.settings.speech.phrases)
        for name in LISTS:
            row = await s.get(SpeechWordList, name)
            if row is None:
                s.add(SpeechWordList(category=name, phrases=lists[name], updated_at=utcnow()))
            elif row.phrases != lists[name]:
                row.phrases, row.updated_at = lists[name], utcnow()
            await record_setting_change(s, request[ACTOR].user_id, "word_list", f"word_list:{name}",
                                        getattr(before, name), lists[name])
    apply(hub, PhraseLists(**lists))
    log.info("speech word lists saved by user=%s sizes=%s", request[ACTOR].user_id,
             {k: len(v) for k, v in lists.items()})


@allow(Role.ADMIN)
async def save_words(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    raw = {name: [str(v) for v in form.getall(f"phrase-{name}", [])] for name in LISTS}
    extra = min(50, int(str(form.get("extra") or BLANK_ROWS)) if str(form.get("extra") or "").isdigit()
                else BLANK_ROWS)
    if form.get("op") == "more":
        return _page(request, raw, extra=extra + 5)
    lists, errors = clean(raw)
    if errors:
        return _page(request, raw, extra=0, errors=errors, notice="words.fix", status=422)
    await _store(request, lists)
    raise web.HTTPSeeOther("/speech/words?saved=1")


@allow(Role.ADMIN)
async def import_words(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    text = str(form.get("toml") or "")[:200_000]
    async with sessions(request)() as s:
        shown = (await current(s, request.app[HUB].settings.speech.phrases)).model_dump()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return _page(request, shown, toml_text=text, toml_error=str(exc), status=422)
    speech = data.get("speech", data)
    section = speech.get("phrases", speech) if isinstance(speech, dict) else None
    if not isinstance(section, dict) or set(section) - set(LISTS) or not all(
            isinstance(v, list) and all(isinstance(p, str) for p in v) for v in section.values()):
        return _page(request, shown, toml_text=text, toml_error="words.err.toml_shape", status=422)
    lists, errors = clean({k: section.get(k, shown[k]) for k in LISTS})
    if errors:
        return _page(request, lists, extra=0, errors=errors, notice="words.fix", status=422)
    await _store(request, lists)
    raise web.HTTPSeeOther("/speech/words?saved=1")
