"""Calls as the hub lives them: AMI events through the state machine, effects carried out.

Two lanes keep the pop-up fast: ringing/answer/stop pop-ups go through their own queue (a lookup and a
push, nothing else), while finished calls are stored through a second queue that retries when the
database is away, so a slow write never delays a pop-up and a stored call is never lost.

A known caller's card goes out as soon as the one-query lookup has the name; what else the card shows
(owner, last calls, open inquiries: three more reads) follows in a ``popup_details`` frame from a task of
its own, so the lane is not held by it and the phone does not ring long with an empty card. Later frames
of the same call carry the details with them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from bus.events import Push
from connectors.asterisk.client import AmiClient
from connectors.asterisk.errors import AmiError
from connectors.asterisk.events import AmiEvent
from connectors.asterisk.fastagi import FastAgiServer
from connectors.asterisk.settings import AsteriskSettings
from crm_core.lookup import ClientCard
from crm_core.phones import try_normalize_phone
from telephony.call_log import Agent, Owner
from telephony.calls import CallState, extension_of, failed_originate, resync, transition
from telephony.model import (
    Answered,
    Call,
    CallbackNeeded,
    CallEnded,
    CallRecord,
    Effect,
    Ringing,
    RingStopped,
    Transferred,
)

log = logging.getLogger("hub.telephony")
AGENT_RELOAD_S = 2.0

TITLES = {
    "ringing": ("Входящий звонок", "Incoming call"),
    "answered": ("Разговор", "On the call"),
    "taken": ("Звонок принят другим агентом", "Answered by another agent"),
    "ended": ("Звонок завершён", "Call ended"),
    "open": ("Открыть карточку", "Open the card"),
    "unknown": ("Новый номер", "New number"),
    "create": ("Создать клиента", "Create client"),
    "transferred_in": ("Переведённый звонок", "Transferred call"),
    "transferred_away": ("Звонок переведён", "Call transferred"),
}


@dataclass(frozen=True, slots=True)
class OriginateResult:
    ok: bool
    message: str


class TelephonyService:
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
        self.agents: dict[str, Agent] = {}
        self.queues: dict[str, dict[str, str]] = {}
        self.queue_members: list[dict[str, str]] = []
        self.stored = 0
        self._popups: asyncio.Queue[Effect] = asyncio.Queue()
        self._records: asyncio.Queue[CallRecord] = asyncio.Queue()
        self._cards: dict[str, ClientCard | None] = {}
        self._details: dict[str, asyncio.Task[dict]] = {}  # linkedid → the caller's details, read once
        self._followers: set[asyncio.Task[None]] = set()  # details frames on their way
        self._workers: list[asyncio.Task[None]] = []
        self.idle = asyncio.Event()
        self.idle.set()
        self._missing: dict[str, float] = {}  # extension -> when we last looked for it in vain
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
        if not self._records.empty():
            log.error("stopping with %d finished calls not stored", self._records.qsize())

    # --- events in ------------------------------------------------------------------------------
    def on_event(self, event: AmiEvent) -> None:
        """Synchronous and quick: the state changes here, the effects go to the two lanes."""
        self.calls, effects = transition(self.calls, event)
        if effects:
            self._carry_out(effects)
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
        channels = await self.client.send({"Action": "CoreShowChannels"})
        frames = [dict(m) for m in channels[1:]] if isinstance(channels, list) else []
        self.calls, effects = resync(self.calls, frames, self.clock(), known_before)
        closed = sum(isinstance(e, CallEnded) for e in effects)
        self._carry_out(effects)
        for action in ("QueueStatus", "QueueSummary"):
            answer = await self.client.send({"Action": action})
            self._read_queues(answer if isinstance(answer, list) else [answer])
        log.info("telephony state rebuilt: %d live calls kept, %d closed as lost track, %d queues",
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

    async def pause(self, extension: str, paused: bool, reason: str | None = None) -> OriginateResult:
        """The agent's break in the hub pauses their queue membership on the PBX (and back)."""
        fields = {"Action": "QueuePause", "Interface": self.settings.member_interface.format(extension=extension),
                  "Paused": "true" if paused else "false"}
        if reason:
            fields["Reason"] = reason
        try:
            await self.client.send(fields)
        except AmiError as exc:
            log.warning("queue pause ext=%s paused=%s failed: %s", extension, paused, exc)
            return OriginateResult(False, str(exc))
        log.info("queue pause ext=%s paused=%s reason=%s", extension, paused, reason)
        return OriginateResult(True, "sent")

    def _read_queues(self, messages: list) -> None:  # noqa: ANN001 - panoramisk Messages
        for message in messages:
            frame = {str(k): str(v) for k, v in dict(message).items()}
            event = frame.get("Event")
            if event in ("QueueParams", "QueueSummary") and frame.get("Queue"):
                self.queues.setdefault(frame["Queue"], {}).update(frame)
            elif event == "QueueMember":
                self._track_member(frame)

    def _track_member(self, frame: Mapping[str, str]) -> None:
        key = (frame.get("Queue"), frame.get("Interface") or frame.get("Location"))
        self.queue_members = [m for m in self.queue_members
                              if (m.get("Queue"), m.get("Interface") or m.get("Location")) != key]
        self.queue_members.append(dict(frame))

    # --- commands out ---------------------------------------------------------------------------
    async def originate(self, extension: str, number: str, *, inquiry_id: int | None = None,
                        task_id: int | None = None, region: str = "RU") -> OriginateResult:
        """Click-to-call: the agent's phone rings first, then Asterisk dials the client."""
        target = try_normalize_phone(number, region)
        if target is None:
            return OriginateResult(False, "invalid_number")
        variables = [f"CRM_INQUIRY_ID={inquiry_id}"] if inquiry_id else []
        if task_id:
            variables.append(f"CRM_TASK_ID={task_id}")
        fields = {
            "Action": "Originate", "Channel": self.settings.agent_channel.format(extension=extension),
            "Context": self.settings.originate_context, "Exten": _dialable(target), "Priority": "1",
            "CallerID": extension, "Async": "true", "Timeout": "30000",
        }
        if variables:
            fields["Variable"] = ",".join(variables)
        try:
            await self.client.send(fields, as_list=False)
        except AmiError as exc:
            log.warning("originate ext=%s inquiry=%s failed: %s", extension, inquiry_id, exc)
            for effect in failed_originate(fields, {"Response": "Error"}, self.clock()):
                self._carry_out((effect,))
            return OriginateResult(False, str(exc))
        log.info("originate ext=%s inquiry=%s task=%s queued", extension, inquiry_id, task_id)
        return OriginateResult(True, "queued")

    async def transfer(self, linkedid: str, extension: str) -> OriginateResult:
        """Blind transfer: the caller's channel goes to another agent's extension."""
        call = self.calls.calls.get(linkedid)
        if call is None or not call.channel:
            return OriginateResult(False, "no_such_call")
        try:
            await self.client.send({"Action": "Redirect", "Channel": call.channel,
                                    "Context": self.settings.transfer_context, "Exten": extension, "Priority": "1"})
        except AmiError as exc:
            log.warning("transfer linkedid=%s to=%s failed: %s", linkedid, extension, exc)
            return OriginateResult(False, str(exc))
        log.info("transfer linkedid=%s to=%s sent", linkedid, extension)
        return OriginateResult(True, "sent")

    async def owner_first(self, headers: Mapping[str, str]) -> dict[str, str]:
        """FastAGI ``owner-first``: the owner's device when the owner is free, else nothing (the queue)."""
        caller = headers.get("agi_callerid", "")
        owner = await self.find_owner(caller) if self.find_owner and self.settings.owner_first and caller else None
        reason = _owner_unavailable(owner, self.call_of_agent)
        if owner is None or reason is not None or owner.extension is None:
            log.info("owner-first uniqueid=%s caller=%s: to the queue (%s)", headers.get("agi_uniqueid"), caller,
                     reason or "no owner")
            return {"OWNER_DEVICE": ""}
        device = self.settings.agent_channel.format(extension=owner.extension)
        log.info("owner-first uniqueid=%s caller=%s: owner %s at %s", headers.get("agi_uniqueid"), caller,
                 owner.user_id, device)
        return {"OWNER_DEVICE": device, "OWNER_EXTENSION": owner.extension}

    def call_of_agent(self, extension: str) -> Call | None:
        for call in self.calls.calls.values():
            if call.answered_by == extension or extension in call.ringing:
                return call
        return None

    # --- the two lanes --------------------------------------------------------------------------
    async def _popup_worker(self) -> None:
        while True:
            effect = await self._popups.get()
            try:
                await self._popup(effect)
            except Exception:  # noqa: BLE001 - a failed pop-up must not stop the next ones
                log.exception("pop-up for %s failed", type(effect).__name__)

    async def _popup(self, effect: Effect) -> None:
        if isinstance(effect, CallEnded):
            record = effect.record
            self._cards.pop(record.linkedid, None)
            self._details.pop(record.linkedid, None)
            for ext in dict.fromkeys(x for x in (record.answered_by, record.transferred_to) if x):
                agent = self.agents.get(ext)
                if agent is not None:
                    await self._push(agent, record.linkedid, "ended", None, ended=True)
            return
        if isinstance(effect, Transferred):
            await self._transferred(effect)
            return
        if not isinstance(effect, Ringing | Answered | RingStopped):
            return
        agent = self.agents.get(effect.extension) or await self._agent_added_since(effect.extension)
        if agent is None:
            log.debug("no agent has extension %s; no pop-up", effect.extension)
            return
        call = effect.call
        if isinstance(effect, RingStopped):
            title = "taken" if call.answered_by else "ended"
            await self._push(agent, call.linkedid, title, call, ended=True)
            return
        title = "ringing" if isinstance(effect, Ringing) else "answered"
        await self._push(agent, call.linkedid, title, call)

    async def _transferred(self, effect: Transferred) -> None:
        """The card leaves the agent who sent the call on and pops up on the new extension."""
        old = self.agents.get(effect.from_extension or "")
        if old is not None:
            await self._push(old, effect.call.linkedid, "transferred_away", effect.call, ended=True)
        new = self.agents.get(effect.to_extension) or await self._agent_added_since(effect.to_extension)
        if new is not None:
            await self._push(new, effect.call.linkedid, "transferred_in", effect.call)

    async def _card(self, call: Call) -> ClientCard | None:
        if call.linkedid not in self._cards and call.caller:
            self._cards[call.linkedid] = await self.lookup(call.caller)
        return self._cards.get(call.linkedid)

    async def _push(self, agent: Agent, linkedid: str, title: str, call: Call | None, *, ended: bool = False) -> None:
        i = 1 if agent.locale == "en" else 0
        payload: dict[str, object] = {"call_id": linkedid, "title": TITLES[title][i], "ended": ended}
        follow: asyncio.Task[dict] | None = None
        if call is not None:
            card = await self._card(call)
            payload.update(number=call.caller, lines=[x for x in (call.did and f"DID {call.did}",
                                                                   call.queue and f"{call.queue}") if x])
            if card is not None:
                payload.update(name=card.name or card.company_name, client_id=card.client_id,
                               open_label=TITLES["open"][i])
                if card.company_name and card.name:
                    payload["lines"] = [card.company_name, *payload["lines"]]  # type: ignore[list-item]
                details = self._client_details(call.linkedid, card.client_id)
                if details is not None and details.done():
                    if not details.cancelled() and details.exception() is None:
                        payload.update(details.result())
                elif details is not None:
                    follow = details
            else:
                payload.update(name=call.caller_name or TITLES["unknown"][i], new_number=bool(call.caller),
                               create_label=TITLES["create"][i])
        await self.publish(Push((agent.user_id,), "popup", payload))
        log.info("pop-up %s linkedid=%s ext=%s user=%s", title, linkedid, agent.extension, agent.user_id)
        if follow is not None:
            task = asyncio.create_task(self._push_details(agent, linkedid, follow), name=f"popup-details-{linkedid}")
            self._followers.add(task)
            task.add_done_callback(self._followers.discard)

    def _client_details(self, linkedid: str, client_id: int) -> asyncio.Task[dict] | None:
        """The caller's details for this call: read once (a task every agent rung for it shares)."""
        if self.details is None:
            return None
        task = self._details.get(linkedid)
        if task is None:
            task = asyncio.create_task(self.details(client_id), name=f"caller-details-{linkedid}")
            task.add_done_callback(_retrieved)
            self._details[linkedid] = task
        return task

    async def _push_details(self, agent: Agent, linkedid: str, details: asyncio.Task[dict]) -> None:
        try:
            extra = await asyncio.shield(details)
        except Exception:  # noqa: BLE001 - the card stays as it is; the next call reads them again
            log.exception("caller details for linkedid=%s failed", linkedid)
            return
        await self.publish(Push((agent.user_id,), "popup_details", {"call_id": linkedid, **extra}))

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
                await self.store_call(record, self.agents, task_id)
                self.stored += 1
                return
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the database may be away: keep the call, try again
                log.exception("storing call uniqueid=%s failed; retrying in %.0fs", record.uniqueid, self.retry_s)
                await asyncio.sleep(self.retry_s)

    async def _agent_added_since(self, extension: str) -> Agent | None:
        """An extension nobody had at the last load: reload and look again (per extension, every few seconds)."""
        now = time.monotonic()
        if now - self._missing.get(extension, -AGENT_RELOAD_S) < AGENT_RELOAD_S:
            return None
        self._missing[extension] = now
        await self._reload_agents()
        return self.agents.get(extension)

    async def _reload_agents(self) -> None:
        try:
            self.agents = await self.load_agents()
        except Exception:  # noqa: BLE001 - keep the last known agents when the database is away
            log.exception("could not load the agents' extensions; keeping %d known", len(self.agents))


def _owner_unavailable(owner: Owner | None, call_of_agent: Callable[[str], Call | None]) -> str | None:
    if owner is None:
        return "no owner"
    if not owner.active or not owner.extension:
        return "owner has no phone"
    if owner.status != "available":
        return f"owner is {owner.status}"
    if call_of_agent(owner.extension) is not None:
        return "owner is on a call"
    return None


def _dialable(e164: str) -> str:
    """What the trunk dials: Russian numbers in the national 8-prefix form, as the traces show."""
    return "8" + e164[2:] if e164.startswith("+7") else e164.lstrip("+")


def _retrieved(task: asyncio.Task) -> None:
    """A details read nobody awaited any more (the call ended first) must not warn at exit."""
    if not task.cancelled():
        task.exception()
