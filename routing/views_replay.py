"""The what-if replay page: pick a period and a draft of the rules (or the running ones), watch the progress
line, see per agent and per department the real and the simulated counts (with a chart drawn on the server),
the SLA breaches the draft would have caused and the inquiries that would have gone elsewhere; then publish
the draft as a new version. A replay runs in the background of this hub process and can be stopped; nothing
is written by it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select

from crm_core.models import Role, utcnow
from crm_core.models.routing_versions import RuleVersion
from routing import rule_versions as versions
from routing.calendar import WorkCalendar
from routing.queries import load_rule_data
from routing.replay import ReplayResult, Stopped, replay_draft
from routing.replay_chart import bars_svg
from routing.rules import RuleSetError, compile_rules
from routing.views import render
from routing.views_editor import me
from web.guard import allow
from web.keys import HUB, LOCALE, sessions

log = logging.getLogger("hub.web.routing")
MAX_DAYS = 92
KEPT_JOBS = 10
_ids = itertools.count(1)


@dataclass
class Job:
    id: int
    user_id: int
    draft_id: int | None
    start: date
    end: date
    done: int = 0
    total: int = 0
    stop: bool = False
    result: ReplayResult | None = None
    error: str | None = None
    task: asyncio.Task | None = field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        return self.result is not None or self.error is not None


_jobs: dict[int, Job] = {}


def _period(query: Any) -> tuple[date, date]:
    today = utcnow().date()
    last_monday = today - timedelta(days=today.weekday() + 7)
    try:
        start = date.fromisoformat(str(query.get("from") or last_monday.isoformat()))
        end = date.fromisoformat(str(query.get("to") or (last_monday + timedelta(days=6)).isoformat()))
    except ValueError:
        raise web.HTTPUnprocessableEntity(text="dates are YYYY-MM-DD") from None
    return start, end


async def _drafts(request: web.Request) -> list[Any]:
    async with sessions(request)() as s:
        return list((await s.execute(select(RuleVersion.id, RuleVersion.note, RuleVersion.created_at)
                                     .where(RuleVersion.state == versions.DRAFT).order_by(RuleVersion.id.desc())
                                     .limit(50))).all())


@allow(Role.ADMIN)
async def replay_page(request: web.Request) -> web.StreamResponse:
    start, end = _period(request.query)
    draft = request.query.get("draft", "")
    return render(request, "routing_replay.html", {
        "start": start, "end": end, "draft_id": int(draft) if draft.isdigit() and len(draft) < 10 else None,
        "drafts": await _drafts(request), "job": None, "error": None, "chart": "", "rows": [], "departments": [],
    })


async def _run(request: web.Request, job: Job) -> None:
    settings = request.app[HUB].settings.routing
    try:
        async with sessions(request)() as s:
            if job.draft_id is None:
                data = await load_rule_data(s)
            else:
                row = await s.get(RuleVersion, job.draft_id)
                if row is None:
                    raise LookupError(job.draft_id)
                data = dict(row.data)
        rules = compile_rules(data)

        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        job.result = await replay_draft(sessions(request), rules, job.start, job.end, WorkCalendar(settings.hours),
                                        settings.sla, progress, lambda: job.stop)
        log.info("routing replay %d done: %d inquiries, %d moved", job.id, job.result.inquiries,
                 job.result.moved_total)
    except Stopped:
        job.error = "stopped"
    except (LookupError, RuleSetError):
        job.error = "bad_draft"
    except ValueError:
        job.error = "too_many"


@allow(Role.ADMIN)
async def replay_start(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    start, end = _period(form)
    draft = str(form.get("draft", ""))
    if end < start or (end - start).days > MAX_DAYS:
        return render(request, "routing_replay.html", {
            "start": start, "end": end, "draft_id": None, "drafts": await _drafts(request), "job": None,
            "error": "period", "chart": "", "rows": [], "departments": []}, status=422)
    job = Job(next(_ids), me(request), int(draft) if draft.isdigit() and len(draft) < 10 else None, start, end)
    for old in sorted(_jobs)[:-KEPT_JOBS]:
        if _jobs[old].finished:
            del _jobs[old]
    _jobs[job.id] = job
    job.task = asyncio.get_running_loop().create_task(_run(request, job), name=f"routing-replay-{job.id}")
    raise web.HTTPSeeOther(f"/admin/routing/replay/jobs/{job.id}")


def _job(request: web.Request) -> Job:
    job = _jobs.get(int(request.match_info["id"]))
    if job is None or job.user_id != me(request):
        raise web.HTTPNotFound(text="no such replay")
    return job


def _tables(result: ReplayResult) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    agents = sorted(set(result.real) | set(result.simulated),
                    key=lambda a: (-result.simulated[a], result.names.get(a, "")))
    rows = [{"name": result.names.get(a, f"№{a}"), "real": result.real[a], "simulated": result.simulated[a],
             "breaches": result.breaches_by_agent[a]} for a in agents]
    deps = sorted(set(result.real_departments) | set(result.simulated_departments), key=lambda d: (d is None, d or 0))
    departments = [{"name": result.department_names.get(d, "—") if d is not None else "—",
                    "real": result.real_departments[d], "simulated": result.simulated_departments[d]} for d in deps]
    return rows, departments


@allow(Role.ADMIN)
async def replay_job(request: web.Request) -> web.StreamResponse:
    job = _job(request)
    if request.path.endswith(".json"):
        return web.json_response({"done": job.done, "total": job.total, "finished": job.finished,
                                  "error": job.error})
    rows, departments = _tables(job.result) if job.result else ([], [])
    chart = bars_svg([(r["name"], r["real"], r["simulated"]) for r in rows[:20]], request[LOCALE]) \
        if job.result else ""
    return render(request, "routing_replay.html", {
        "start": job.start, "end": job.end, "draft_id": job.draft_id, "drafts": await _drafts(request), "job": job,
        "error": job.error, "chart": chart, "rows": rows, "departments": departments,
    })


@allow(Role.ADMIN)
async def replay_stop(request: web.Request) -> web.StreamResponse:
    job = _job(request)
    job.stop = True
    raise web.HTTPSeeOther(f"/admin/routing/replay/jobs/{job.id}")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/admin/routing/replay", replay_page)
    router.add_post("/admin/routing/replay", replay_start)
    router.add_get("/admin/routing/replay/jobs/{id}.json", replay_job)
    router.add_get("/admin/routing/replay/jobs/{id}", replay_job)
    router.add_post("/admin/routing/replay/jobs/{id}/stop", replay_stop)
