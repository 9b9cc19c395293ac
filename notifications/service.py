"""The notification center as a hub service: a loop that looks at the memorable dates, the inquiries' planned
days, due callbacks and the clients' SMS (viewing reminders, «we will call you back») and sends what is
queued, woken at once when something is queued, else every ``poll_s``."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from notifications.client_sms import ClientSms
from notifications.dates import DateScheduler
from notifications.notifier import Notifier
from notifications.planned import PlannedDayScheduler
from notifications.subscriptions import PushNotices, callback_notices

log = logging.getLogger("hub.notifications")


class NotificationService:
    def __init__(self, notifier: Notifier, dates: DateScheduler, *, poll_s: float = 30.0,
                 enabled: bool = True, planned: PlannedDayScheduler | None = None,
                 client_sms: ClientSms | None = None) -> None:
        self.enabled = enabled
        self.client_sms = client_sms
        self.notifier = notifier
        self.dates = dates
        self.planned = planned
        self.pushes = PushNotices(notifier)
        self.poll_s = poll_s
        self._task: asyncio.Task[None] | None = None
        self.passes = 0
        self.last_error: str | None = None

    @property
    def state(self) -> str:
        if not self.enabled:
            return "disabled"
        if self._task is None:
            return "stopped"
        return "degraded" if self.last_error else "running"

    async def start(self) -> None:
        if self.enabled and self._task is None:
            self._task = asyncio.create_task(self._run(), name="notifications")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run_once(self) -> None:
        """One pass: dates, planned days, callbacks, clients' SMS, then everything due to be sent."""
        await self.dates.run_once()
        if self.planned is not None:
            await self.planned.run_once()
        await callback_notices(self.notifier)
        if self.client_sms is not None:
            await self.client_sms.run_once()
        while await self.notifier.deliver_due():
            pass
        self.passes += 1

    async def _run(self) -> None:
        while True:
            self.notifier.wakeup.clear()
            try:
                await self.run_once()
                self.last_error = None
            except Exception as exc:  # noqa: BLE001 - the loop outlives a bad moment of the database
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.exception("notifications pass failed; trying again in %.0fs", self.poll_s)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_s):
                    await self.notifier.wakeup.wait()
