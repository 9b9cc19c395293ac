"""The settings journal: ``record_setting_change`` is called by every page that saves a part of the agency's
setup, inside the save's own transaction (the row is there exactly when the change is); ``page`` reads it back for
the «Журнал настроек» page, with the routing rules' published versions (``routing_rule_versions``) merged in as
links rather than copies."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import User, utcnow
from crm_core.models.routing_versions import RuleVersion
from crm_core.models.settings_audit import SettingChange

KINDS = ("routing", "script", "checklist", "word_list", "source", "queue", "user", "role", "department")
ROUTING = "routing"
MAX_JSON = 60_000  # a before/after bigger than this is stored cut, with a note


def _plain(value: Any) -> Any:
    """JSON-safe and bounded: what cannot be stored whole is kept as a note of its size."""
    if value is None:
        return None
    text = json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    if len(text) > MAX_JSON:
        return {"_cut": True, "_chars": len(text), "text": text[:MAX_JSON]}
    return json.loads(text)


async def record_setting_change(session: AsyncSession, actor_id: int | None, kind: str, key: str,
                                before: Any, after: Any, *, at: datetime | None = None) -> SettingChange | None:
    """One row (the caller commits); nothing when before and after are equal."""
    old, new = _plain(before), _plain(after)
    if old == new:
        return None
    row = SettingChange(actor_id=actor_id, kind=kind[:40], key=key[:200], before=old, after=new, at=at or utcnow())
    session.add(row)
    await session.flush()
    return row


@dataclass(frozen=True, slots=True)
class Entry:
    at: datetime
    kind: str
    key: str
    actor: str | None
    before: Any
    after: Any
    link: str | None = None  # the routing version's page


@dataclass(frozen=True, slots=True)
class Page:
    entries: list[Entry]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _where(stmt, column_at, column_actor, actor_id: int | None, start: datetime | None,  # noqa: ANN001, ANN202
           end: datetime | None):
    if actor_id is not None:
        stmt = stmt.where(column_actor == actor_id)
    if start is not None:
        stmt = stmt.where(column_at >= start)
    if end is not None:
        stmt = stmt.where(column_at < end)
    return stmt


async def page(s: AsyncSession, *, kind: str | None = None, actor_id: int | None = None,
               start: datetime | None = None, end: datetime | None = None, page_no: int = 1,
               per_page: int = 50) -> Page:
    """Newest first. The journal's rows and the published routing versions, filtered alike; only the page's
    rows are read (each source gives at most ``page_no * per_page`` newest rows, merged)."""
    want = page_no * per_page
    rows: list[Entry] = []
    total = 0
    names = {}
    if kind in (None, "", ROUTING):
        q = _where(select(RuleVersion).where(RuleVersion.state == "published"), RuleVersion.created_at,
                   RuleVersion.created_by, actor_id, start, end)
        total += (await s.execute(select(func.count()).select_from(q.subquery()))).scalar_one()
        for v in (await s.execute(q.order_by(RuleVersion.created_at.desc(), RuleVersion.id.desc()).limit(want))
                  ).scalars():
            rows.append(Entry(v.created_at, ROUTING, f"version:{v.id}", str(v.created_by or ""),
                              {"based_on": v.based_on}, {"kind": v.kind, "note": v.note},
                              link="/admin/routing/versions"))
    if kind != ROUTING:
        q = _where(select(SettingChange), SettingChange.at, SettingChange.actor_id, actor_id, start, end)
        if kind:
            q = q.where(SettingChange.kind == kind)
        total += (await s.execute(select(func.count()).select_from(q.subquery()))).scalar_one()
        for c in (await s.execute(q.order_by(SettingChange.at.desc(), SettingChange.id.desc()).limit(want))
                  ).scalars():
            rows.append(Entry(c.at, c.kind, c.key, str(c.actor_id or ""), c.before, c.after))
    rows.sort(key=lambda e: e.at, reverse=True)
    rows = rows[(page_no - 1) * per_page:want]
    ids = {int(e.actor) for e in rows if e.actor}
    if ids:
        found = await s.execute(select(User.id, User.full_name).where(User.id.in_(ids)))
        names = {row.id: row.full_name for row in found}
    rows = [Entry(e.at, e.kind, e.key, names.get(int(e.actor), e.actor) if e.actor else None, e.before, e.after,
                  e.link) for e in rows]
    return Page(rows, total, page_no, per_page)
