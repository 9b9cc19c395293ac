"""The administrator's directories for deals: the funnel stages (a default list, and a department's own list
copied from it) and the directory of step results, with the defaults created on first use."""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agency.deal_forms import DealError, ResultInput
from crm_core.access import Actor, Forbidden, NotFound
from crm_core.models.agency import FunnelStage, ResultKind

log = logging.getLogger("hub.deals")

DEFAULT_LIST = 0
DEFAULT_STAGES: tuple[tuple[str, bool], ...] = (
    ("Новая", False), ("Подбор вариантов", False), ("Просмотры", False), ("Договор", True),
    ("Сделка закрыта", True),
)
DEFAULT_RESULTS: tuple[tuple[str, str, bool], ...] = (
    ("Клиент заинтересован", "any", False), ("Просмотр проведён", "viewing", True),
    ("Просмотр не состоялся", "viewing", False), ("Договор подписан", "contract", True),
    ("Клиент отказался", "any", False), ("Перезвонить позже", "action", False),
)


async def ensure_defaults(sessions: async_sessionmaker[AsyncSession]) -> None:
    """The default stage list and results directory, created once when missing (safe to run concurrently)."""
    async with sessions() as s:
        has_stages = (await s.execute(select(FunnelStage.id).where(FunnelStage.list_key == DEFAULT_LIST)
                                      .limit(1))).first()
        has_results = (await s.execute(select(ResultKind.id).limit(1))).first()
    if has_stages and has_results:
        return
    try:
        async with sessions() as s, s.begin():
            if not has_stages:
                for pos, (name, positive) in enumerate(DEFAULT_STAGES):
                    s.add(FunnelStage(list_key=DEFAULT_LIST, name=name, position=pos, positive=positive))
            if not has_results:
                for pos, (name, applies_to, positive) in enumerate(DEFAULT_RESULTS):
                    s.add(ResultKind(name=name, applies_to=applies_to, positive=positive, position=pos))
    except IntegrityError:
        pass  # another request created them a moment before


async def stage_list_key(session: AsyncSession, department_id: int | None) -> int:
    """The department's own list when it has one, else the default list."""
    if department_id is None:
        return DEFAULT_LIST
    own = (await session.execute(select(FunnelStage.id).where(FunnelStage.list_key == department_id)
                                 .limit(1))).first()
    return department_id if own else DEFAULT_LIST


async def stages(session: AsyncSession, list_key: int, *, active_only: bool = True) -> list[FunnelStage]:
    stmt = select(FunnelStage).where(FunnelStage.list_key == list_key)
    if active_only:
        stmt = stmt.where(FunnelStage.active.is_(True))
    return list((await session.execute(stmt.order_by(FunnelStage.position, FunnelStage.id))).scalars())


async def results(session: AsyncSession, *, active_only: bool = True) -> list[ResultKind]:
    stmt = select(ResultKind)
    if active_only:
        stmt = stmt.where(ResultKind.active.is_(True))
    return list((await session.execute(stmt.order_by(ResultKind.position, ResultKind.id))).scalars())


def _admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise Forbidden("directory")


def _name(value: str, limit: int) -> str:
    name = " ".join((value or "").split())
    if not name:
        raise DealError("name", "a name is required")
    if len(name) > limit:
        raise DealError("name", f"at most {limit} characters")
    return name


async def add_stage(sessions: async_sessionmaker[AsyncSession], actor: Actor, list_key: int, name: str,
                    positive: bool) -> int:
    _admin(actor)
    name = _name(name, 100)
    try:
        async with sessions() as s, s.begin():
            last = (await s.execute(select(func.max(FunnelStage.position))
                                    .where(FunnelStage.list_key == list_key))).scalar()
            stage = FunnelStage(list_key=list_key, name=name, position=(last or 0) + 1, positive=positive)
            s.add(stage)
            await s.flush()
            log.info("stage=%s %r added to list=%s by admin=%s", stage.id, name, list_key, actor.user_id)
            return stage.id
    except IntegrityError:
        raise DealError("name", "this list already has a stage with this name") from None


async def copy_default_stages(sessions: async_sessionmaker[AsyncSession], actor: Actor, department_id: int) -> None:
    """Give a department its own list, starting as a copy of the default one."""
    _admin(actor)
    async with sessions() as s, s.begin():
        if (await s.execute(select(FunnelStage.id).where(FunnelStage.list_key == department_id).limit(1))).first():
            raise DealError("department", "the department already has its own list")
        for st in await stages(s, DEFAULT_LIST, active_only=False):
            s.add(FunnelStage(list_key=department_id, name=st.name, position=st.position, positive=st.positive,
                              active=st.active))


async def update_stage(sessions: async_sessionmaker[AsyncSession], actor: Actor, stage_id: int, *,
                       name: str | None = None, positive: bool | None = None, active: bool | None = None,
                       move: str | None = None) -> None:
    _admin(actor)
    try:
        async with sessions() as s, s.begin():
            stage = await s.get(FunnelStage, stage_id)
            if stage is None:
                raise NotFound("stage")
            if name is not None:
                stage.name = _name(name, 100)
            if positive is not None:
                stage.positive = positive
            if active is not None:
                stage.active = active
            if move in ("up", "down"):
                ordered = await stages(s, stage.list_key, active_only=False)
                i = next(n for n, st in enumerate(ordered) if st.id == stage.id)
                j = i - 1 if move == "up" else i + 1
                if 0 <= j < len(ordered):
                    ordered[i], ordered[j] = ordered[j], ordered[i]
                for pos, st in enumerate(ordered):
                    st.position = pos
            await s.flush()
    except IntegrityError:
        raise DealError("name", "this list already has a stage with this name") from None
    log.info("stage=%s changed by admin=%s", stage_id, actor.user_id)


async def save_result(sessions: async_sessionmaker[AsyncSession], actor: Actor, data: ResultInput,
                      result_id: int | None = None) -> int:
    _admin(actor)
    try:
        async with sessions() as s, s.begin():
            if result_id is None:
                last = (await s.execute(select(func.max(ResultKind.position)))).scalar()
                item = ResultKind(position=(last or 0) + 1)
                s.add(item)
            else:
                item = await s.get(ResultKind, result_id)
                if item is None:
                    raise NotFound("result")
            item.name, item.applies_to, item.positive, item.active = (data.name, data.applies_to, data.positive,
                                                                      data.active)
            await s.flush()
            return item.id
    except IntegrityError:
        raise DealError("name", "the directory already has this result") from None
