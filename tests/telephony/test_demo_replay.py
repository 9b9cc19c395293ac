"""The measurement of issue 19, item 1: the demo PBX's looped traces (``[asterisk] demo_traces``), 100 calls,
each loop with new call ids as the fake PBX gives them, through the call state machine and the call log —
once with the old rule (every call opens an inquiry: ``join_window_days = 0``) and once with the new one.
With the new rule the calls open at most one inquiry per caller who had none open."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from itertools import cycle

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

import crm_core.users
from bus.bus import EventBus
from config.settings import DatabaseSettings
from connectors.asterisk.settings import AsteriskSettings
from crm_core.db import create_engine, session_factory
from crm_core.demo import load_demo_data
from crm_core.intake import OPEN_STATUSES, IntakeService
from crm_core.migrate import migrate
from crm_core.models import Call, Channel, Contact, ContactKind, Inquiry
from crm_core.phones import try_normalize_phone
from telephony.call_log import CallLog, load_agents
from telephony.model import CallRecord
from tests.conftest import Db, _truncate_all

from .drive import drive
from .test_service import seed

CALLS = 100
LOOP_S = 600.0  # the demo's loop of traces, one every ten minutes: 100 calls span about three hours


def demo_calls(n: int, t0: float) -> list[CallRecord]:
    """``n`` calls of the demo PBX's looped traces; each loop gives the calls ids of their own, as the fake
    PBX shifts them, and happens ``LOOP_S`` later."""
    traces = AsteriskSettings().demo_traces
    runs = {name: drive(name, t0=0.0).records for name in traces}
    out: list[CallRecord] = []
    for turn, name in enumerate(cycle(traces)):
        shift = t0 + (turn // len(traces)) * LOOP_S + (turn % len(traces)) * LOOP_S / len(traces)
        for r in runs[name]:
            out.append(replace(
                r, uniqueid=f"{r.uniqueid}-{turn}", linkedid=f"{r.linkedid}-{turn}", started=r.started + shift,
                queued=r.queued + shift if r.queued else None, answered=r.answered + shift if r.answered else None,
                ended=r.ended + shift))
        if len(out) >= n:
            return out[:n]
    raise AssertionError("unreachable")


async def open_phones(db: Db) -> set[str]:
    async with db.sessions() as s:
        return set((await s.execute(select(Contact.value).join(Inquiry, Inquiry.client_id == Contact.client_id).where(
            Contact.kind == ContactKind.PHONE, Inquiry.status.in_(OPEN_STATUSES)))).scalars())


async def replay(db: Db, join_window_days: float, agency: str) -> tuple[int, int, int]:
    """(calls stored, call inquiries the calls opened, distinct callers who had no open inquiry before)."""
    if agency == "demo":
        await load_demo_data(db.sessions, password="demo-password-1")
    else:
        await seed(db)  # three agents and one client without an inquiry
    had_open = await open_phones(db)
    log = CallLog(db.sessions, IntakeService(db.sessions, EventBus()), join_window_days=join_window_days)
    agents = await load_agents(db.sessions)
    for record in demo_calls(CALLS, time.time() - 4 * 3600):
        await log.store(record, agents)
    async with db.sessions() as s:
        stored = (await s.execute(select(func.count()).select_from(Call).where(
            Call.uniqueid.not_like("demo-%")))).scalar()  # not the demo agency's own stored call
        opened = (await s.execute(select(func.count()).select_from(Inquiry).where(
            Inquiry.channel == Channel.CALL, Inquiry.external_id.not_like("demo-%")))).scalar()
        callers = {try_normalize_phone(c) for c in (await s.execute(
            select(Call.caller).where(Call.direction == "inbound"))).scalars()}
    return stored, opened, len({c for c in callers if c} - had_open)


@contextlib.asynccontextmanager
async def fresh(db: Db, tmp_path) -> AsyncIterator[Db]:  # noqa: ANN001
    """Another empty database on the same backend, for the run with the old rule."""
    if db.backend != "sqlite":
        yield db  # PostgreSQL: the same database, emptied after the run
        await _truncate_all(db.engine)
        return
    engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'before.sqlite3'}"))
    await migrate(engine)
    try:
        yield Db(str(engine.url), engine, session_factory(engine))
    finally:
        await engine.dispose()


@pytest.mark.parametrize("agency", ["demo", "agents_only"])
async def test_100_demo_calls_open_at_most_one_inquiry_per_caller_without_one(db, tmp_path, capsys, monkeypatch,
                                                                               agency):  # noqa: ANN001
    monkeypatch.setattr(crm_core.users, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    began = time.monotonic()
    async with fresh(db, tmp_path) as old:
        before = await replay(old, 0, agency)
    took_before = time.monotonic() - began
    began = time.monotonic()
    after = await replay(db, 30, agency)
    took = time.monotonic() - began
    with capsys.disabled():
        print(f"\n[{db.backend}, {agency}] {CALLS} demo calls: call inquiries before {before[1]}, after {after[1]}; "
              f"callers without an open inquiry {after[2]}; {took_before:.1f} s + {took:.1f} s")
    assert before[0] == after[0] == CALLS
    assert before[1] > CALLS // 2  # the old rule: nearly an inquiry per call
    assert after[1] <= after[2]
    assert took_before < 60 and took < 60
