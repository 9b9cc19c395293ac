"""Speech pages: transcript search, a call's transcript as a dialogue with its recording, flagged calls.

Every page reads calls through ``crm_core.access.call_scope`` (the agency's rules of crm_core/access.py): an agent
sees their own calls, a department's manager or head its agents' calls, a director the division, the
administrator everything. A call out of reach is "not found".
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import func, select

from crm_core.access import call_scope
from crm_core.models import Call, Recording, Role, Transcript, User
from crm_core.models.speech import SpeechFlag, SpeechJob, SpeechWord
from speech import search
from web.features import NavItem
from web.guard import allow
from web.i18n import add_texts
from web.keys import ACTOR, HUB, sessions
from web.render import render

SUPERVISORS = (Role.DEPT_MANAGER, Role.DEPT_HEAD, Role.DIRECTOR, Role.ADMIN)
AUDIO_TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".gsm": "audio/x-gsm"}
log = logging.getLogger("hub.web.speech")
NAV = [
    NavItem("/transcripts", "speech.nav", order=60, group="calls"),
    NavItem("/speech/flags", "speech.nav_flags", roles=frozenset(SUPERVISORS), order=61, group="calls"),
]

add_texts({
    "speech.nav": ("Расшифровки", "Transcripts"),
    "speech.nav_flags": ("Речевая аналитика", "Speech flags"),
    "speech.search_title": ("Поиск по расшифровкам звонков", "Search call transcripts"),
    "speech.query": ("Слова из разговора", "Words from the conversation"),
    "speech.agent": ("Агент", "Agent"),
    "speech.any_agent": ("Все агенты", "All agents"),
    "speech.queue": ("Очередь", "Queue"),
    "speech.date_from": ("С даты", "From"),
    "speech.date_to": ("По дату", "To"),
    "speech.find": ("Найти", "Search"),
    "speech.no_hits": ("Ничего не найдено", "Nothing found"),
    "speech.bad_date": ("Дата в формате ГГГГ-ММ-ДД", "Date as YYYY-MM-DD"),
    "speech.call": ("Звонок", "Call"),
    "speech.transcript": ("Расшифровка", "Transcript"),
    "speech.off": ("Расшифровка звонков выключена: модель распознавания речи не настроена",
                   "Call transcription is off: no speech model is configured"),
    "speech.failed_service": ("Расшифровка звонков не работает", "Call transcription is not working"),
    "speech.status.queued": ("В очереди на расшифровку", "Waiting to be transcribed"),
    "speech.status.running": ("Расшифровывается", "Being transcribed"),
    "speech.status.done": ("Расшифровано", "Transcribed"),
    "speech.status.failed": ("Расшифровка не удалась", "Transcription failed"),
    "speech.no_recording": ("У звонка нет записи", "The call has no recording"),
    "speech.speaker.agent": ("Агент", "Agent"),
    "speech.speaker.client": ("Клиент", "Client"),
    "speech.speaker.speaker": ("Запись", "Recording"),
    "speech.click_word": ("Нажмите на слово, чтобы прослушать с этого места",
                          "Click a word to play from there"),
    "speech.flags": ("Отметки", "Flags"),
    "speech.flags_title": ("Звонки с отмеченными фразами", "Calls with flagged phrases"),
    "speech.no_flags": ("Отмеченных звонков нет", "No flagged calls"),
    "speech.category": ("Категория", "Category"),
    "speech.all_categories": ("Все категории", "All categories"),
    "speech.cat.rudeness": ("Грубость", "Rudeness"),
    "speech.cat.forbidden": ("Запрещённые фразы", "Forbidden phrases"),
    "speech.cat.competitors": ("Конкуренты", "Competitors"),
    "speech.cat.missing_script": ("Не сказано по скрипту", "Script phrase not said"),
    "speech.phrase": ("Фраза", "Phrase"),
    "speech.heard": ("Услышано", "Heard"),
    "speech.at": ("Время", "Time"),
    "speech.caller": ("Номер", "Caller"),
    "speech.when": ("Когда", "When"),
    "speech.client_card": ("Карточка клиента", "The client's card"),
    "speech.inquiry": ("Обращение", "Inquiry"),
})


def _service(request: web.Request):  # noqa: ANN202
    return request.app[HUB].connectors.get("speech")


def service_note(request: web.Request) -> str | None:
    """'off' when no model is configured (or the service is not wired), 'failed' when it could not start."""
    svc = _service(request)
    if svc is None or not getattr(svc, "enabled", False):
        return "off"
    return "failed" if svc.state == "failed" else None


def _zone(request: web.Request) -> ZoneInfo:
    return ZoneInfo(request.app[HUB].settings.time_zone)


def _date(value: str, zone: ZoneInfo, *, end: bool = False) -> datetime | None:
    if not value:
        return None
    day = datetime.strptime(value, "%Y-%m-%d").date()  # ValueError → a field error
    if end:
        day += timedelta(days=1)
    return datetime.combine(day, time(), zone)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


@allow()
async def transcripts_page(request: web.Request) -> web.StreamResponse:
    actor = request[ACTOR]
    q = request.query.get("q", "").strip()[:200]
    form = {k: request.query.get(k, "").strip()[:100] for k in ("agent", "queue", "date_from", "date_to")}
    errors: dict[str, str] = {}
    zone = _zone(request)
    dates: dict[str, datetime | None] = {}
    for key in ("date_from", "date_to"):
        try:
            dates[key] = _date(form[key], zone, end=key == "date_to")
        except ValueError:
            errors[key] = "speech.bad_date"
    hits: list[search.Hit] = []
    search.install(request.app[HUB].database.engine)
    async with sessions(request)() as s:
        agents = (await s.execute(select(User.id, User.full_name).join(Call, Call.agent_id == User.id)
                                  .where(call_scope(actor)).distinct().order_by(User.full_name))).all()
        if q and not errors:
            hits = await search.search(s, actor, q, agent_id=_int(form["agent"]), queue=form["queue"] or None,
                                       date_from=dates["date_from"], date_to=dates["date_to"])
    return render(request, "speech_search.html", {
        "q": q, "form": form, "errors": errors, "hits": hits, "agents": agents, "searched": bool(q),
        "service_note": service_note(request)}, status=422 if errors else 200)


async def _call_in_reach(s, actor, call_id: int) -> Call:  # noqa: ANN001
    call = (await s.execute(select(Call).where(Call.id == call_id, call_scope(actor)))).scalar_one_or_none()
    if call is None:
        raise web.HTTPNotFound()
    return call


def _turns(words: list[SpeechWord]) -> list[dict]:
    turns: list[dict] = []
    for w in words:
        if not turns or turns[-1]["speaker"] != w.speaker:
            turns.append({"speaker": w.speaker, "start": w.start_s, "words": []})
        turns[-1]["words"].append(w)
    return turns


@allow()
async def call_transcript_page(request: web.Request) -> web.StreamResponse:
    call_id = _int(request.match_info["id"])
    if call_id is None:
        raise web.HTTPNotFound()
    async with sessions(request)() as s:
        call = await _call_in_reach(s, request[ACTOR], call_id)
        agent = await s.get(User, call.agent_id) if call.agent_id else None
        rows = (await s.execute(
            select(Recording, Transcript, SpeechJob.attempts)
            .outerjoin(Transcript, Transcript.recording_id == Recording.id)
            .outerjoin(SpeechJob, SpeechJob.transcript_id == Transcript.id)
            .where(Recording.call_id == call.id).order_by(Recording.id))).all()
        parts = []
        for rec, tr, attempts in rows:
            words = [] if tr is None else list((await s.execute(
                select(SpeechWord).where(SpeechWord.transcript_id == tr.id).order_by(SpeechWord.position))).scalars())
            parts.append({"recording": rec, "transcript": tr, "attempts": attempts, "turns": _turns(words)})
        flags = (await s.execute(select(SpeechFlag).where(SpeechFlag.call_id == call.id)
                                 .order_by(SpeechFlag.at_s.is_(None), SpeechFlag.at_s))).scalars().all()
    return render(request, "speech_call.html", {"call": call, "agent": agent, "parts": parts, "flags": flags,
                                                "service_note": service_note(request)})


@allow()
async def recording_audio(request: web.Request) -> web.StreamResponse:
    call_id, rec_id = _int(request.match_info["id"]), _int(request.match_info["rec"])
    if call_id is None or rec_id is None:
        raise web.HTTPNotFound()
    async with sessions(request)() as s:
        await _call_in_reach(s, request[ACTOR], call_id)
        path = (await s.execute(select(Recording.path).where(Recording.id == rec_id, Recording.call_id == call_id))
                ).scalar_one_or_none()
    if path is None:
        raise web.HTTPNotFound()
    file = _recording_file(request, path)
    if file is None:
        log.warning("recording file of call=%s recording=%s is missing", call_id, rec_id)
        raise web.HTTPNotFound(text="recording file is missing")
    # FileResponse answers Range requests (206 with the asked bytes): the player seeks without the whole file.
    kind = AUDIO_TYPES.get(file.suffix.lower(), "application/octet-stream")
    return web.FileResponse(file, headers={"Content-Type": kind, "Cache-Control": "private, no-store"})


def _recording_file(request: web.Request, path: str) -> Path | None:
    """The stored path as the PBX wrote it; a relative one under the recordings folder; an absolute one the hub
    cannot see (the PBX's own folder, mounted elsewhere here) by its name in the recordings folder."""
    stored = Path(path)
    bases = [getattr(_service(request), "recordings_dir", None), request.app[HUB].settings.asterisk.recordings_dir]
    candidates = [stored] if stored.is_absolute() else []
    candidates += [Path(base) / (stored.name if stored.is_absolute() else stored) for base in bases if base]
    return next((c for c in candidates if c.is_file()), None)


@allow(*SUPERVISORS)
async def flags_page(request: web.Request) -> web.StreamResponse:
    actor = request[ACTOR]
    category = request.query.get("category", "")
    categories = ("rudeness", "forbidden", "competitors", "missing_script")
    stmt = (select(Call.id, Call.started_at, Call.caller, User.full_name,
                   func.count(SpeechFlag.id).label("n"))
            .join(SpeechFlag, SpeechFlag.call_id == Call.id).outerjoin(User, User.id == Call.agent_id)
            .where(call_scope(actor))
            .group_by(Call.id, Call.started_at, Call.caller, User.full_name)
            .order_by(Call.started_at.desc(), Call.id.desc()).limit(200))
    if category in categories:
        stmt = stmt.where(SpeechFlag.category == category)
    async with sessions(request)() as s:
        calls = (await s.execute(stmt)).all()
        ids = [c.id for c in calls]
        flags: dict[int, list[SpeechFlag]] = {}
        if ids:
            for f in (await s.execute(select(SpeechFlag).where(SpeechFlag.call_id.in_(ids))
                                      .order_by(SpeechFlag.at_s))).scalars():
                flags.setdefault(f.call_id, []).append(f)
    return render(request, "speech_flags.html", {"calls": calls, "flags": flags, "category": category,
                                                 "categories": categories})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/transcripts", transcripts_page)
    router.add_get("/calls/{id}/transcript", call_transcript_page)
    router.add_get("/calls/{id}/recordings/{rec}", recording_audio)
    router.add_get("/speech/flags", flags_page)
