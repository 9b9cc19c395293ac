"""Calls as the hub lives them: AMI events through the state machine, effects carried out.

Two lanes keep the pop-up fast: ringing/answer/stop pop-ups go through their own queue (a lookup and a
push, nothing else: ``telephony/popups.py``), while finished calls are stored through a second queue that
retries when the database is away, so a slow write never delays a pop-up and a stored call is never lost.
After every (re)connect the live state is rebuilt from what the PBX says. The commands out (click-to-call,
transfer, queue pause, FastAGI owner-first) are in ``telephony/commands.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from bus.events import Push
from connectors.asterisk.client import AmiClient
from connectors.asterisk.events import AmiEvent
from connectors.asterisk.fastagi import FastAgiServer
from connectors.asterisk.settings import AsteriskSettings
from crm_core.lookup import ClientCard
from telephony.call_log import Agent, Owner
from telephony.calls import CallState, extension_of, resync, transition
from telephony.commands import PbxCommands
from telephony.model import Answered, CallbackNeeded, CallEnded, CallRecord, Effect, Transferred
from telephony.popups import PopupLane

log = logging.getLogger("hub.telephony")
AGENT_RELOAD_S = 2.0


class TelephonyService(PopupLane, PbxCommands):
    """Owns the AMI session (``client``), the live call state and the effects it produces."""

    def __init__(
        self,
        settings: AsteriskSettings,
        *,
        publish: Callable[[Push], Awaitable[None]],
        lookup: Callable[[str], Awaitable[ClientCard | None]],
        load_agents: Callable[[], Awaitable[dict[str, Agent]]],
        details: Callable[[int], Awaitable[dict]] | None = None,
        find_owner: Callable[[str], Awaitable[Owner | None]] | None = None,
        set_agent_state: Callable[[int, str, str | None, frozenset[str]], Awaitable[object]] | None = None,
        store_call: Callable[[CallRecord, dict[str, Agent], int | None], Awaitable[object]] | None = None,
        clock: Callable[[], float] = time.time,
        retry_s: float = 2.0,
    ) -> None:
        self.settings = settings
        self.publish = publish
        self.lookup = lookup
        self.load_agents = load_agents
        self.details = details
        self.find_owner = find_owner
        self.set_agent_state = set_agent_state
        self._states: asyncio.Queue[tuple[str, str, str | None, frozenset[str]]] = asyncio.Queue()
        self.agi: FastAgiServer | None = None
        if settings.fastagi_enabled:
            self.agi = FastAgiServer(settings.fastagi_host, settings.fastagi_port, {"owner-first": self.owner_first})
        self.store_call = store_call
        self.clock = clock
        self.retry_s = retry_s
        self.client = AmiClient(settings, self.on_event, self.rebuild, clock)
        self.calls = CallState()
        self.pbx_booted_at: float | None = None  # from FullyBooted's Uptime, at every login
        self.agents: dict[str, Agent] = {}
        self.queues: dict[str, dict[str, str]] = {}
        self._members: dict[tuple[str | None, str | None], dict[str, str]] = {}  # (queue, interface) → frame
        self.stored = 0
        self._popups: asyncio.Queue[Effect] = asyncio.Queue()
        self._records: asyncio.Queue[CallRecord] = asyncio.Queue()
        self._cards: dict[str, asyncio.Future[ClientCard | None]] = {}
        self._details: dict[str, asyncio.Task[dict]] = {}  # linkedid → the caller's details, read once
        self._followers: set[asyncio.Task[None]] = set()  # details frames on their way
        self._followed: set[tuple[str, int]] = set()  # (linkedid, user id) with a details frame: one per call
        self._workers: list[asyncio.Task[None]] = []
        self.idle = asyncio.Event()
        self.idle.set()
        self._missing: dict[str, float] = {}  # extension -> when we last looked for it in vain
        self._agents_lock = asyncio.Lock()
        self._listeners: list[Callable[[AmiEvent], None]] = []
        self._rebuilt: list[Callable[[], Awaitable[None]]] = []

    def add_listener(self, on_event: Callable[[AmiEvent], None],
                     on_rebuilt: Callable[[], Awaitable[None]] | None = None) -> None:
        """Other capabilities (wallboard, department call feed) see every AMI event after the call state
        took it (synchronously: keep it quick, queue the slow part), and are told when the state was
        rebuilt after a (re)connect (``self.calls``, ``self.queues`` and ``self.queue_members`` fresh)."""
        self._listeners.append(on_event)
        if on_rebuilt is not None:
            self._rebuilt.append(on_rebuilt)

    # --- life -----------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self.client.state

    async def start(self) -> None:
        await self._reload_agents()
        if self.agi is not None:
            await self.agi.start()
        self._workers = [
            asyncio.create_task(self._popup_worker(), name="telephony-popups"),
            asyncio.create_task(self._record_worker(), name="telephony-records"),
            asyncio.create_task(self._state_worker(), name="telephony-agent-states"),
        ]
        await self.client.start()

    async def stop(self) -> None:
        if self.agi is not None:
            await self.agi.stop()
        await self.client.stop()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(3):
                await self._records.join()
        tasks = [*self._workers, *self._followers, *self._details.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):  # a failed details read: its follower logs
                await task
        self._workers = []
        close_lookup = getattr(self.lookup, "close", None)  # a lookup with a connection of its own
        if close_lookup is not None:
            with contextlib.suppress(Exception):
                closing = close_lookup()
                if asyncio.iscoroutine(closing):
                    await closing
        if not self._records.empty():
            log.error("stopping with %d finished calls not stored", self._records.qsize())

    # --- events in ------------------------------------------------------------------------------
    def on_event(self, event: AmiEvent) -> None:
        """Synchronous and quick: the state changes here, the effects go to the two lanes."""
        self.calls, effects = transition(self.calls, event)
        linkedid = event.headers.get("Linkedid")
        if linkedid and linkedid not in self._cards:
            call = self.calls.calls.get(linkedid)
            if call is not None:
                self.look_up_early(call)
        if effects:
            self._carry_out(effects)
        if event.name == "FullyBooted" and event.get("Uptime").isdigit():
            self.pbx_booted_at = event.received_at - int(event.get("Uptime"))
        if event.name in ("QueueMemberPause", "QueueMemberStatus"):
            self._track_member(event.headers)
            self._member_paused(event)
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the calls
                log.exception("telephony listener failed on %s", event.name)

    def _carry_out(self, effects: tuple[Effect, ...]) -> None:
        for effect in effects:
            if isinstance(effect, CallEnded):
                self.idle.clear()
                self._records.put_nowait(effect.record)
                self._popups.put_nowait(effect)
            elif isinstance(effect, CallbackNeeded):
                continue  # the stored call record opens the callback task (it knows the client and owner)
            else:
                self._popups.put_nowait(effect)
            self._agent_busy_or_free(effect)

    async def rebuild(self) -> None:
        """After every (re)connect: close the calls that ended while we were away, read the queues."""
        await self._reload_agents()
        known_before = set(self.calls.calls)  # calls that begin while the listing is on its way stay open
        asked_at = self.clock()
        channels = await self.client.send({"Action": "CoreShowChannels"})
        frames = [dict(m) for m in channels[1:]] if isinstance(channels, list) else []
        # FullyBooted (its Uptime) comes right after the login, before this answer: calls last seen before
        # the PBX booted died with it (kill -9), the others ended while the link was down
        self.calls, effects = resync(self.calls, frames, self.clock(), known_before, booted_at=self.pbx_booted_at,
                                     asked_at=asked_at)
        closed = sum(isinstance(e, CallEnded) for e in effects)
        self._carry_out(effects)
        for action in ("QueueStatus", "QueueSummary"):
            answer = await self.client.send({"Action": action})
            self._read_queues(answer if isinstance(answer, list) else [answer])
        log.info("telephony state rebuilt: %d live calls kept, %d closed as gone, %d queues",
                 len(self.calls.calls), closed, len(self.queues))
        for on_rebuilt in self._rebuilt:
            try:
                await on_rebuilt()
            except Exception:  # noqa: BLE001 - as above
                log.exception("telephony rebuild listener failed")

    def _member_paused(self, event: AmiEvent) -> None:
        """A pause set on the phone (or by another tool) shows in the hub: break with its reason, or back."""
        paused = event.get("Paused")
        ext = extension_of(event.get("Interface") or event.get("StateInterface"))
        if paused == "1":
            self._states.put_nowait((ext, "break", event.get("PausedReason") or event.get("Reason") or "pbx",
                                     frozenset({"available", "wrap_up"})))
        elif paused == "0" and event.name == "QueueMemberPause":
            self._states.put_nowait((ext, "available", None, frozenset({"break"})))

    def _agent_busy_or_free(self, effect: Effect) -> None:
        if isinstance(effect, Answered):
            self._states.put_nowait((effect.extension, "on_call", None, frozenset({"available", "wrap_up"})))
        elif isinstance(effect, CallEnded):
            for ext in {effect.record.answered_by, effect.record.transferred_to} - {None}:
                self._states.put_nowait((ext, "available", None, frozenset({"on_call"})))  # type: ignore[arg-type]
        elif isinstance(effect, Transferred) and effect.from_extension:
            self._states.put_nowait((effect.from_extension, "available", None, frozenset({"on_call"})))

    async def _state_worker(self) -> None:
        while True:
            ext, status, reason, only_from = await self._states.get()
            try:
                agent = self.agents.get(ext) or await self._agent_added_since(ext)
                if agent is None or self.set_agent_state is None:
                    continue
                await self.set_agent_state(agent.user_id, status, reason, only_from)
            except Exception:  # noqa: BLE001 - a state write failing must not stop the next ones
                log.exception("agent state %s for ext=%s failed", status, ext)

    def _read_queues(self, messages: list) -> None:  # noqa: ANN001 - panoramisk Messages
        for message in messages:
            frame = {str(k): str(v) for k, v in dict(message).items()}
            event = frame.get("Event")
            if event in ("QueueParams", "QueueSummary") and frame.get("Queue"):
                self.queues.setdefault(frame["Queue"], {}).update(frame)
            elif event == "QueueMember":
                self._track_member(frame)

    @property
    def queue_members(self) -> list[dict[str, str]]:
        """The queues' members as the PBX last described them (one QueueMember frame each)."""
        return list(self._members.values())

    def _track_member(self, frame: Mapping[str, str]) -> None:
        """O(1) per member event: two come with every queue call, and a queue may have a thousand members."""
        self._members[(frame.get("Queue"), frame.get("Interface") or frame.get("Location"))] = dict(frame)


    # --- the stored-calls lane (the pop-up lane: telephony/popups.py) --------------------------
    async def _record_worker(self) -> None:
        while True:
            record = await self._records.get()
            try:
                await self._store(record)
            finally:
                self._records.task_done()
                if self._records.empty():
                    self.idle.set()

    async def _store(self, record: CallRecord) -> None:
        if self.store_call is None:
            return
        while True:
            try:
                task_id = int(record.task_id) if record.task_id and record.task_id.isdigit() else None
                await self._agents_knowing(record)
                await self.store_call(record, self.agents, task_id)
                self.stored += 1
                return
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the database may be away: keep the call, try again
                log.exception("storing call uniqueid=%s failed; retrying in %.0fs", record.uniqueid, self.retry_s)
                await asyncio.sleep(self.retry_s)

    # --- the agents' extensions ----------------------------------------------------------------
    async def _agent_added_since(self, extension: str) -> Agent | None:
        """An extension nobody had at the last load: reload and look again (per extension, every few seconds)."""
        now = time.monotonic()
        if now - self._missing.get(extension, -AGENT_RELOAD_S) < AGENT_RELOAD_S:
            return None
        self._missing[extension] = now
        await self._reload_agents()
        return self.agents.get(extension)

    async def _agents_knowing(self, record: CallRecord) -> None:
        """An extension given since the last load still names its agent on the stored call (a reload already
        on its way is waited for, then one more if the extension is still missing)."""
        exts = {record.answered_by, record.transferred_to, record.caller if record.direction == "outbound" else None}
        missing = [x for x in exts if x and x not in self.agents]
        if not missing:
            return
        async with self._agents_lock:
            pass
        for ext in missing:
            if ext not in self.agents:
                await self._agent_added_since(ext)

    async def _reload_agents(self) -> None:
        async with self._agents_lock:
            try:
                self.agents = await self.load_agents()
            except Exception:  # noqa: BLE001 - keep the last known agents when the database is away
                log.exception("could not load the agents' extensions; keeping %d known", len(self.agents))

