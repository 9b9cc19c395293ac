"""The access log's writer: who read which client's data, kept in memory and written in batches.

``note`` is synchronous and costs a tuple append (a page view must not wait for the database); the writer
flushes every ``access_flush_s`` or when ``access_buffer`` rows wait, resolving a call's or a recording's
client in one query per batch. The same user reading the same thing within a minute (a player's range
requests, a reload) is one row. Rows still waiting when the hub stops are written on the way out.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.models import utcnow
from privacy import queries

log = logging.getLogger("hub.privacy")
KINDS = ("card", "api_card", "recording_play", "recording_download", "transcript", "export", "client_export",
         "erasure")
SAME_READ = timedelta(seconds=60)


@dataclass(slots=True)
class _Pending:
    at: datetime
    user_id: int | None
    kind: str
    client_id: int | None
    ref: str | None
    call_id: int | None = None
    recording_id: int | None = None


@dataclass
class AccessLog:
    sessions: async_sessionmaker[AsyncSession]
    flush_s: float = 1.0
    max_buffer: int = 500
    written: int = 0
    dropped: int = 0
    _rows: list[_Pending] = field(default_factory=list)
    _recent: dict[tuple, datetime] = field(default_factory=dict)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def state(self) -> str:
        return "running" if self._task is not None and not self._task.done() else "stopped"

    def note(self, user_id: int | None, kind: str, *, client_id: int | None = None, ref: str | None = None,
             call_id: int | None = None, recording_id: int | None = None, at: datetime | None = None) -> None:
        when = at or utcnow()
        key = (user_id, kind, client_id, ref)
        last = self._recent.get(key)
        if last is not None and when - last < SAME_READ:
            return
        self._recent[key] = when
        if len(self._recent) > 20000:
            self._recent.clear()
        self._rows.append(_Pending(when, user_id, kind, client_id, ref and ref[:200], call_id, recording_id))
        if len(self._rows) >= self.max_buffer:
            self._wake.set()

    async def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="privacy-access-log")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self.flush_s):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.flush()
            except Exception as exc:  # noqa: BLE001 - kept for the next pass, never lost silently
                log.warning("access log flush failed, %d rows wait: %s", len(self._rows), type(exc).__name__)

    async def flush(self) -> int:
        """Write what waits (one transaction); on failure the rows stay for the next pass."""
        async with self._lock:
            rows, self._rows = self._rows, []
            if not rows:
                return 0
            try:
                async with self.sessions() as s, s.begin():
                    by_call = await queries.clients_of_calls(s, (r.call_id for r in rows if r.call_id))
                    by_rec = await queries.clients_of_recordings(s, (r.recording_id for r in rows if r.recording_id))
                    await queries.write_access(s, [
                        {"at": r.at, "user_id": r.user_id, "kind": r.kind, "ref": r.ref,
                         "client_id": r.client_id if r.client_id is not None else
                         by_call.get(r.call_id) if r.call_id else by_rec.get(r.recording_id) if r.recording_id
                         else None}
                        for r in rows])
            except BaseException:
                if len(rows) + len(self._rows) <= 100 * self.max_buffer:
                    self._rows[:0] = rows
                else:
                    self.dropped += len(rows)
                raise
            self.written += len(rows)
            return len(rows)
