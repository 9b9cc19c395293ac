"""The VK community connector: the Callback API in, messages.send out. Knows nothing of the database:
``on_event`` (the hub) stores each event.

VK posts each event until it gets the text ``ok``, so the same ``event_id`` may come again: the ids handled
are kept (``RecentIds``, the last few thousand) in the checkpoint, and the hub's intake is idempotent by the
message's id besides. A wrong ``secret`` is a 403 with nothing stored; a body too large or not JSON a 400;
an event the hub could not store a 503, and VK sends it again. Replies carry a ``random_id`` derived from
the hub's message id, so a reply sent twice (a retry after a lost answer) reaches the client once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from aiohttp import web

from connectors.email.errors import PermanentSendError, TemporarySendError
from connectors.messaging.http import ProviderBusy
from connectors.messaging.provider import ProviderConnector
from connectors.messaging.recent import RecentIds
from connectors.messaging.webhook import (
    BadBody,
    bad_request,
    forbidden,
    json_object,
    read_body,
    retry_later,
    same_secret,
)
from connectors.vk.events import VkInbound
from connectors.vk.parse import event_to_inbound
from connectors.vk.settings import VkSettings

log = logging.getLogger("hub.vk")
OnEvent = Callable[[VkInbound], Awaitable[None]]
MAX_PART = 4000  # VK's limit for one message is 4,096 characters
BUSY_CODES = {1, 6, 9, 10, 29}  # unknown error, too many requests, flood control, internal error, rate limit
AUTH_CODES = {5, 27, 28}
REFUSALS = {
    900: "клиент в чёрном списке сообщества / the client is on the community's blacklist",
    901: "клиент не разрешил сообщения от сообщества / the client has not allowed messages from the community",
    902: "клиент запретил сообщения настройками приватности / the client's privacy settings forbid messages",
}


class VkConnector(ProviderConnector):
    def __init__(self, settings: VkSettings, on_event: OnEvent, checkpoint) -> None:  # noqa: ANN001
        super().__init__("vk", settings)
        self._on_event = on_event
        self._checkpoint = checkpoint
        self._lock = asyncio.Lock()
        self._names: dict[int, str] = {}
        self.handled = 0

    @property
    def key(self) -> str:
        return f"vk:{self.settings.group_id}:events"

    def routes(self) -> list:
        return [("POST", self.settings.webhook_path, self.webhook)] if self.settings.enabled else []

    async def webhook(self, request: web.Request) -> web.StreamResponse:
        try:
            data = json_object(await read_body(request, self.settings.max_body_bytes))
        except BadBody as exc:
            log.warning("vk callback refused (400): %s", exc)
            return bad_request(str(exc))
        if data.get("group_id") != self.settings.group_id:
            log.warning("vk callback refused (403): another community's event from %s", request.remote)
            return forbidden()
        if data.get("type") == "confirmation":  # the address check when it is set up in the community
            log.info("vk confirmation asked for group %s", self.settings.group_id)
            return web.Response(text=self.settings.confirmation)
        secret = self.settings.secret.get_secret_value() if self.settings.secret else ""
        if not same_secret(data.get("secret"), secret):  # no secret set: no event is taken, it could be forged
            log.warning("vk callback refused (403): wrong secret from %s", request.remote)
            return forbidden()
        event_id = data.get("event_id")
        if not isinstance(event_id, str) or not event_id or len(event_id) > 100:
            return bad_request("no event_id")
        try:
            await self._handle(event_id, data)
        except Exception:  # the hub could not store it (database away…): VK sends it again
            log.exception("vk event %s not handled; VK will send it again", event_id)
            return retry_later()
        return web.Response(text="ok")

    async def _handle(self, event_id: str, data: dict[str, Any]) -> None:
        async with self._lock:
            saved = await self._checkpoint.load(self.key) or {}
            seen = RecentIds.from_json(saved.get("events"))
            if event_id in seen:
                log.info("vk event %s already handled", event_id)
                return
            event = event_to_inbound(data)
            if event is not None:
                if event.kind == "message":
                    event = replace(event, name=await self.user_name(event.user_id))
                await self._on_event(event)
                self.handled += 1
            seen.add(event_id)
            await self._checkpoint.save(self.key, {**saved, "events": seen.to_json()})

    async def api(self, method: str, params: dict[str, Any]) -> Any:  # noqa: ANN401 - VK's "response"
        """Call a VK API method; a VK error is PermanentSendError, or TemporarySendError when waiting helps."""
        token = self.settings.access_token.get_secret_value() if self.settings.access_token else ""
        form = {k: str(v) for k, v in params.items()} | {"access_token": token, "v": self.settings.api_version}
        answer = await self.http.call("POST", f"{self.settings.api_url}/{method}", data=form)
        body = answer.json()
        if not isinstance(body, dict):
            raise TemporarySendError(f"vk {method}: HTTP {answer.status}, not JSON")
        error = body.get("error")
        if isinstance(error, dict):
            code = error.get("error_code")
            if code in BUSY_CODES:
                self.http.mark("degraded")
                raise ProviderBusy(f"VK занят (код {code}) / VK busy (code {code})")
            if code in AUTH_CODES:
                self.http.mark("auth_failed")
                log.error("vk refused the community's token (code %s)", code)
                raise TemporarySendError(f"VK не принял ключ доступа (код {code}) / VK refused the token")
            reason = REFUSALS.get(code if isinstance(code, int) else -1, f"VK отклонил (код {code}) / VK refused")
            raise PermanentSendError(reason)
        if self.http.link == "auth_failed":
            self.http.mark("running")
        return body.get("response")

    async def user_name(self, user_id: int) -> str:
        """The client's name from users.get (kept in memory); empty when VK does not answer."""
        if user_id in self._names:
            return self._names[user_id]
        try:
            users = await self.api("users.get", {"user_ids": user_id})
        except (PermanentSendError, TemporarySendError) as exc:
            log.info("vk users.get for a client failed (%s)", type(exc).__name__)
            return ""
        first = users[0] if isinstance(users, list) and users and isinstance(users[0], dict) else {}
        name = f"{first.get('first_name', '')} {first.get('last_name', '')}".strip()[:300]
        if len(self._names) > 10_000:
            self._names.clear()
        self._names[user_id] = name
        return name

    async def send(self, peer_id: int, text: str, random_id: int) -> str:
        """Send ``text`` (in parts of at most 4,000 characters); the id of the last part, ``peer:cmid``."""
        sent = ""
        for n, part in enumerate(_parts(text)):
            answer = await self.api("messages.send", {"peer_ids": peer_id, "message": part,
                                                      "random_id": (random_id * 16 + n) % 2**31})
            row = answer[0] if isinstance(answer, list) and answer and isinstance(answer[0], dict) else {}
            if isinstance(row.get("error"), dict):
                code = row["error"].get("code")
                raise PermanentSendError(REFUSALS.get(code, f"VK отклонил (код {code}) / VK refused"))
            sent = f"{peer_id}:{row.get('conversation_message_id', '')}"
        return sent


class VkChannel:
    """Agents' replies through the community (the hub's outbox calls this)."""

    def __init__(self, connector: VkConnector) -> None:
        self._connector = connector

    async def deliver(self, out) -> str:  # noqa: ANN001 - channels.outbox.Outgoing
        return await self._connector.send(int(out.to), out.text, out.message_id)


def _parts(text: str) -> list[str]:
    parts = []
    while len(text) > MAX_PART:
        cut = text.rfind("\n", MAX_PART // 2, MAX_PART)
        cut = cut + 1 if cut > 0 else MAX_PART
        parts.append(text[:cut])
        text = text[cut:]
    return [*parts, text][:15]
