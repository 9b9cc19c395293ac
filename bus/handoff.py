"""What a leader hands to the next one, kept in ``cluster_leader_state``, and the fencing epoch.

At every election the new leader increments the row's ``epoch`` (it is the fencing token) and reads the
state the previous leader left. While it leads it saves its state as soon as it changed (``poke``, called
for every AMI event, wakes the saving task; one save at a time, so a burst is one or two saves) with
``WHERE epoch = mine``: once a newer leader exists, a stale one's save changes
nothing, and it learns that it was fenced off.

For the PBX session the state is the live calls: the AMI cannot tell a newcomer when a call that is still
up started, who answered it or what it was queued for, so without this hand-off a call that outlives its
leader would end unrecorded. The successor restores the calls before it logs in; its resync closes those
that ended meanwhile (``lost_track``) and keeps the others, whose hang-up it then records as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from typing import TYPE_CHECKING, Any, Protocol

from bus import pg

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger("hub.handoff")


class State(Protocol):
    def snapshot(self) -> dict | str | None:
        """The state to save (or its JSON text), or None when it has not changed since the last call."""

    def restore(self, data: dict) -> None: ...


class Handoff:
    def __init__(self, dsn: str, name: str, instance: str, state: State, *, every_s: float = 0.1) -> None:
        self.dsn, self.name, self.instance, self.state = dsn, name, instance, state
        self.every_s = every_s
        self.epoch = 0
        self.saves = 0
        self.fenced = False
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    def poke(self) -> None:
        """The state changed: save it now (synchronous; the save itself runs on the saving task)."""
        self._changed.set()

    async def claim(self) -> None:
        """Take the next epoch and restore what the previous leader left (call before the consumer starts)."""
        self.fenced = False
        self._conn = await pg.asyncpg().connect(self.dsn, timeout=5)
        row = await self._conn.fetchrow(
            "INSERT INTO cluster_leader_state (name, epoch, holder, data, saved_at) "
            "VALUES ($1, 1, $2, '{}', now()) ON CONFLICT (name) DO UPDATE "
            "SET epoch = cluster_leader_state.epoch + 1, holder = EXCLUDED.holder RETURNING epoch, data",
            self.name, self.instance)
        self.epoch = row["epoch"]
        data = json.loads(row["data"]) if isinstance(row["data"], str) else row["data"]
        if data:
            try:
                self.state.restore(data)
            except Exception:  # noqa: BLE001 - a state this version cannot read is dropped, not fatal
                log.exception("hand-off of %s could not be restored; starting empty", self.name)
        log.info("%s epoch %d claimed by %s (state restored: %s)", self.name, self.epoch, self.instance, bool(data))
        self._task = asyncio.create_task(self._keep_saving(), name=f"handoff-{self.name}")

    async def release(self) -> None:
        """Stop saving; a last save when this instance still holds the epoch (a clean stop)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._conn is not None:
            if not self.fenced:
                try:
                    async with asyncio.timeout(2):
                        await self.save()
                except Exception as exc:  # noqa: BLE001 - the successor resyncs anyway
                    log.warning("last hand-off save of %s failed: %s", self.name, exc)
            self._conn.terminate()
            self._conn = None

    async def save(self) -> bool:
        data = self.state.snapshot()
        if data is None or self._conn is None:
            return True
        text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        status = await self._conn.execute(
            "UPDATE cluster_leader_state SET data = $3::json, saved_at = now() WHERE name = $1 AND epoch = $2",
            self.name, self.epoch, text)
        if status.endswith(" 0"):
            self.fenced = True
            log.warning("%s: a newer leader holds epoch > %d; this instance is fenced off", self.name, self.epoch)
            return False
        self.saves += 1
        return True

    async def _keep_saving(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.every_s):
                    await self._changed.wait()
            self._changed.clear()
            try:
                if not await self.save():
                    return
            except (OSError, pg.asyncpg().PostgresError, pg.asyncpg().InterfaceError) as exc:
                log.warning("hand-off save of %s failed (%s); retrying", self.name, exc)
                if self._conn is not None and self._conn.is_closed():
                    self._conn = await pg.asyncpg().connect(self.dsn, timeout=5)


class TelephonyCalls:
    """The live calls of a ``telephony.service.TelephonyService`` (its ``calls``: an immutable CallState)."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self._saved: object = None
        self._texts: dict[str, tuple[object, str]] = {}  # linkedid → (the call as last saved, its JSON)

    def snapshot(self) -> str | None:
        """The live calls as JSON text. A call is immutable (a change is a new object), so the JSON of a call
        that did not change since the last save is reused: with hundreds of calls up and ten saves a second,
        converting every call each time took 40% of the leader's event loop (``bench.day`` on PostgreSQL)."""
        state = self.service.calls
        if state is self._saved:
            return None
        self._saved = state
        texts: dict[str, tuple[object, str]] = {}
        for linkedid, call in state.calls.items():
            known = self._texts.get(linkedid)
            if known is None or known[0] is not call:
                plain = {f.name: _plain(getattr(call, f.name)) for f in dataclasses.fields(call)}
                known = (call, json.dumps(plain, ensure_ascii=False))
            texts[linkedid] = known
        self._texts = texts
        channels = json.dumps(dict(state.channels), ensure_ascii=False)
        return '{"calls": [' + ", ".join(text for _, text in texts.values()) + '], "channels": ' + channels + "}"

    def restore(self, data: dict) -> None:
        from types import MappingProxyType

        from telephony.calls import CallState
        from telephony.model import Call

        calls = {}
        kinds = {f.name: f.type for f in dataclasses.fields(Call)}
        for raw in data.get("calls", []):
            fields = {k: v for k, v in raw.items() if k in kinds}
            for key, kind in kinds.items():
                if key in fields and isinstance(fields[key], list):
                    fields[key] = frozenset(fields[key]) if "frozenset" in str(kind) else tuple(fields[key])
            call = Call(**fields)
            calls[call.linkedid] = call
        self.service.calls = CallState(MappingProxyType(calls), MappingProxyType(dict(data.get("channels", {}))))
        self._saved = self.service.calls
        log.info("live calls handed over: %d", len(calls))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_plain(v) for v in value]
        return sorted(items) if isinstance(value, (set, frozenset)) else items
    return value


def state_for(connector: Any) -> State | None:
    """The hand-off a connector needs: the PBX session's live calls; the others keep their checkpoints in
    the database already (IMAP UID, Telegram offset) or recompute (the SLA scheduler)."""
    if hasattr(connector, "calls") and hasattr(connector, "client") and hasattr(connector, "rebuild"):
        return TelephonyCalls(connector)
    return None
