"""An in-process event bus. Subscribers are wired in one place at start-up (bootstrap), never at import."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import asdict, is_dataclass
from typing import Any

from bus.events import Event

log = logging.getLogger("hub.bus")
Handler = Callable[[Any], Awaitable[None]]
InlineHandler = Callable[[Any], None]


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[type, list[Handler]] = defaultdict(list)
        self._inline: dict[type, list[InlineHandler]] = defaultdict(list)
        self.failures = 0
        self.published = 0
        self._soon: set[asyncio.Task[None]] = set()

    def subscribe(self, event_type: type[Event], handler: Handler) -> None:
        self._handlers[event_type].append(handler)

    def subscribe_inline(self, event_type: type[Event], handler: InlineHandler) -> None:
        """A synchronous handler, run by ``publish`` itself before the others are scheduled: for quick hand-offs
        that must not wait a turn of a busy event loop (a live frame queued to the browsers' sockets)."""
        self._inline[event_type].append(handler)

    def handlers_for(self, event: Event) -> list[Handler]:
        found: list[Handler] = []
        for cls in type(event).__mro__:
            found.extend(self._handlers.get(cls, ()))
        return found

    async def publish_soon(self, event: Event) -> None:
        """Run the inline handlers now and leave the others to a task of their own; returns without a turn of
        the event loop. For a lane that must not wait for what others do with its events: the pop-up lane
        sends one frame after another, and waiting for every frame's other handlers (a gather: at least one
        loop turn each) queued the pop-ups of a busy second behind each other."""
        self._inline_handlers(event)
        handlers = self.handlers_for(event)
        if handlers:
            task = asyncio.create_task(self._handlers_of(event, handlers), name=f"publish-{type(event).__name__}")
            self._soon.add(task)
            task.add_done_callback(self._soon.discard)

    async def publish(self, event: Event) -> None:
        """Run every handler of the event; one that fails is logged with the event's ids and the rest go on."""
        self._inline_handlers(event)
        handlers = self.handlers_for(event)
        if handlers:
            await self._handlers_of(event, handlers)

    def _inline_handlers(self, event: Event) -> None:
        self.published += 1
        for cls in type(event).__mro__:
            for inline in self._inline.get(cls, ()):
                try:
                    inline(event)
                except Exception as exc:  # noqa: BLE001 - logged like any handler's failure; the rest go on
                    self.failures += 1
                    log.error("handler %s failed on %s %s: %r", getattr(inline, "__qualname__", inline),
                              type(event).__name__, _ids(event), exc, exc_info=exc)

    async def _handlers_of(self, event: Event, handlers: list[Handler]) -> None:
        if len(handlers) == 1:  # awaited in place: no task, no turn of the loop unless the handler waits
            try:
                await handlers[0](event)
            except Exception as exc:  # noqa: BLE001 - as below
                self._failed(event, handlers[0], exc)
            return
        results = await asyncio.gather(*(h(event) for h in handlers), return_exceptions=True)
        for handler, result in zip(handlers, results, strict=True):
            if isinstance(result, BaseException):
                if isinstance(result, asyncio.CancelledError):
                    raise result
                self._failed(event, handler, result)

    def _failed(self, event: Event, handler: Handler, exc: BaseException) -> None:
        self.failures += 1
        log.error("handler %s failed on %s %s: %r", getattr(handler, "__qualname__", handler), type(event).__name__,
                  _ids(event), exc, exc_info=exc)


def _ids(event: Event) -> dict[str, Any]:
    if not is_dataclass(event):
        return {}
    return {k: v for k, v in asdict(event).items() if k.endswith("id") or k.endswith("ids")}
