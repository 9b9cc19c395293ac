"""Calls to a provider's HTTP API with the hub's rules: a deadline on each call, a 429 or 5xx is a temporary
failure (waited out inline when the provider asks for a short pause, else left to the outbox's back-off),
and the link's state for /healthz. Errors carry no message text: only statuses and the provider's codes."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from typing import Any

import aiohttp

from connectors.email.errors import PermanentSendError, TemporarySendError

log = logging.getLogger("hub.provider")


class ProviderBusy(TemporarySendError):
    """429 or 5xx, a timeout or a broken connection: try again later (``retry_after`` seconds when said)."""

    def __init__(self, text: str, retry_after: float | None = None) -> None:
        super().__init__(text)
        self.retry_after = retry_after


class ProviderRefused(PermanentSendError):
    """The provider refused the request itself (4xx other than 429): sending it again changes nothing."""


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str

    def json(self) -> Any:  # noqa: ANN401 - the provider's JSON
        import json

        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None


class ProviderHttp:
    """One provider's HTTP link. ``state`` is what /healthz shows: running, degraded (the last call met an
    outage), auth_failed (the provider refused the hub's token)."""

    def __init__(self, name: str, *, timeout_s: float = 20.0, max_retry_after_s: float = 5.0,
                 inline_retries: int = 2) -> None:
        self.name = name
        self.timeout_s = timeout_s
        self.max_retry_after_s = max_retry_after_s
        self.inline_retries = inline_retries
        self.link = "running"
        self.failures = 0
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        return self._session

    def mark(self, state: str) -> None:
        if state != self.link:
            log.info("%s link %s -> %s", self.name, self.link, state)
        self.link = state
        self.failures = 0 if state == "running" else self.failures + 1

    async def call(self, method: str, url: str, *, limit: int = 1_000_000, **kw: Any) -> Answer:  # noqa: ANN401
        """One call, with up to ``inline_retries`` short waits on 429/5xx; raises ProviderBusy past them."""
        attempt = 0
        while True:
            try:
                answer = await self._once(method, url, limit, **kw)
            except ProviderBusy as exc:
                wait = exc.retry_after if exc.retry_after is not None else 0.2 * 2 ** attempt
                if attempt >= self.inline_retries or wait > self.max_retry_after_s:
                    self.mark("degraded")
                    raise
                attempt += 1
                await asyncio.sleep(wait * random.uniform(0.8, 1.0))  # noqa: S311 - jitter, not a secret
                continue
            if self.link == "degraded":
                self.mark("running")
            return answer

    async def _once(self, method: str, url: str, limit: int, **kw: Any) -> Answer:  # noqa: ANN401
        try:
            async with self._client().request(method, url, **kw) as resp:
                body = await resp.content.read(limit + 1)
                answer = Answer(resp.status, body[:limit], resp.headers.get("Content-Type", ""))
                retry_after = _seconds(resp.headers.get("Retry-After"))
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise ProviderBusy(f"{self.name}: {type(exc).__name__}") from None
        if answer.status == 429 or answer.status >= 500:
            raise ProviderBusy(f"{self.name}: HTTP {answer.status}", retry_after)
        if len(body) > limit:
            raise ProviderRefused(f"{self.name}: answer over {limit} bytes")
        return answer


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
