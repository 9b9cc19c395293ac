"""Versions of the routing rules: every publication is stored whole (who, when, what kind of change), drafts are
kept beside them for the what-if replay, and any old version can be put back in one step (a new version).

The running rules stay in ``routing_rules`` (``queries.save_rule_data`` validates and replaces them, and bumps
the counter the routing services watch); this module only records each publication next to it.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.models import User, utcnow
from crm_core.models.routing_versions import RuleVersion
from routing.queries import load_rule_data, rules_to_toml, save_rule_data
from routing.rules import compile_rules

log = logging.getLogger("hub.routing")
PUBLISHED, DRAFT = "published", "draft"


@dataclass(frozen=True, slots=True)
class Change:
    """One line of "what changed": a rule added, removed or changed (with the fields), the default rule."""

    kind: str  # added | removed | changed | moved | default | territories
    rule_id: str
    fields: tuple[str, ...] = ()


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    old = {r["id"]: r for r in before.get("rules", [])}
    new = {r["id"]: r for r in after.get("rules", [])}
    out = [Change("added", k) for k in new if k not in old]
    out += [Change("removed", k) for k in old if k not in new]
    for key in new.keys() & old.keys():
        a, b = old[key], new[key]
        fields = sorted(f for f in set(a) | set(b) if f != "priority" and a.get(f) != b.get(f))
        fields += sorted(f"when.{w}" for w in set(a.get("when") or {}) | set(b.get("when") or {})
                         if (a.get("when") or {}).get(w) != (b.get("when") or {}).get(w))
        if fields:
            out.append(Change("changed", key, tuple(f for f in fields if f != "when")))
    order_old = [k for k in sorted(old, key=lambda k: old[k]["priority"]) if k in new]
    order_new = [k for k in sorted(new, key=lambda k: new[k]["priority"]) if k in old]
    if order_old != order_new:
        out.append(Change("moved", ", ".join(order_new)))
    if (before.get("default") or {}) != (after.get("default") or {}):
        out.append(Change("default", "default"))
    if before.get("territories", []) != after.get("territories", []):
        out.append(Change("territories", ""))
    return sorted(out, key=lambda c: (c.kind, c.rule_id))


def text_diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """The change as lines of the TOML form (for the page's "show the text" part)."""
    return "".join(difflib.unified_diff(rules_to_toml(before).splitlines(keepends=True),
                                        rules_to_toml(after).splitlines(keepends=True), "было", "стало", n=2))


async def _record(s: AsyncSession, state: str, kind: str, data: Mapping[str, Any], actor_id: int | None,
                  note: str = "", based_on: int | None = None) -> RuleVersion:
    row = RuleVersion(state=state, kind=kind, data=dict(data), note=note[:200], based_on=based_on,
                      created_at=utcnow(), created_by=actor_id)
    s.add(row)
    await s.flush()
    return row


async def publish(sessions: async_sessionmaker[AsyncSession], data: Mapping[str, Any], actor_id: int | None,
                  kind: str = "save", note: str = "", based_on: int | None = None) -> int:
    """Validate and put ``data`` to work (``RuleSetError`` when it is refused: nothing changes), then record
    it as a new version. The first publication also records what ran before it, so it can be put back."""
    data = {k: v for k, v in data.items() if k != "version"}
    async with sessions() as s, s.begin():
        first = (await s.execute(select(func.count()).select_from(RuleVersion)
                                 .where(RuleVersion.state == PUBLISHED))).scalar_one() == 0
        before = await load_rule_data(s) if first else None
        if before is not None and (before["rules"] or before.get("default") or before["territories"]):
            await _record(s, PUBLISHED, "initial", before, None)
    await save_rule_data(sessions, data, actor_id)
    async with sessions() as s, s.begin():
        row = await _record(s, PUBLISHED, kind, data, actor_id, note, based_on)
        number = row.id
    log.info("routing rules version %d published (%s) by user=%s", number, kind, actor_id)
    return number


async def save_draft(sessions: async_sessionmaker[AsyncSession], data: Mapping[str, Any], actor_id: int | None,
                     draft_id: int | None = None, note: str = "") -> int:
    """Validate and keep a draft (a new one, or replace ``draft_id``); the running rules are not touched."""
    data = {k: v for k, v in data.items() if k != "version"}
    compile_rules(data)
    async with sessions() as s, s.begin():
        row = await s.get(RuleVersion, draft_id) if draft_id is not None else None
        if row is None or row.state != DRAFT:
            row = await _record(s, DRAFT, "draft", data, actor_id, note)
        else:
            row.data, row.created_at, row.created_by = dict(data), utcnow(), actor_id
            if note:
                row.note = note[:200]
        return row.id


async def get_version(s: AsyncSession, version_id: int) -> RuleVersion | None:
    return await s.get(RuleVersion, version_id)


async def publish_draft(sessions: async_sessionmaker[AsyncSession], draft_id: int, actor_id: int | None) -> int:
    async with sessions() as s:
        draft = await s.get(RuleVersion, draft_id)
        if draft is None or draft.state != DRAFT:
            raise LookupError(draft_id)
        data, note = dict(draft.data), draft.note
    number = await publish(sessions, data, actor_id, "publish", note, based_on=draft_id)
    async with sessions() as s, s.begin():
        draft = await s.get(RuleVersion, draft_id)
        if draft is not None:
            await s.delete(draft)  # the draft lives on as the published version
    return number


async def rollback(sessions: async_sessionmaker[AsyncSession], version_id: int, actor_id: int | None) -> int:
    async with sessions() as s:
        old = await s.get(RuleVersion, version_id)
        if old is None or old.state != PUBLISHED:
            raise LookupError(version_id)
        data = dict(old.data)
    return await publish(sessions, data, actor_id, "rollback", based_on=version_id)


@dataclass(frozen=True, slots=True)
class VersionRow:
    id: int
    state: str
    kind: str
    note: str
    created_at: datetime
    author: str
    based_on: int | None
    changes: tuple[Change, ...]
    diff: str


async def history(s: AsyncSession, state: str = PUBLISHED, limit: int = 30) -> list[VersionRow]:
    """The latest versions, newest first, each with what changed against the one before it."""
    rows = (await s.execute(select(RuleVersion, User.full_name).outerjoin(User, User.id == RuleVersion.created_by)
                            .where(RuleVersion.state == state).order_by(RuleVersion.id.desc())
                            .limit(limit + 1))).all()
    current = await load_rule_data(s) if state == DRAFT else None
    out = []
    for n, (row, author) in enumerate(rows[:limit]):
        older = rows[n + 1][0].data if n + 1 < len(rows) else {"rules": []}
        previous = current if current is not None else older  # a draft is compared with the running rules
        out.append(VersionRow(row.id, row.state, row.kind, row.note, row.created_at, author or "—", row.based_on,
                              tuple(changes(previous, row.data)), text_diff(previous, row.data)))
    return out
