"""What the hub stored during ``bench.day``, read back from its database after the load: the calls by
Linkedid, the incoming messages by (channel, external id) with their inquiry, the quarantined mail."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import func, select

from bench.day_load import Sent
from config.settings import DatabaseSettings
from crm_core.db import create_engine, session_factory
from crm_core.models import Call, Message
from crm_core.models.quarantine import QuarantinedMail

SENT_CHANNELS = ("webform", "email", "telegram")  # what the load sends as messages (a call is its own record)


class Stored:
    def __init__(self, url: str) -> None:
        self.engine = create_engine(DatabaseSettings(url=url))
        self.sessions = session_factory(self.engine)

    async def counts(self) -> tuple[int, int, int]:
        """(calls stored, incoming messages, quarantined mails)."""
        async with self.sessions() as s:
            calls = (await s.execute(select(func.count()).select_from(Call))).scalar_one()
            messages = (await s.execute(select(func.count()).select_from(Message).where(
                Message.direction == "in", Message.channel.in_(SENT_CHANNELS)))).scalar_one()
            quarantined = (await s.execute(select(func.count()).select_from(QuarantinedMail))).scalar_one()
        return calls, messages, quarantined

    async def wait_for(self, sent: Sent, limit_s: float) -> float:
        """Wait until as many records as outside ids are there (or ``limit_s``); returns the wait."""
        began = time.monotonic()
        await asyncio.sleep(3.0)  # the last calls are still up: answered.txt lasts 2.6 s
        expected = len(sent.forms) + len(sent.mails) + len(sent.updates)
        while time.monotonic() - began < limit_s:
            calls, messages, quarantined = await self.counts()
            if calls >= len(sent.calls) and messages + quarantined >= expected:
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(1.0)  # a last pop-up or assignment on its way to a socket
        return time.monotonic() - began

    async def read(self) -> dict:
        async with self.sessions() as s:
            calls = list((await s.execute(select(Call.linkedid))).scalars())
            messages = [tuple(r) for r in (await s.execute(
                select(Message.channel, Message.external_id, Message.inquiry_id).where(Message.direction == "in")))]
            quarantined = (await s.execute(select(func.count()).select_from(QuarantinedMail))).scalar_one()
        return {"calls": calls, "messages": messages, "quarantined": quarantined}

    async def close(self) -> None:
        await self.engine.dispose()
