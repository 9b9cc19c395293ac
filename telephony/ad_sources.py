"""Advertising sources beyond the dialed numbers: the UTM label → source table a web form's inquiry takes its
source from, and each source's cost per month (the sources report divides it by inquiries and deals).

Both are edited on the «Источники звонков» page (``telephony/views_ad_sources.py``); the pure helpers here
read what an admin typed (a month, an amount in roubles) and say what is wrong with it as a code.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.models.ad_sources import SourceCost, UtmSource

MAX_KOP = 10**15  # ten trillion roubles: anything above is a typo
_MONTH = (re.compile(r"^(\d{4})-(\d{1,2})$"), re.compile(r"^(\d{1,2})[./](\d{4})$"))
_AMOUNT = re.compile(r"^-?\d+(?:[.,]\d{1,2})?$")


class SourceFormError(ValueError):
    """One field the admin must correct: ``field`` (as the form names it) and ``code`` (a text key's tail)."""

    def __init__(self, field: str, code: str) -> None:
        super().__init__(f"{field}: {code}")
        self.field, self.code = field, code


class SourceFormErrors(ValueError):
    """Every field of one form at fault at once."""

    def __init__(self, errors: list[SourceFormError]) -> None:
        super().__init__("; ".join(map(str, errors)))
        self.errors = errors


def label(value: str | None) -> str:
    """A UTM label as the table keeps it: trimmed, lower-case (``Yandex `` and ``yandex`` are one label)."""
    return (value or "").strip().lower()[:200]


def parse_month(value: str) -> str:
    """``2026-12`` (a month input) or ``12.2026`` → ``2026-12``; ``SourceFormError('month', 'month')`` else."""
    raw = value.strip()
    for i, pattern in enumerate(_MONTH):
        m = pattern.match(raw)
        if m:
            year, month = (int(m[1]), int(m[2])) if i == 0 else (int(m[2]), int(m[1]))
            if 2000 <= year <= 2100 and 1 <= month <= 12:
                return f"{year:04d}-{month:02d}"
    raise SourceFormError("month", "month")


def parse_amount(value: str) -> int:
    """Roubles as typed (``30 000``, ``1500,50``) → kopecks; a negative or unreadable amount is refused."""
    raw = value.replace("\u00a0", "").replace(" ", "").replace("₽", "").strip()
    if not _AMOUNT.match(raw):
        raise SourceFormError("amount", "amount")
    if raw.startswith("-"):
        raise SourceFormError("amount", "negative")
    whole, _, frac = raw.replace(",", ".").partition(".")
    kop = int(whole) * 100 + int((frac + "00")[:2])
    if kop > MAX_KOP:
        raise SourceFormError("amount", "amount")
    return kop


def roubles(kop: int) -> str:
    """``3000050`` → ``30 000,50``; whole roubles without kopecks."""
    whole, rest = divmod(kop, 100)
    text = f"{whole:,}".replace(",", "\u00a0")
    return text if not rest else f"{text},{rest:02d}"


def month_days(month: str) -> tuple[date, date]:
    """The first day of ``YYYY-MM`` and the first day of the month after it."""
    year, m = int(month[:4]), int(month[5:7])
    return date(year, m, 1), date(year + m // 12, m % 12 + 1, 1)


def share_of_month(month: str, first_day: date, last_day: date) -> float:
    """Which part of the month the days ``first_day``..``last_day`` (inclusive) cover: 1.0 for the whole of it."""
    start, after = month_days(month)
    covered = (min(after.toordinal(), last_day.toordinal() + 1) - max(start.toordinal(), first_day.toordinal()))
    return max(0, covered) / (after - start).days


# --- the UTM table -----------------------------------------------------------------------------------------

class UtmTable:
    """The UTM table in memory for the form intake, where every form with a label would otherwise read it
    (a session and a query per form, at 100 forms a second). Read whole again after ``ttl_s`` — another
    instance's change applies within that — or at once after ``forget`` (the page's own saves)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], ttl_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._sessions, self._ttl_s, self._clock = sessions, ttl_s, clock
        self._rows: dict[tuple[str, str], str] | None = None
        self._read_at = 0.0

    def forget(self) -> None:
        self._rows = None

    async def source_for(self, utm_source: str | None, utm_campaign: str | None = None) -> str | None:
        """The source name for a form's labels: the row naming its campaign first, then the row for any
        campaign; None when the label is not in the table (the form keeps its own ``utm_source``)."""
        key = label(utm_source)
        if not key:
            return None
        rows = self._rows
        if rows is None or self._clock() - self._read_at > self._ttl_s:
            async with self._sessions() as s:
                rows = {(r.utm_source, r.utm_campaign): r.source for r in await all_utm(s)}
            self._rows, self._read_at = rows, self._clock()
        return rows.get((key, label(utm_campaign))) or rows.get((key, ""))


async def all_utm(s: AsyncSession) -> list[UtmSource]:
    return list((await s.execute(select(UtmSource).order_by(UtmSource.utm_source, UtmSource.utm_campaign)))
                .scalars())


@dataclass(frozen=True, slots=True)
class Saved:
    key: str
    before: dict | None
    after: dict | None


def _utm_key(row: UtmSource) -> str:
    return f"utm:{row.utm_source}" + (f"/{row.utm_campaign}" if row.utm_campaign else "")


async def save_utm(s: AsyncSession, utm_source: str, utm_campaign: str, source: str, actor_id: int | None,
                   row_id: int | None = None) -> Saved:
    """Add a label (``row_id`` None) or change one; the same label and campaign twice is refused."""
    key, campaign, name = label(utm_source), label(utm_campaign), source.strip()[:200]
    if not key:
        raise SourceFormError("utm_source", "utm_required")
    if not name:
        raise SourceFormError("source", "source_required")
    same = (await s.execute(select(UtmSource.id).where(UtmSource.utm_source == key,
                                                       UtmSource.utm_campaign == campaign))).scalar()
    if same is not None and same != row_id:
        raise SourceFormError("utm_source", "duplicate")
    row = None if row_id is None else await s.get(UtmSource, row_id)
    before = None
    if row is None:
        if row_id is not None:
            raise SourceFormError("utm_source", "gone")
        row = UtmSource(utm_source=key, utm_campaign=campaign, source=name, updated_by=actor_id)
        s.add(row)
    else:
        before = {"utm_source": row.utm_source, "utm_campaign": row.utm_campaign, "source": row.source}
        row.utm_source, row.utm_campaign, row.source, row.updated_by = key, campaign, name, actor_id
    await s.flush()
    return Saved(_utm_key(row), before, {"utm_source": key, "utm_campaign": campaign, "source": name})


async def delete_utm(s: AsyncSession, row_id: int) -> Saved | None:
    row = await s.get(UtmSource, row_id)
    if row is None:
        return None
    saved = Saved(_utm_key(row), {"utm_source": row.utm_source, "utm_campaign": row.utm_campaign,
                                  "source": row.source}, None)
    await s.execute(delete(UtmSource).where(UtmSource.id == row_id))
    return saved


# --- the costs ---------------------------------------------------------------------------------------------

async def all_costs(s: AsyncSession) -> list[SourceCost]:
    return list((await s.execute(select(SourceCost).order_by(SourceCost.month.desc(), SourceCost.source)))
                .scalars())


async def save_cost(s: AsyncSession, source: str, month: str, amount: str, actor_id: int | None) -> Saved:
    """Set a source's cost for a month (the month's earlier figure is replaced)."""
    name = source.strip()[:200]
    errors = []
    if not name:
        errors.append(SourceFormError("source", "source_required"))
    try:
        month = parse_month(month)
    except SourceFormError as exc:
        errors.append(exc)
    try:
        kop = parse_amount(amount)
    except SourceFormError as exc:
        errors.append(exc)
    if errors:
        raise SourceFormErrors(errors)
    row = (await s.execute(select(SourceCost).where(SourceCost.source == name, SourceCost.month == month)
                           )).scalar()
    before = None
    if row is None:
        row = SourceCost(source=name, month=month, amount_kop=kop, updated_by=actor_id)
        s.add(row)
    else:
        before = {"amount": roubles(row.amount_kop)}
        row.amount_kop, row.updated_by = kop, actor_id
    await s.flush()
    return Saved(f"cost:{name}/{month}", before, {"amount": roubles(kop)})


async def delete_cost(s: AsyncSession, row_id: int) -> Saved | None:
    row = await s.get(SourceCost, row_id)
    if row is None:
        return None
    saved = Saved(f"cost:{row.source}/{row.month}", {"amount": roubles(row.amount_kop)}, None)
    await s.execute(delete(SourceCost).where(SourceCost.id == row_id))
    return saved


async def costs_in_period(s: AsyncSession, first_day: date, last_day: date) -> dict[str, float]:
    """Each source's cost over the days ``first_day``..``last_day`` in roubles: a whole month counts its full
    cost, a part of a month its share by days (a week of a 31-day month: 7/31 of it)."""
    first, last = f"{first_day.year:04d}-{first_day.month:02d}", f"{last_day.year:04d}-{last_day.month:02d}"
    rows = (await s.execute(select(SourceCost.source, SourceCost.month, SourceCost.amount_kop).where(
        SourceCost.month >= first, SourceCost.month <= last))).all()
    out: dict[str, float] = {}
    for source, month, kop in rows:
        out[source] = out.get(source, 0.0) + kop / 100 * share_of_month(month, first_day, last_day)
    return out
