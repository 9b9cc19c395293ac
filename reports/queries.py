"""The report queries: SQLAlchemy core, aggregated in the database, the same on SQLite and PostgreSQL.

Here: the inquiry reports (funnel, KPI, sources) and ``run``, which runs any report by its name; the call
reports are in ``reports.call_queries``, the definitions and the result shape in ``reports.definitions``.
Times are counted in the agency's time zone (``ReportFilter.zone``); the range is by local days.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from crm_core.access import Actor
from crm_core.models import Call, Department, Inquiry, User
from reports.binned import not_binned
from reports.call_queries import cold, heatmap, missed, properties
from reports.definitions import Col, Report, flag, positive_result, processed, share
from reports.filters import ReportFilter
from reports.scope import check_reach, inquiry_scope, user_scope
from reports.settings import ReportSettings
from reports.source_costs import deal_made, name_key, spread, unused
from telephony.ad_sources import costs_in_period
from workflow.quality import agent_scores

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
                   flag(processed()).label("processed"), flag(positive_result()).label("positive"))
            .select_from(Inquiry).outerjoin(owner, owner.id == Inquiry.owner_id))
    if group == "department":
        stmt = stmt.outerjoin(Department, Department.id == dept)
    stmt = stmt.where(*_inquiry_where(actor, f, owner)).group_by(key, label).order_by(func.count(Inquiry.id).desc())
    rows = []
    total = [0, 0, 0]
    for r in (await s.execute(stmt)).all():
        rec, proc, pos = int(r.received), int(r.processed), int(r.positive)
        rows.append((r.label, rec, proc, pos, share(proc, rec), share(pos, rec)))
        total = [total[0] + rec, total[1] + proc, total[2] + pos]
    totals = ("", *total, share(total[1], total[0]), share(total[2], total[0]))
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
                  flag(processed()).label("processed"), flag(positive_result()).label("positive"))
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
                     share(proc, rec), share(pos, rec), qc[agent_id][0] if agent_id in qc else None))
    return _kpi_report(rows, f, settings)


def _kpi_report(rows: list[tuple], f: ReportFilter, settings: ReportSettings) -> Report:
    norm = settings.kpi
    days = f.working_days
    norms = {"answered": norm.answered_calls_per_day * days, "talk_min": norm.talk_minutes_per_day * days,
             "processed_share": norm.processed_share, "conversion": norm.conversion}
    out = []
    for r in rows:
        attained = [share(r[2], norms["answered"]), share(r[3], norms["talk_min"]),
                    None if r[7] is None else share(r[7], norms["processed_share"]),
                    None if r[8] is None else share(r[8], norms["conversion"])]
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


# --- sources -----------------------------------------------------------------------------------------------

async def sources(s: AsyncSession, actor: Actor, f: ReportFilter, dids: dict[str, str] | None = None) -> Report:
    """Where inquiries came from — the dialed number (DID), the UTM source, the site, another channel — how many
    of them turned into a positive result and a deal, and, where the source's monthly cost is set, what the
    period cost, per inquiry and per deal (``reports.source_costs``)."""
    await check_reach(s, actor, f.department_id, f.agent_id)
    owner = aliased(User)
    utm = Inquiry.utm["utm_source"].as_string()
    is_did = and_(Inquiry.channel == "call", Inquiry.did.is_not(None))
    kind = case((is_did, literal("did")), (and_(utm.is_not(None), utm != ""), literal("utm")),
                (Inquiry.channel == "webform", literal("site")), else_=Inquiry.channel)
    value = case((is_did, Inquiry.did),
                 (and_(utm.is_not(None), utm != ""), utm), else_=func.coalesce(Inquiry.source, literal("")))
    named = case((is_did, literal(None)), else_=Inquiry.source)  # a form's source named from its UTM label
    stmt = (select(kind.label("kind"), value.label("value"), named.label("named"), func.count(Inquiry.id),
                   flag(processed()), flag(positive_result()), flag(deal_made()))
            .select_from(Inquiry).outerjoin(owner, owner.id == Inquiry.owner_id)
            .where(*_inquiry_where(actor, f, owner)).group_by(kind, value, named)
            .order_by(func.count(Inquiry.id).desc()))
    dids = dids or {}

    def ad_name(k: str, v: str, named: str | None) -> str:
        return dids.get(v, "") if k == "did" else (named or "") if k == "utm" and named != v else ""

    found = [(k, v, ad_name(k, v, n), int(rec), int(proc), int(pos), int(deals))
             for k, v, n, rec, proc, pos, deals in (await s.execute(stmt)).all()]
    costs = await costs_in_period(s, f.first_day, f.last_day)
    agency: dict[str, int] = {}
    if costs:  # every inquiry of each source in the period, beyond the report's reach and filters
        every = (select(kind, value, named, func.count(Inquiry.id)).where(Inquiry.created_at >= f.start,
                                                                          Inquiry.created_at < f.end)
                 .group_by(kind, value, named))
        for k, v, n, count in (await s.execute(every)).all():
            key = name_key(ad_name(k, v, n) or v)
            agency[key] = agency.get(key, 0) + int(count)
    money = spread([(r[2] or r[1], r[3], r[6]) for r in found], costs, agency)
    rows: list[tuple[Any, ...]] = [(*r[:6], share(r[5], r[3]), r[6], m.cost, m.per_inquiry, m.per_deal)
                                   for r, m in zip(found, money, strict=True)]
    if actor.is_admin and f.department_id is None and f.agent_id is None and f.source is None:
        rows += [("", "", name, 0, 0, 0, None, 0, cost, None, None)
                 for name, cost in unused(costs, [r[2] or r[1] for r in found])]  # spent, and nobody came
    tot = [sum(r[i] for r in rows) for i in (3, 4, 5, 7)]
    paid = [r for r in rows if r[8] is not None]  # the rows with a cost: the totals' cost per inquiry and deal
    cost = round(sum(r[8] for r in paid), 2) if paid else None
    paid_received, paid_deals = sum(r[3] for r in paid), sum(r[7] for r in paid)
    return Report("sources",
                  [Col("kind"), Col("source"), Col("ad_source"), Col("received", "int"), Col("processed", "int"),
                   Col("positive", "int"), Col("conversion", "pct"), Col("deals", "int"), Col("cost", "rub"),
                   Col("cost_per_inquiry", "rub"), Col("cost_per_deal", "rub")],
                  rows, ("", "", "", *tot[:3], share(tot[2], tot[0]), tot[3], cost,
                         None if cost is None or not paid_received else round(cost / paid_received, 2),
                         None if cost is None or not paid_deals else round(cost / paid_deals, 2)),
                  chart={"bars": [(f"{r[1] or r[0]}" + (f" ({r[2]})" if r[2] else ""), r[3], r[5]) for r in rows[:30]
                                  if r[3]]})


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
