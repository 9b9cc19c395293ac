"""``/api/v1/reports/<name>``: the figures of the report pages as JSON — the same queries, the same reach (an
agent their own figures, a manager their departments', …) and the same hidden numbers (``privacy``), through
``reports.views._report``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from api.operations import Ctx, Op, Query
from api.problems import ApiProblem, FieldError
from reports import queries
from reports.views import _filter, _report

ROW = 2**31 - 1


class ReportQuery(Query):
    date_from: date | None = Field(default=None, description="The first day, in the agency's zone (default: "
                                   "30 days before date_to)")
    date_to: date | None = Field(default=None, description="The last day, inclusive (default: today)")
    department: int | None = Field(default=None, ge=0, le=ROW, description="A department id")
    agent: int | None = Field(default=None, ge=0, le=ROW, description="A person's id")
    source: str | None = Field(default=None, max_length=200)
    group: Literal["department", "agent", "source"] = Field(default="department", description="Funnel rows by")


class Column(BaseModel):
    key: str
    kind: str = Field(description="text, int, pct, num, dt, sec or min")


class ReportOut(BaseModel):
    name: str
    date_from: date
    date_to: date
    columns: list[Column]
    rows: list[list[Any]]
    totals: list[Any] | None
    summary: dict[str, Any]
    truncated: bool


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _handler(name: str) -> Callable[[Ctx], Awaitable[ReportOut]]:
    async def handler(ctx: Ctx) -> ReportOut:
        q: ReportQuery = ctx.query
        raw = {k: str(v) for k, v in q.model_dump(exclude_none=True).items()}
        zone = ZoneInfo(ctx.hub.settings.time_zone)

        class Shim:  # reports.views._filter reads request.query and the hub
            query = raw
            app = ctx.request.app

        f, errors = _filter(Shim, zone)  # type: ignore[arg-type]
        if errors:
            raise ApiProblem(400, "the request has invalid fields",
                             errors=[FieldError(field=f"query.{k}", message=v) for k, v in errors.items()])
        report = await _report(ctx.request, name, f, q.group, 5000)
        return ReportOut(name=name, date_from=f.first_day, date_to=f.last_day,
                         columns=[Column(key=c.key, kind=c.kind) for c in report.columns],
                         rows=[[_plain(v) for v in row] for row in report.rows],
                         totals=None if report.totals is None else [_plain(v) for v in report.totals],
                         summary={k: _plain(v) for k, v in report.summary.items()}, truncated=report.truncated)

    handler.__name__ = f"report_{name}"
    return handler


OPS = [Op("GET", f"/api/v1/reports/{name}", f"The «{name}» report's figures, as on its page", "reports",
          _handler(name), query=ReportQuery, response=ReportOut) for name in queries.REPORTS]
