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


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[type, list[Handler]] = defaultdict(list)
        self.failures = 0
        self.published = 0

    def subscribe(self, event_type: type[Event], handler: Handler) -> None:
        self._handlers[event_type].append(handler)

    def handlers_for(self, event: Event) -> list[Handler]:
        found: list[Handler] = []
        for cls in type(event).__mro__:
            found.extend(self._handlers.get(cls, ()))
        return found

    async def publish(self, event: Event) -> None:
        """Run every handler of the event; one that fails is logged with the event's ids and the rest go on."""
        self.published += 1
        handlers = self.handlers_for(event)
        if not handlers:
            return
        results = await asyncio.gather(*(h(event) for h in handlers), return_exceptions=True)
        for handler, result in zip(handlers, results, strict=True):
            if isinstance(result, BaseException):
                if isinstance(result, asyncio.CancelledError):
                    raise result
                self.failures += 1
                log.error(
                    "handler %s failed on %s %s: %r",
                    getattr(handler, "__qualname__", handler), type(event).__name__, _ids(event), result,
                    exc_info=result,
                )


def _ids(event: Event) -> dict[str, Any]:
    if not is_dataclass(event):
        return {}
    return {k: v for k, v in asdict(event).items() if k.endswith("id") or k.endswith("ids")}
