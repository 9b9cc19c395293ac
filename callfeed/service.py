"""The feed service: fed by every AMI event, it keeps the cards of the calls waiting at each department and
pushes each watcher's feed when it changes.

``on_event`` (synchronous, per AMI event) only notes that the call state changed and wakes the sender. The
sender waits ``coalesce_ms`` for the events read with it (and at least ``min_interval_ms`` since its last
frame), recomputes the cards from the telephony service's live calls once for all of them, then sends one
``Push(user_ids, "callfeed", {...})`` per group of watchers who see the same departments, and only to the
groups whose feed changed. A burst of call events thus costs one recomputation per frame, not one per
event. Each frame is
the whole feed of that group (a handful of cards): a browser that missed one is right again with the next.

What a card shows beyond the PBX's word (the client, its owner, an earlier call of the number in the bin)
is looked up once per call by a background task; the card is sent at once and again when the lookup is in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace

from bus.events import Push
from bus.tasks import TaskSupervisor
from callfeed import queries
from callfeed.settings import CallFeedSettings
from callfeed.state import Card, Where, cards, changed_departments, for_scope, members_of
from connectors.asterisk.events import AmiEvent
from telephony.call_log import Agent, load_agents
from telephony.calls import extension_of

log = logging.getLogger("hub.callfeed")
RECENT_S = 300.0
MEMBER_EVENTS = frozenset({"QueueMemberAdded", "QueueMemberRemoved", "QueueMemberStatus"})


class CallFeedService:
    """``hub.connectors["callfeed"]``: started and stopped with the hub, its state shown on /healthz."""

    def __init__(self, hub, settings: CallFeedSettings, clock=time.time) -> None:  # noqa: ANN001
        self.hub = hub
        self.settings = settings
        self.clock = clock
        self.state = "stopped"
        self.where = Where()
        self.cards: dict[str, Card] = {}
        self.audience: dict[int, frozenset[int]] = {}
        self.binned: set[str] = set()
        self.frames = 0
        self._agents: dict[str, Agent] = {}
        self._queue_ids: dict[str, int] = {}
        self._did_ids: dict[str, int] = {}
        self.recent: dict[str, tuple[Card, float]] = {}  # cards gone lately (a bin click racing the hang-up)
        self._info: dict[str, dict[str, object]] = {}  # call id → what the lookup found
        self._asked: set[str] = set()
        self._lookups: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._last_calls: object = None
        self._dirty: set[int] = set()
        self._last_sent: dict[frozenset[int], object] = {}
        self._wake = asyncio.Event()
        self._reread = asyncio.Event()
        self._tasks = TaskSupervisor()
        self.flushed = asyncio.Event()  # set after every frame sent (tests wait on it)

    # --- life --------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._tasks = TaskSupervisor()  # a fresh one each start: a stopped supervisor takes no new tasks
        self._tasks.spawn("callfeed-sender", self._sender())
        self._tasks.spawn("callfeed-reader", self._reader())
        self._tasks.spawn("callfeed-lookups", self._looker())
        self._reread.set()
        self.state = "running"

    async def stop(self) -> None:
        await self._tasks.stop()
        self.state = "stopped"

    # --- in ----------------------------------------------------------------------------------------
    def on_event(self, event: AmiEvent) -> None:
        """Synchronous, for every AMI event: the sender recomputes the cards when the calls changed."""
        if event.name in MEMBER_EVENTS:
            self._member_event(event)
        tel = self.hub.telephony
        if tel is not None and tel.calls.calls is not self._last_calls:
            self._wake.set()

    async def on_rebuilt(self) -> None:
        self._refresh_where()
        self.recompute(force=True)

    def recompute(self, *, force: bool = False) -> None:
        tel = self.hub.telephony
        if tel is None:
            return
        calls = tel.calls.calls
        if calls is self._last_calls and not force:
            return
        self._last_calls = calls
        fresh = cards(calls.values(), self.where, frozenset(self.binned))
        changed = changed_departments(self.cards, fresh)
        now = self.clock()
        for gone in self.cards.keys() - fresh.keys():
            self._info.pop(gone, None)
            self._asked.discard(gone)
            self.recent[gone] = (self.cards[gone], now)
        for old in [k for k, (_, at) in self.recent.items() if at < now - RECENT_S]:
            del self.recent[old]
        self.cards = fresh
        for card in fresh.values():
            if card.id not in self._asked:
                self._asked.add(card.id)
                self._lookups.put_nowait((card.id, card.number))
        if changed:
            self._touch(changed)

    def _member_event(self, event: AmiEvent) -> None:
        """A member's status changing (on a call, free, paused) leaves the queues' members as they are, and a
        member added joins its queue: neither rebuilds the whole picture, whose cost grows with the agents
        (two such events per call at 2,000 agents were a sixth of the event loop). A removal rebuilds it."""
        headers = event.headers
        queue = headers.get("Queue") or ""
        iface = headers.get("StateInterface") or headers.get("Interface") or headers.get("Location")
        if event.name == "QueueMemberRemoved" or not queue or not iface:
            self._refresh_where()
            return
        members = self.where.members.get(queue, frozenset())
        extension = extension_of(iface)
        if extension not in members:
            self.where = replace(self.where, members={**self.where.members, queue: members | {extension}})
            self._last_calls = None

    def _refresh_where(self) -> None:
        tel = self.hub.telephony
        known = {**(tel.agents if tel is not None else {}), **self._agents}
        agents = {ext: a.department_id for ext, a in known.items()}
        members = members_of(tel.queue_members) if tel is not None else {}
        self.where = Where(self._queue_ids, self._did_ids, members, agents)
        self._last_calls = None

    def _touch(self, departments: frozenset[int] | set[int]) -> None:
        self._dirty |= set(departments)
        self._wake.set()

    def put_in_bin(self, call_id: str) -> Card | None:
        """A call went to the bin: its card leaves every feed at once (returns the card it was)."""
        self.recompute()
        self.binned.add(call_id)
        card = self.cards.pop(call_id, None)
        if card is not None:
            self.recent[call_id] = (card, self.clock())
            self._touch(card.departments)
        return card or self.card(call_id)

    def taken_out_of_bin(self, call_id: str) -> None:
        self.binned.discard(call_id)
        self.recompute(force=True)

    # --- what a watcher sees -----------------------------------------------------------------------
    def feed(self, scope: frozenset[int]) -> dict[str, object]:
        self.recompute()
        names = self._names()
        return {"now": round(self.clock(), 3),
                "cards": [c.payload(self._info.get(c.id, {}), names)
                          for c in for_scope(self.cards, scope, self.settings.max_cards)]}

    def card(self, call_id: str) -> Card | None:
        """A card on the feed now, or one that left it in the last minutes (the caller hung up meanwhile)."""
        self.recompute()
        found = self.cards.get(call_id)
        if found is None and call_id in self.recent:
            found = self.recent[call_id][0]
        return found

    def _names(self) -> Mapping[str, str]:
        tel = self.hub.telephony
        return {ext: a.name for ext, a in {**(tel.agents if tel is not None else {}), **self._agents}.items()}

    def watch(self, user_id: int, scope: frozenset[int]) -> None:
        """A page asked for the feed: its user gets the frames from now on (before the next reading too)."""
        if scope:
            self.audience[user_id] = scope

    # --- out ---------------------------------------------------------------------------------------
    async def _sender(self) -> None:
        loop = asyncio.get_running_loop()
        last = -1e9
        while True:
            await self._wake.wait()
            wait = max(self.settings.coalesce_ms / 1000, last + self.settings.min_interval_ms / 1000 - loop.time())
            if wait > 0:
                await asyncio.sleep(wait)
            self.recompute()  # the calls as they are now, once for every event since the last frame
            self._wake.clear()
            last = loop.time()
            try:
                await self.flush()
            except Exception:  # noqa: BLE001 - one bad frame must not stop the feed
                log.exception("call feed frame failed")

    @property
    def speaks(self) -> bool:
        """Frames come from the instance holding the PBX session (the others see no calls)."""
        tel = self.hub.telephony
        return tel is not None and tel.client.state != "stopped"

    async def flush(self) -> int:
        dirty, self._dirty = self._dirty, set()
        if not dirty or not self.speaks:
            return 0
        groups: dict[frozenset[int], list[int]] = defaultdict(list)
        for user_id, scope in self.audience.items():
            if scope & dirty:
                groups[scope].append(user_id)
        sent = 0
        for scope, user_ids in groups.items():
            frame = self.feed(scope)
            if not frame["cards"] and not self._last_sent.get(scope):
                continue  # a card that came and went within one frame: nothing to show, nothing to send
            self._last_sent[scope] = frame["cards"]
            await self.hub.bus.publish(Push(tuple(sorted(user_ids)), "callfeed", frame))
            sent += 1
        self.frames += sent
        self.flushed.set()
        self.flushed.clear()
        return sent

    # --- the database side -------------------------------------------------------------------------
    async def _looker(self) -> None:
        region = self.hub.settings.phones.default_region
        while True:
            call_id, number = await self._lookups.get()
            if call_id not in self.cards:
                continue
            try:
                async with self.hub.database.sessions() as s:
                    info = await queries.caller_info(s, number, region)
            except Exception:  # noqa: BLE001 - the card shows without the client
                log.exception("call feed lookup of call %s failed", call_id)
                continue
            card = self.cards.get(call_id)
            if card is not None:
                self._info[call_id] = info.payload()
                self._touch(card.departments)

    async def _reader(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.refresh_s):
                    await self._reread.wait()
            self._reread.clear()
            try:
                await self.read()
            except Exception:  # noqa: BLE001 - the database may be away; try again at the next turn
                log.exception("call feed database reading failed")

    async def read(self) -> None:
        """Who watches, the agents' departments, the settings' departments by id, and calls put in the bin on
        another instance."""
        self._agents = await load_agents(self.hub.database.sessions)
        async with self.hub.database.sessions() as s:
            self.audience = await queries.audience(s)
            ids = await queries.department_ids(s, [*self.settings.queues.values(), *self.settings.dids.values()])
            binned = await queries.binned_among(s, self.cards.keys())
        self._queue_ids = {q: ids[d] for q, d in self.settings.queues.items() if d in ids}
        self._did_ids = {n: ids[d] for n, d in self.settings.dids.items() if d in ids}
        self._refresh_where()
        self.binned |= binned
        self.recompute(force=True)
