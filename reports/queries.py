"""The report queries: SQLAlchemy core, aggregated in the database, the same on SQLite and PostgreSQL.

Each report returns a ``Report``: its columns, its rows (already aggregated), totals and what the chart
plots. Times are counted in the agency's time zone (``ReportFilter.zone``); the range is by local days.

Definitions (one place each):
- received: inquiries created in the range;
- processed: taken in work (accepted, in work or closed) or answered (an outgoing message in its thread);
- positive: ``positive_result()`` — closed as done (an archived inquiry was refused or expired). The agency
  workflow plugs its funnel stages in with ``set_positive_result``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    union,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from crm_core.access import Actor
from crm_core.models import Call, Client, Department, Inquiry, InquiryStatus, Message, Property, User
from crm_core.models.agency import PropertyLink
from reports.binned import not_binned, number_not_binned
from reports.filters import ReportFilter
from reports.scope import call_scope, check_reach, inquiry_scope, user_scope
from reports.settings import ReportSettings
from workflow.quality import agent_scores

MISSED_OUTCOMES = ("abandoned", "no_answer")
WEEKDAYS = 7
HOURS = 24


# --- the definitions ---------------------------------------------------------------------------------------

def _done_is_positive() -> ColumnElement[bool]:
    return Inquiry.status == InquiryStatus.DONE


_positive: list[Callable[[], ColumnElement[bool]]] = [_done_is_positive]


def positive_result() -> ColumnElement[bool]:
    """The one test of "closed with a positive result", as a WHERE clause on ``Inquiry``."""
    return _positive[0]()


def set_positive_result(test: Callable[[], ColumnElement[bool]] | None) -> None:
    """Plug in another positive-result test (e.g. a deal reached a positive funnel stage); None restores."""
    _positive[0] = test or _done_is_positive


def processed() -> ColumnElement[bool]:
    answered = exists(select(Message.id).where(Message.inquiry_id == Inquiry.id, Message.direction == "out"))
    return or_(Inquiry.accepted_at.is_not(None),
               Inquiry.status.in_((InquiryStatus.IN_WORK, InquiryStatus.DONE)), answered)


def _flag(cond: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def seconds_between(dialect: str, later: ColumnElement, earlier: ColumnElement) -> ColumnElement[float]:
    if dialect == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)


# --- the result shape --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Col:
    key: str
    kind: str = "text"  # text | int | pct | num | dt | sec | min


@dataclass
class Report:
    name: str
    columns: list[Col]
    rows: list[tuple]
    totals: tuple | None = None
    chart: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    truncated: bool = False


def _share(part: int | float, whole: int | float) -> float | None:
    return None if not whole else part / whole


# --- funnel ------------------------------------------------------------------------------------------------

FUNNEL_GROUPS = ("department", "agent", "source")


def _inquiry_where(actor: Actor, f: ReportFilter, owner) -> list[ColumnElement[bool]]:  # noqa: ANN001
    where = [inquiry_scope(actor), Inquiry.created_at >= f.start, Inquiry.created_at < f.end]
    if f.department_id is not None:
        where.append(func.coalesce(Inquiry.department_id, owner.department_id) == f.department_id)
    if f.agent_id is not None:
        where.append(Inquiry.owner_id == f.agent_id)
    if f.source is not None:
        where.append(_source_label() == f.source)
    return where


def _source_label() -> ColumnElement[str]:
    return func.coalesce(Inquiry.source, Inquiry.channel)


async def funnel(s: AsyncSession, actor: Actor, f: ReportFilter, group: str = "department") -> Report:
    if group not in FUNNEL_GROUPS:
        raise ValueError(f"group must be one of {FUNNEL_GROUPS}")
    await check_reach(s, actor, f.department_id, f.agent_id)
    owner = aliased(User)
    dept = func.coalesce(Inquiry.department_id, owner.department_id)
    if group == "department":
        key, label = Department.id, Department.name
    elif group == "agent":
        key, label = owner.id, owner.full_name
    else:
        key = label = _source_label()
    stmt = (select(key.label("key"), label.label("label"), func.count(Inquiry.id).label("received"),
                   _flag(processed()).label("processed"), _flag(positive_result()).label("positive"))
            .select_from(Inquiry).outerjoin(owner, owner.id == Inquiry.owner_id))
    if group == "department":
        stmt = stmt.outerjoin(Department, Department.id == dept)
    stmt = stmt.where(*_inquiry_where(actor, f, owner)).group_by(key, label).order_by(func.count(Inquiry.id).desc())
    rows = []
    total = [0, 0, 0]
    for r in (await s.execute(stmt)).all():
        rec, proc, pos = int(r.received), int(r.processed), int(r.positive)
        rows.append((r.label, rec, proc, pos, _share(proc, rec), _share(pos, rec)))
        total = [total[0] + rec, total[1] + proc, total[2] + pos]
    totals = ("", *total, _share(total[1], total[0]), _share(total[2], total[0]))
    return Report(
        "funnel",
        [Col(group), Col("received", "int"), Col("processed", "int"), Col("positive", "int"),
         Col("processed_share", "pct"), Col("conversion", "pct")],
        rows, totals,
        chart={"stages": [("received", total[0]), ("processed", total[1]), ("positive", total[2])],
               "bars": [(r[0], r[1], r[3]) for r in rows[:30]]},
        summary={"group": group},
    )


# --- KPI ---------------------------------------------------------------------------------------------------

async def kpi(s: AsyncSession, actor: Actor, f: ReportFilter, settings: ReportSettings) -> Report:
    await check_reach(s, actor, f.department_id, f.agent_id)
    people = select(User.id, User.full_name, Department.name.label("dept")).outerjoin(
        Department, Department.id == User.department_id).where(user_scope(actor), User.is_active.is_(True),
                                                               User.role == "agent")
    if f.department_id is not None:
        people = people.where(User.department_id == f.department_id)
    if f.agent_id is not None:
        people = people.where(User.id == f.agent_id)
    agents = {r.id: r for r in (await s.execute(people.order_by(User.full_name)))}
    if not agents:
        return _kpi_report([], f, settings)
    calls = (select(Call.agent_id, func.count(Call.id).label("answered"),
                    func.coalesce(func.sum(Call.talk_s), 0).label("talk"))
             .where(Call.agent_id.in_(list(agents)), Call.answered_at.is_not(None),
                    Call.started_at >= f.start, Call.started_at < f.end, not_binned())
             .group_by(Call.agent_id))
    if f.source is not None:
        calls = calls.where(Call.did == f.source)
    by_calls = {r.agent_id: r for r in (await s.execute(calls))}
    inq = (select(Inquiry.owner_id, func.count(Inquiry.id).label("received"),
                  _flag(processed()).label("processed"), _flag(positive_result()).label("positive"))
           .where(Inquiry.owner_id.in_(list(agents)), Inquiry.created_at >= f.start, Inquiry.created_at < f.end)
           .group_by(Inquiry.owner_id))
    if f.source is not None:
        inq = inq.where(_source_label() == f.source)
    by_inq = {r.owner_id: r for r in (await s.execute(inq))}
    qc = await agent_scores(s, list(agents), f.start, f.end)
    rows = []
    for agent_id, a in agents.items():
        c, i = by_calls.get(agent_id), by_inq.get(agent_id)
        answered, talk_min = (int(c.answered), float(c.talk) / 60) if c else (0, 0.0)
        rec, proc, pos = (int(i.received), int(i.processed), int(i.positive)) if i else (0, 0, 0)
        rows.append((a.full_name, a.dept, answered, round(talk_min, 1), rec, proc, pos,
                     _share(proc, rec), _share(pos, rec), qc[agent_id][0] if agent_id in qc else None))
    return _kpi_report(rows, f, settings)


def _kpi_report(rows: list[tuple], f: ReportFilter, settings: ReportSettings) -> Report:
    norm = settings.kpi
    days = f.working_days
    norms = {"answered": norm.answered_calls_per_day * days, "talk_min": norm.talk_minutes_per_day * days,
             "processed_share": norm.processed_share, "conversion": norm.conversion}
    out = []
    for r in rows:
        attained = [_share(r[2], norms["answered"]), _share(r[3], norms["talk_min"]),
                    None if r[7] is None else _share(r[7], norms["processed_share"]),
                    None if r[8] is None else _share(r[8], norms["conversion"])]
        known = [a for a in attained if a is not None]
        out.append((*r[:9], sum(known) / len(known) if known else None, *r[9:]))
    return Report(
        "kpi",
        [Col("agent"), Col("department"), Col("answered", "int"), Col("talk_min", "num"), Col("received", "int"),
         Col("processed", "int"), Col("positive", "int"), Col("processed_share", "pct"), Col("conversion", "pct"),
         Col("norm_attained", "pct"), Col("qc_score", "pct")],
        out, None,
        chart={"bars": [(r[0], r[9] or 0.0) for r in out[:40]]},
        summary={"norms": norms, "working_days": days},
    )


# --- calls by hour and weekday -----------------------------------------------------------------------------

def _call_where(actor: Actor, f: ReportFilter) -> list[ColumnElement[bool]]:
    where = [call_scope(actor), Call.started_at >= f.start, Call.started_at < f.end, not_binned()]
    if f.agent_id is not None:
        where.append(Call.agent_id == f.agent_id)
    if f.department_id is not None:
        where.append(or_(Call.agent_id.in_(select(User.id).where(User.department_id == f.department_id)),
                         and_(Call.agent_id.is_(None), Call.inquiry_id.in_(
                             select(Inquiry.id).where(Inquiry.department_id == f.department_id)))))
    if f.source is not None:
        where.append(Call.did == f.source)
    return where


def _whole_hours(f: ReportFilter) -> bool:
    """Whether the zone is a whole number of hours from UTC across the range (winter and summer alike)."""
    moments = [f.start, f.end, *(datetime(y, m, 1, tzinfo=UTC) for y in {f.first_day.year, f.last_day.year}
                                  for m in (1, 7))]
    return all(int(m.astimezone(f.zone).utcoffset().total_seconds()) % 3600 == 0 for m in moments)


async def heatmap(s: AsyncSession, actor: Actor, f: ReportFilter) -> Report:
    """Inbound calls by local weekday (Monday first) and hour, with the missed ones among them."""
    await check_reach(s, actor, f.department_id, f.agent_id)
    where = [*_call_where(actor, f), Call.direction == "inbound"]
    missed = _flag(Call.outcome.in_(MISSED_OUTCOMES))
    grid = [[0] * HOURS for _ in range(WEEKDAYS)]
    lost = [[0] * HOURS for _ in range(WEEKDAYS)]
    dialect = s.bind.dialect.name
    if dialect == "postgresql":
        local = func.timezone(f.zone.key, Call.started_at)
        dow, hour = func.extract("isodow", local), func.extract("hour", local)
        stmt = select(dow, hour, func.count(Call.id), missed).where(*where).group_by(dow, hour)
        for d, h, n, m in (await s.execute(stmt)).all():
            grid[int(d) - 1][int(h)] += int(n)
            lost[int(d) - 1][int(h)] += int(m)
    else:
        # SQLite has no time zones: count per UTC hour in SQL (per quarter-hour where the zone's offset is not
        # whole hours), then place each bucket in local time.
        key = func.strftime("%Y-%m-%d %H", Call.started_at)
        if _whole_hours(f):
            stmt = select(key, literal(0), func.count(Call.id), missed).where(*where).group_by(key)
        else:
            quarter = cast(func.strftime("%M", Call.started_at), Integer) // 15
            stmt = select(key, quarter, func.count(Call.id), missed).where(*where).group_by(key, quarter)
        for k, quarter_no, n, m in (await s.execute(stmt)).all():
            at = datetime.strptime(k, "%Y-%m-%d %H").replace(tzinfo=UTC) + timedelta(minutes=15 * int(quarter_no))
            local = at.astimezone(f.zone)
            grid[local.weekday()][local.hour] += int(n)
            lost[local.weekday()][local.hour] += int(m)
    rows = [(d, *grid[d]) for d in range(WEEKDAYS)]
    total = sum(map(sum, grid))
    return Report("heatmap", [Col("weekday"), *(Col(f"h{h:02d}", "int") for h in range(HOURS))], rows,
                  None, chart={"grid": grid, "missed": lost},
                  summary={"total": total, "missed": sum(map(sum, lost)),
                           "peak": max(((grid[d][h], d, h) for d in range(7) for h in range(24)), default=None)})


# --- sources -----------------------------------------------------------------------------------------------

async def sources(s: AsyncSession, actor: Actor, f: ReportFilter, dids: dict[str, str] | None = None) -> Report:
    """Where inquiries came from — the dialed number (DID), the UTM source, the site, another channel — and
    how many of them turned into a positive result."""
    await check_reach(s, actor, f.department_id, f.agent_id)
    owner = aliased(User)
    utm = Inquiry.utm["utm_source"].as_string()
    kind = case((and_(Inquiry.channel == "call", Inquiry.did.is_not(None)), literal("did")),
                (and_(utm.is_not(None), utm != ""), literal("utm")),
                (Inquiry.channel == "webform", literal("site")), else_=Inquiry.channel)
    value = case((and_(Inquiry.channel == "call", Inquiry.did.is_not(None)), Inquiry.did),
                 (and_(utm.is_not(None), utm != ""), utm), else_=func.coalesce(Inquiry.source, literal("")))
    stmt = (select(kind.label("kind"), value.label("value"), func.count(Inquiry.id), _flag(processed()),
                   _flag(positive_result()))
            .select_from(Inquiry).outerjoin(owner, owner.id == Inquiry.owner_id)
            .where(*_inquiry_where(actor, f, owner)).group_by(kind, value).order_by(func.count(Inquiry.id).desc()))
    dids = dids or {}
    rows = []
    for k, v, rec, proc, pos in (await s.execute(stmt)).all():
        name = dids.get(v, "") if k == "did" else ""
        rows.append((k, v, name, int(rec), int(proc), int(pos), _share(int(pos), int(rec))))
    tot = [sum(r[i] for r in rows) for i in (3, 4, 5)]
    return Report("sources",
                  [Col("kind"), Col("source"), Col("ad_source"), Col("received", "int"), Col("processed", "int"),
                   Col("positive", "int"), Col("conversion", "pct")],
                  rows, ("", "", "", *tot, _share(tot[2], tot[0])),
                  chart={"bars": [(f"{r[1] or r[0]}" + (f" ({r[2]})" if r[2] else ""), r[3], r[5]) for r in rows[:30]]})


# --- calls per property ------------------------------------------------------------------------------------

async def properties(s: AsyncSession, actor: Actor, f: ReportFilter, limit: int = 500) -> Report:
    """Calls about each property: linked to it directly, or made on an inquiry about it."""
    await check_reach(s, actor, f.department_id, f.agent_id)
    in_range = (Call.started_at >= f.start, Call.started_at < f.end)  # narrows each branch before the union
    pairs = union(
        select(PropertyLink.property_id.label("property_id"), PropertyLink.call_id.label("call_id"))
        .join(Call, Call.id == PropertyLink.call_id).where(*in_range),
        select(Inquiry.property_id, Call.id).join(Call, Call.inquiry_id == Inquiry.id)
        .where(Inquiry.property_id.is_not(None), *in_range),
    ).subquery()
    n = func.count(Call.id)
    stmt = (select(Property.id, Property.address, Property.district, n, _flag(Call.answered_at.is_not(None)),
                   _flag(Call.outcome.in_(MISSED_OUTCOMES)), func.max(Call.started_at))
            .select_from(pairs).join(Call, Call.id == pairs.c.call_id)
            .join(Property, Property.id == pairs.c.property_id)
            .where(*_call_where(actor, f))
            .group_by(Property.id, Property.address, Property.district).order_by(n.desc(), Property.id)
            .limit(limit + 1))
    found = (await s.execute(stmt)).all()
    rows = [(r[0], r[1], r[2] or "", int(r[3]), int(r[4]), int(r[5]), r[6]) for r in found[:limit]]
    return Report("properties",
                  [Col("property_id", "int"), Col("address"), Col("district"), Col("calls", "int"),
                   Col("answered", "int"), Col("missed", "int"), Col("last_call", "dt")],
                  rows, None, chart={"bars": [(f"№{r[0]} {r[1]}", r[3], r[4]) for r in rows[:30]]},
                  truncated=len(found) > limit)


# --- missed calls and callbacks ----------------------------------------------------------------------------

async def missed(s: AsyncSession, actor: Actor, f: ReportFilter, settings: ReportSettings,
                 limit: int = 500) -> Report:
    """Missed and abandoned inbound calls, and how soon an outgoing call to the same number followed."""
    await check_reach(s, actor, f.department_id, f.agent_id)
    dialect = s.bind.dialect.name
    back = aliased(Call)
    missed_end = func.coalesce(Call.ended_at, Call.started_at)
    called_back = (select(func.min(back.started_at)).where(
        back.direction == "outbound", back.callee == Call.caller, back.started_at >= Call.started_at)
        .correlate(Call).scalar_subquery())
    base_select = (select(Call.id.label("id"), Call.started_at.label("at"), Call.caller.label("caller"),
                          Call.caller_name.label("name"), Call.queue.label("queue"), Call.outcome.label("outcome"),
                          Call.wait_s.label("wait_s"), missed_end.label("ended"), called_back.label("back_at"))
                   .where(*_call_where(actor, f), Call.direction == "inbound", Call.outcome.in_(MISSED_OUTCOMES)))
    # the summary reads each call's callback several times: computed once (a materialised CTE) where possible
    stats = base_select.cte("missed_calls")
    if _can_materialize(s):
        stats = stats.prefix_with("MATERIALIZED")
    delay = seconds_between(dialect, stats.c.back_at, stats.c.ended)
    edges = [m * 60 for m in settings.callback_buckets_min]
    bucket_cols = [_flag(and_(stats.c.back_at.is_not(None), delay <= e)) for e in edges]
    summary_row = (await s.execute(select(
        func.count(stats.c.id), func.count(stats.c.back_at), func.avg(delay), func.avg(stats.c.wait_s),
        _flag(stats.c.outcome == "abandoned"), *bucket_cols))).one()
    base = base_select.subquery()
    delay = seconds_between(dialect, base.c.back_at, base.c.ended)
    total, back_n, avg_delay, avg_wait, abandoned = summary_row[:5]
    cumulative = [int(x) for x in summary_row[5:]]
    buckets = []
    prev = 0
    for minutes, c in zip(settings.callback_buckets_min, cumulative, strict=True):
        buckets.append((f"≤{minutes}", c - prev))
        prev = c
    buckets.append(("later", int(back_n) - prev))
    buckets.append(("never", int(total) - int(back_n)))
    found = (await s.execute(select(base.c.at, base.c.caller, base.c.name, base.c.queue, base.c.outcome,
                                    base.c.wait_s, base.c.back_at, delay)
                             .order_by(base.c.at.desc(), base.c.id.desc()).limit(limit + 1))).all()
    rows = [(r[0], r[1] or "", r[2] or "", r[3] or "", r[4], r[5], r[6],
             None if r[7] is None else max(0.0, float(r[7]))) for r in found[:limit]]
    return Report("missed",
                  [Col("at", "dt"), Col("caller"), Col("caller_name"), Col("queue"), Col("outcome"),
                   Col("wait_s", "sec"), Col("called_back_at", "dt"), Col("callback_delay", "sec")],
                  rows, None, chart={"bars": [(k, v, 0) for k, v in buckets]},
                  summary={"total": int(total), "abandoned": int(abandoned), "called_back": int(back_n),
                           "avg_delay_s": None if avg_delay is None else max(0.0, float(avg_delay)),
                           "avg_wait_s": None if avg_wait is None else float(avg_wait),
                           "buckets": buckets},
                  truncated=len(found) > limit)


def _can_materialize(s: AsyncSession) -> bool:
    dialect = s.bind.dialect
    if dialect.name == "sqlite":
        return sqlite3.sqlite_version_info >= (3, 35, 0)
    return dialect.name == "postgresql" and (dialect.server_version_info or (0,)) >= (12,)


# --- the cold list -----------------------------------------------------------------------------------------

async def cold(s: AsyncSession, actor: Actor, f: ReportFilter, limit: int = 500) -> Report:
    """Numbers that called in the range and are nobody's client yet (no client, or a client without an owner)."""
    await check_reach(s, actor, f.department_id, f.agent_id)
    n = func.count(Call.id)
    last = func.max(Call.started_at)
    stmt = (select(Call.caller, func.max(Call.caller_name), n, _flag(Call.answered_at.is_not(None)),
                   func.min(Call.started_at), last)
            .select_from(Call).outerjoin(Client, Client.id == Call.client_id)
            .where(*_call_where(actor, f), Call.direction == "inbound", Call.caller.is_not(None),
                   Call.caller != "", Client.owner_id.is_(None), number_not_binned())
            .group_by(Call.caller).order_by(last.desc(), Call.caller).limit(limit + 1))
    found = (await s.execute(stmt)).all()
    rows = [(r[0], r[1] or "", int(r[2]), int(r[3]), r[4], r[5]) for r in found[:limit]]
    return Report("cold", [Col("caller"), Col("caller_name"), Col("calls", "int"), Col("answered", "int"),
                           Col("first_call", "dt"), Col("last_call", "dt")],
                  rows, None, summary={"numbers": len(rows)}, truncated=len(found) > limit)


REPORTS = ("funnel", "kpi", "heatmap", "sources", "properties", "missed", "cold")


async def run(name: str, s: AsyncSession, actor: Actor, f: ReportFilter, settings: ReportSettings, *,
              group: str = "department", dids: dict[str, str] | None = None, limit: int = 500) -> Report:
    """Run one report by its name (the pages and the exports go through here)."""
    if name == "funnel":
        return await funnel(s, actor, f, group)
    if name == "kpi":
        return await kpi(s, actor, f, settings)
    if name == "heatmap":
        return await heatmap(s, actor, f)
    if name == "sources":
        return await sources(s, actor, f, dids)
    if name == "properties":
        return await properties(s, actor, f, limit)
    if name == "missed":
        return await missed(s, actor, f, settings, limit)
    if name == "cold":
        return await cold(s, actor, f, limit)
    raise KeyError(name)
