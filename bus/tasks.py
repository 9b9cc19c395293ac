"""Owned background tasks: every loop the hub starts is kept here and awaited on stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("hub.tasks")


class TaskSupervisor:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False

    def spawn(self, name: str, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        if self._closing:
            coro.close()
            raise RuntimeError(f"cannot start {name}: the hub is stopping")
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s died: %r", task.get_name(), task.exception(), exc_info=task.exception())

    @property
    def names(self) -> list[str]:
        return sorted(t.get_name() for t in self._tasks)

    async def stop(self, grace_s: float = 4.0) -> None:
        """Cancel every owned task and wait for all of them (bounded, so a stop is never stuck)."""
        self._closing = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace_s)
            for task in pending:
                log.error("task %s did not stop within %.1fs", task.get_name(), grace_s)
