"""The pop-up lane of ``TelephonyService``: ringing/answer/stop/transfer effects become pop-up frames for the
agents' browsers — a lookup and a push, nothing else, so a slow write never delays a pop-up.

A known caller's card goes out as soon as the one-query lookup has the name; what else the card shows
(owner, last calls, open inquiries: three more reads) follows in a ``popup_details`` frame from a task of
its own, so the lane is not held by it and the phone does not ring long with an empty card. Later frames
of the same call carry the details with them. Each agent gets that frame once per call: the ringing frame
schedules it, and the answered (or transferred) frame that follows while the details are still being read
does not schedule a second one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bus.events import Push
from crm_core.lookup import ClientCard
from telephony.call_log import Agent
from telephony.model import Answered, Call, CallEnded, Effect, Ringing, RingStopped, Transferred

log = logging.getLogger("hub.telephony")

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
    "owner": ("Ответственный", "Owner"),
}
OUTCOMES = {  # a past call's outcome on the card, in the agent's language
    "answered": ("принят", "answered"), "abandoned": ("клиент не дождался", "abandoned"),
    "no_answer": ("без ответа", "no answer"), "failed": ("не состоялся", "failed"),
    "transferred": ("переведён", "transferred"), "lost_track": ("потерян", "lost track"), "busy": ("занято", "busy"),
}


class PopupLane:
    """``TelephonyService``'s pop-up worker and what it needs; the service sets these up and feeds ``_popups``."""

    agents: dict[str, Agent]
    publish: Callable[[Push], Awaitable[None]]
    lookup: Callable[[str], Awaitable[ClientCard | None]]
    details: Callable[[int], Awaitable[dict]] | None
    _popups: asyncio.Queue[Effect]
    _cards: dict[str, asyncio.Future[ClientCard | None]]  # per call: the caller's lookup, started at its first event
    _details: dict[str, asyncio.Task[dict]]  # linkedid → the caller's details, read once
    _followers: set[asyncio.Task[None]]  # details frames on their way
    _followed: set[tuple[str, int]]  # (linkedid, user id) whose details frame is scheduled: one per call
    _agent_added_since: Callable[[str], Awaitable[Agent | None]]
    shown_number: Callable[[Agent, str | None], str | None] | None = None  # privacy/: hidden numbers per role
    # the queue as people call it («Линия продаж»), in the agent's language: set by the web shell (web/app.py)
    queue_label: Callable[[str, str], str] | None = None

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
            card = self._cards.pop(record.linkedid, None)
            if card is not None and not card.done():
                card.cancel()
            self._details.pop(record.linkedid, None)
            self._followed = {k for k in self._followed if k[0] != record.linkedid}
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

    def _queue(self, name: str, agent: Agent) -> str:
        return name if self.queue_label is None else self.queue_label(name, agent.locale)

    def look_up_early(self, call: Call) -> None:
        """Start the caller's lookup when the call appears (its first event), not when an agent's phone rings:
        after the greeting and the queue the card is ready and the pop-up waits for nothing."""
        if call.caller and call.linkedid not in self._cards:
            card = self._cards[call.linkedid] = asyncio.ensure_future(self.lookup(call.caller))
            card.add_done_callback(_seen)

    async def _card(self, call: Call) -> ClientCard | None:
        if call.linkedid not in self._cards:
            if not call.caller:
                return None
            self.look_up_early(call)
        return await asyncio.shield(self._cards[call.linkedid])  # a later frame of the call reads it too

    async def _push(self, agent: Agent, linkedid: str, title: str, call: Call | None, *, ended: bool = False) -> None:
        i = 1 if agent.locale == "en" else 0
        payload: dict[str, object] = {"call_id": linkedid, "title": TITLES[title][i], "ended": ended,
                                      "owner_label": TITLES["owner"][i]}
        follow: asyncio.Task[dict] | None = None
        if call is not None:
            card = await self._card(call)
            number = call.caller if self.shown_number is None else self.shown_number(agent, call.caller)
            payload.update(number=number, lines=[x for x in (call.did and f"DID {call.did}",
                                                                   call.queue and self._queue(call.queue, agent))
                                                     if x])
            if card is not None:
                payload.update(name=card.name or card.company_name, client_id=card.client_id,
                               open_label=TITLES["open"][i])
                if card.company_name and card.name:
                    payload["lines"] = [card.company_name, *payload["lines"]]  # type: ignore[list-item]
                details = self._client_details(call.linkedid, card.client_id)
                if details is not None and details.done():
                    if not details.cancelled() and details.exception() is None:
                        payload.update(_in_language(details.result(), agent.locale))
                elif details is not None:
                    follow = details
            else:
                payload.update(name=call.caller_name or TITLES["unknown"][i], new_number=bool(call.caller),
                               create_label=TITLES["create"][i])
        await self.publish(Push((agent.user_id,), "popup", payload))
        log.info("pop-up %s linkedid=%s ext=%s user=%s", title, linkedid, agent.extension, agent.user_id)
        if follow is not None and (linkedid, agent.user_id) not in self._followed:
            self._followed.add((linkedid, agent.user_id))
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
        await self.publish(Push((agent.user_id,), "popup_details", {"call_id": linkedid,
                                                                     **_in_language(extra, agent.locale)}))


def _retrieved(task: asyncio.Task) -> None:
    """A details read nobody awaited any more (the call ended first) must not warn at exit."""
    if not task.cancelled():
        task.exception()


def _in_language(details: dict, locale: str) -> dict:
    """The caller's details with each past call's outcome as a word of the agent's language (``outcome_label``)."""
    i = 1 if locale == "en" else 0
    calls = [{**c, "outcome_label": OUTCOMES.get(str(c.get("outcome")), (None, None))[i] or c.get("outcome")}
             for c in details.get("recent_calls", ())]
    return {**details, "recent_calls": calls} if calls else details


def _seen(card: asyncio.Future[ClientCard | None]) -> None:
    """A lookup that failed with no pop-up waiting for it (the call ended first) is not an unread error."""
    if not card.cancelled():
        card.exception()
