"""The wallboard service: feeds the pure reducer (wallboard/state.py) and sends what changed to supervisors.

Fed by every AMI event (``hub.telephony.add_listener``), rebuilt after every (re)connect from the
telephony service's fresh ``queues``/``queue_members``/``calls`` plus today's stored queue calls, kept
current with the agents' hub states (``AgentStatusChanged``) and re-read from the database every
``refresh_s`` (agents' load and capacity, SLA deadlines, flagged calls, who watches).

Many events close together become one frame: the first change after a quiet spell wakes the sender, which
waits ``coalesce_ms`` for the events read with it; under a burst frames go out at most every
``min_interval_ms``, each carrying everything changed meanwhile. A frame is rendered once per audience
(supervisors who see the same departments share one: one JSON encoding, however many sockets), as one
``Push``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bus.events import AgentStatusChanged, InquiryAssigned, Push
from bus.tasks import TaskSupervisor
from connectors.asterisk.events import AmiEvent
from crm_core.models import utcnow
from wallboard import queries
from wallboard.boards import Scope
from wallboard.settings import WallboardSettings
from wallboard.state import CALL_EVENTS, Wallboard

log = logging.getLogger("hub.wallboard")
REREAD_ON = frozenset({"speech_flag", "routing.sla"})
SOON_S = 2.0  # a change in the database (an inquiry assigned) is re-read this soon, not at the next refresh;
# not sooner: at 100 inquiries a second each reading of 2,000 agents' load would follow the last one at once


class WallboardService:
    """``hub.connectors["wallboard"]``: started and stopped with the hub, its state shown on /healthz."""

    def __init__(self, hub, settings: WallboardSettings, clock=time.time) -> None:  # noqa: ANN001
        self.hub = hub
        self.settings = settings
        self.clock = clock
        self.zone = ZoneInfo(hub.settings.time_zone)
        self.board = Wallboard(service_level_s=settings.service_level_s, time_zone=hub.settings.time_zone)
        self.audience: dict[int, Scope] = {}
        self.state = "stopped"
        self.frames = 0
        self._dirty = asyncio.Event()
        self._calls_changed = False
        self._reread = asyncio.Event()
        self._tasks = TaskSupervisor()

    # --- life --------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._tasks = TaskSupervisor()  # a fresh one each start: a stopped supervisor takes no new tasks
        self._tasks.spawn("wallboard-sender", self._sender())
        self._tasks.spawn("wallboard-reader", self._reader())
        self._reread.set()
        self.state = "running"

    async def stop(self) -> None:
        await self._tasks.stop()
        self.state = "stopped"

    # --- in ----------------------------------------------------------------------------------------
    def on_event(self, event: AmiEvent) -> None:
        """Synchronous, for every AMI event: the reducer takes it; the sender is woken if anything changed."""
        changed = self.board.apply(event)
        if event.name in CALL_EVENTS and self.hub.telephony is not None:
            self._calls_changed = changed = True  # who talks and whose phone rings: read once per frame
        if changed:
            self._dirty.set()

    async def on_rebuilt(self) -> None:
        """After a (re)connect: the PBX's word replaces the events' picture; stored calls fill the gap."""
        tel = self.hub.telephony
        self.board.rebuild(tel.queues, tel.queue_members, tel.calls.calls.values(), self.clock())
        try:
            async with self.hub.database.sessions() as s:
                history = await queries.queue_history(s, self._today_start())
            self.board.merge_history(history)
        except Exception:  # noqa: BLE001 - the database may be away; the events still count
            log.exception("today's queue calls could not be read; counting from the events only")
        log.info("wallboard rebuilt: %d queues, %d agents", len(self.board.queues), len(self.board.agents))
        self._dirty.set()

    async def on_status(self, event: AgentStatusChanged) -> None:
        reason = None
        if event.status == "break":
            try:
                async with self.hub.database.sessions() as s:
                    reason = await queries.break_reason(s, event.user_id)
            except Exception:  # noqa: BLE001 - the state shows without its reason
                log.exception("break reason of user=%s", event.user_id)
        if self.board.set_status(event.user_id, event.status, event.at.timestamp(), reason):
            self._dirty.set()

    async def on_assigned(self, event: InquiryAssigned) -> None:
        self._reread.set()

    async def on_push(self, push: Push) -> None:
        """A call flagged by speech analytics or an SLA step taken: re-read the lists soon."""
        if push.kind in REREAD_ON:
            self._reread.set()

    def watch(self, user_id: int, scope: Scope) -> None:
        """A supervisor opened the wallboard: they get the frames from now on (also before the next reading)."""
        self.audience[user_id] = scope

    def snapshot(self, scope: Scope) -> dict:
        self._sync_calls()
        return self.board.snapshot(self.clock(), scope)

    def _sync_calls(self) -> None:
        if self._calls_changed and self.hub.telephony is not None:
            self._calls_changed = False
            self.board.sync_calls(self.hub.telephony.calls.calls)

    # --- out ---------------------------------------------------------------------------------------
    async def _sender(self) -> None:
        loop = asyncio.get_running_loop()
        last = -1e9
        while True:
            await self._dirty.wait()
            wait = max(self.settings.coalesce_ms / 1000, last + self.settings.min_interval_ms / 1000 - loop.time())
            if wait > 0:
                await asyncio.sleep(wait)
            self._dirty.clear()
            last = loop.time()
            try:
                await self.flush()
            except Exception:  # noqa: BLE001 - one bad frame must not stop the board
                log.exception("wallboard frame failed")

    @property
    def speaks(self) -> bool:
        """Frames come from the instance holding the PBX session (on several instances, one board speaks;
        the others' boards have no queue events and would only contradict it), or from the only one."""
        tel = self.hub.telephony
        return tel is None or tel.client.state != "stopped"

    async def flush(self) -> int:
        """Send what changed since the last frame, once per audience. Returns the frames published."""
        self._sync_calls()
        changes = self.board.take_changes()
        if not changes or not self.speaks:
            return 0
        groups: dict[Scope, list[int]] = defaultdict(list)
        for user_id, scope in self.audience.items():
            groups[scope].append(user_id)
        frames = self.board.frames(changes, self.clock(), groups)
        sent = 0
        for scope, user_ids in groups.items():
            await self.hub.bus.publish(Push(tuple(user_ids), "wallboard", frames[scope]))
            sent += 1
        self.frames += sent
        return sent

    # --- the database side -------------------------------------------------------------------------
    async def _reader(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.refresh_s):
                    await self._reread.wait()
            await asyncio.sleep(SOON_S if self._reread.is_set() else 0)
            self._reread.clear()
            try:
                await self.read()
            except Exception:  # noqa: BLE001 - the database may be away; try again at the next turn
                log.exception("wallboard database reading failed")

    async def read(self) -> None:
        """Agents and their load, SLA deadlines, flagged calls and the audience, from the database."""
        now = utcnow()
        routing = self.hub.connectors.get("routing")
        work = getattr(routing, "work", None)
        cache = getattr(routing, "cache", None)  # routing's snapshot, at most its ttl_s behind
        async with self.hub.database.sessions() as s:
            agents = await queries.agents(s, work, getattr(cache, "directory", None))
            inquiries = await queries.deadlines(s, now, timedelta(minutes=self.settings.soon_overdue_min),
                                                self.settings.max_inquiries)
            flags = await queries.flagged_calls(s, self._today_start(), self.settings.max_flags)
            self.audience = await queries.audience(s)
        changed = self.board.tick(self.clock())
        changed = self.board.set_agents(agents) or changed
        changed = self.board.set_list("inquiries", inquiries) or changed
        changed = self.board.set_list("flags", flags) or changed
        if changed:
            self._dirty.set()

    def _today_start(self) -> datetime:
        local = datetime.fromtimestamp(self.clock(), self.zone)
        return local.replace(hour=0, minute=0, second=0, microsecond=0)
