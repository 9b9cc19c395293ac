"""Plugs workflow into the hub: the intake's moderation gate, the service that keeps the rules fresh and fills
the quality-control queue, and the bus subscription that puts a call's script answers on its inquiry."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from zoneinfo import ZoneInfo

from bus.events import InquiryOpened, MessageReceived, Push
from crm_core.models import utcnow
from workflow import moderation, quality, scripts
from workflow.settings import ModerationRules, QcRule, WorkflowSettings

log = logging.getLogger("hub.workflow")
SAMPLE_EVERY_S = 300.0


class WorkflowService:
    """Shown on /healthz as ``workflow``; web handlers reach it as ``hub.connectors["workflow"]``."""

    def __init__(self, hub, settings: WorkflowSettings) -> None:  # noqa: ANN001 - bootstrap.Hub
        self.hub = hub
        self.settings = settings
        self.gate = moderation.ModerationGate(settings.moderation)
        self.qc_rule: QcRule = settings.qc
        self.zone = ZoneInfo(getattr(hub.settings, "time_zone", "Europe/Moscow"))
        self.state = "stopped"
        self._task: asyncio.Task[None] | None = None
        self._last_sample = 0.0
        self.calls: OrderedDict[str, set[int]] = OrderedDict()
        """Calls whose script an agent opened while on them (by linkedid): answers may follow the hang-up."""

    @property
    def sessions(self):  # noqa: ANN201
        return self.hub.database.sessions

    async def route(self, inquiry_id: int, why: str) -> object:
        """Hand an inquiry to the routing service (when routing runs; else it waits in the inbox as new)."""
        routing = self.hub.connectors.get("routing")
        if routing is None or not hasattr(routing, "route"):
            return None
        return await routing.route(inquiry_id, why=why)

    async def start(self) -> None:
        await self.refresh()
        self.state = "running"
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="workflow")

    async def stop(self) -> None:
        self.state = "stopped"
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def refresh(self) -> None:
        """Re-read what administrators changed (another instance may have saved it)."""
        async with self.sessions() as s:
            self.gate.rules = await moderation.load_rules(s, self.settings.moderation)
            self.qc_rule = await quality.load_rule(s, self.settings.qc)

    def set_rules(self, rules: ModerationRules | None = None, qc: QcRule | None = None) -> None:
        if rules is not None:
            self.gate.rules = rules
        if qc is not None:
            self.qc_rule = qc

    async def sample(self) -> int:
        return await quality.sample(self.sessions, self.qc_rule, utcnow(), self.zone)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.settings.refresh_s)
            try:
                await self.refresh()
                if loop.time() - self._last_sample >= SAMPLE_EVERY_S:
                    self._last_sample = loop.time()
                    await self.sample()
            except Exception:  # noqa: BLE001 - the loop must outlive a bad moment of the database
                log.exception("workflow refresh failed; trying again in %.0fs", self.settings.refresh_s)

    async def on_opened(self, event: InquiryOpened) -> None:
        """A request that waits for moderation: its moderators' pages hear of it at once."""
        rules = self.gate.rules
        if not (rules.channels or rules.sources or rules.sites):
            return
        async with self.sessions() as s:
            users = await moderation.moderators_of(s, event.inquiry_id)
        if users:
            await self.hub.bus.publish(Push(tuple(users), "moderation", {"inquiry_id": event.inquiry_id}))

    async def on_call_inquiry(self, event: InquiryOpened | MessageReceived) -> None:
        if event.channel == "call" and event.external_id:
            await scripts.attach_waiting(self.sessions, event.external_id)
