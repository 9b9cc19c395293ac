"""What every provider connector (VK, WhatsApp, Avito, SMS) shares: its settings, its HTTP link to the
provider, and the lifecycle the hub drives (``start``/``stop``, ``state`` on /healthz)."""

from __future__ import annotations

from typing import Any

from connectors.messaging.http import ProviderHttp


class ProviderConnector:
    """``settings`` needs ``enabled``, ``timeout_s`` and ``max_retry_after_s``. A subclass that starts work
    of its own (a subscription) extends ``start``/``stop`` and calls these."""

    def __init__(self, name: str, settings: Any) -> None:
        self.settings = settings
        self.http = ProviderHttp(name, timeout_s=settings.timeout_s, max_retry_after_s=settings.max_retry_after_s)
        self._running = False

    @property
    def state(self) -> str:
        if not self.settings.enabled:
            return "disabled"
        return self.http.link if self._running else "stopped"

    async def start(self) -> None:
        self._running = True

    async def stop(self) -> None:
        self._running = False
        await self.http.close()
