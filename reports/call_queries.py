"""The call reports: inbound calls by hour and weekday, calls per property, missed calls and callbacks, and
the cold list of numbers nobody owns yet.

Counted on ``Call`` rows, in the agency's time zone (``ReportFilter.zone``), the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Integer, and_, cast, func, literal, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from crm_core.access import Actor
from crm_core.models import Call, Client, Inquiry, Property, User
from crm_core.models.agency import PropertyLink
from reports.binned import not_binned, number_not_binned
from reports.definitions import MISSED_OUTCOMES, Col, Report, flag, seconds_between
from reports.filters import ReportFilter
from reports.scope import call_scope, check_reach
from reports.settings import ReportSettings

WEEKDAYS = 7
HOURS = 24


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
    missed = flag(Call.outcome.in_(MISSED_OUTCOMES))
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
    stmt = (select(Property.id, Property.address, Property.district, n, flag(Call.answered_at.is_not(None)),
                   flag(Call.outcome.in_(MISSED_OUTCOMES)), func.max(Call.started_at))
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
    bucket_cols = [flag(and_(stats.c.back_at.is_not(None), delay <= e)) for e in edges]
    summary_row = (await s.execute(select(
        func.count(stats.c.id), func.count(stats.c.back_at), func.avg(delay), func.avg(stats.c.wait_s),
        flag(stats.c.outcome == "abandoned"), *bucket_cols))).one()
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
    stmt = (select(Call.caller, func.max(Call.caller_name), n, flag(Call.answered_at.is_not(None)),
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
