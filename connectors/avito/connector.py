"""The Avito messenger connector: an OAuth token (client credentials, refreshed before it runs out or when
Avito refuses it), the v3 webhook in, the messages API out. Knows nothing of the database: ``on_event``
(the hub) stores each event.

Avito signs no webhook: the address's last part is a secret only Avito and the hub know, so a wrong one is
a 403 with nothing stored. Avito may post an event again: the event ids handled lately are kept in the
checkpoint, and the intake is idempotent by the message's id besides. A chat seen for the first time brings
its listing and its earlier messages; each handled chat is marked read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from connectors.avito.events import AvitoInbound, AvitoMessage
from connectors.avito.parse import chat_context, to_message, webhook_message
from connectors.avito.settings import AvitoSettings
from connectors.email.errors import PermanentSendError
from connectors.messaging.http import ProviderRefused
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

log = logging.getLogger("hub.avito")
OnEvent = Callable[[AvitoInbound], Awaitable[None]]
TOKEN_MARGIN_S = 300  # a token is renewed this long before Avito says it runs out


class AvitoConnector(ProviderConnector):
    def __init__(self, settings: AvitoSettings, on_event: OnEvent, checkpoint) -> None:  # noqa: ANN001
        super().__init__("avito", settings)
        self._on_event = on_event
        self._checkpoint = checkpoint
        self._lock = asyncio.Lock()
        self._token = ""
        self._token_until = 0.0
        self._subscribing: asyncio.Task | None = None
        self.subscribed = False
        self.handled = 0

    @property
    def key(self) -> str:
        return f"avito:{self.settings.user_id}:events"

    async def start(self) -> None:
        await super().start()
        if self.settings.public_url:
            self._subscribing = asyncio.create_task(self._subscribe(), name="avito-subscribe")

    async def stop(self) -> None:
        if self._subscribing is not None:
            self._subscribing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._subscribing
        await super().stop()

    def routes(self) -> list:
        return [("POST", self.settings.webhook_path + "/{secret}", self.webhook)] if self.settings.enabled else []

    async def _subscribe(self, attempts: int = 6) -> None:
        """Subscribe the webhook (messenger v3); an outage is waited out with a growing pause."""
        secret = self.settings.webhook_secret.get_secret_value() if self.settings.webhook_secret else ""
        url = f"{self.settings.public_url.rstrip('/')}{self.settings.webhook_path}/{secret}"
        for n in range(attempts):
            try:
                await self.api("POST", "/messenger/v3/webhook", json={"url": url})
                self.subscribed = True
                log.info("avito webhook subscribed for account %s", self.settings.user_id)
                return
            except PermanentSendError as exc:
                log.error("avito webhook subscription refused (%s)", type(exc).__name__)
                return
            except Exception as exc:  # noqa: BLE001 - an outage: try again later
                log.warning("avito webhook subscription failed (%s), attempt %d", type(exc).__name__, n + 1)
                await asyncio.sleep(min(60.0, 0.5 * 2 ** n))

    async def webhook(self, request: web.Request) -> web.StreamResponse:
        secret = self.settings.webhook_secret.get_secret_value() if self.settings.webhook_secret else ""
        if not same_secret(request.match_info.get("secret"), secret):
            log.warning("avito webhook refused (403): wrong address secret from %s", request.remote)
            return forbidden()
        try:
            data = json_object(await read_body(request, self.settings.max_body_bytes))
        except BadBody as exc:
            log.warning("avito webhook refused (400): %s", exc)
            return bad_request(str(exc))
        found = webhook_message(data)
        if found is None:
            payload = data.get("payload")
            if isinstance(payload, dict) and payload.get("type") not in (None, "message"):
                return web.json_response({"ok": True})  # another kind of event: nothing to keep
            return bad_request("not a message event")
        try:
            await self._handle(*found)
        except Exception:  # the hub could not store it (database away…): Avito sends it again
            log.exception("avito event %s not handled; Avito will send it again", found[0])
            return retry_later()
        return web.json_response({"ok": True})

    async def _handle(self, event_id: str, message: AvitoMessage) -> None:
        async with self._lock:
            saved = await self._checkpoint.load(self.key) or {}
            seen = RecentIds.from_json(saved.get("events"))
            chats = RecentIds.from_json(saved.get("chats"), max_ids=20_000)
            if event_id in seen:
                log.info("avito event %s already handled", event_id)
                return
            account = self.settings.user_id
            message = AvitoMessage(**{**_fields(message), "out": message.author_id == account})
            inbound = AvitoInbound(event_id, message)
            if message.chat_id not in chats:
                inbound = await self._first_sight(inbound)
            await self._on_event(inbound)
            self.handled += 1
            seen.add(event_id)
            chats.add(message.chat_id)
            await self._checkpoint.save(self.key, {**saved, "events": seen.to_json(), "chats": chats.to_json()})
        if not message.out:
            await self.mark_read(message.chat_id)

    async def _first_sight(self, inbound: AvitoInbound) -> AvitoInbound:
        """The chat's listing, the client's name and earlier messages; what Avito does not answer is left out."""
        chat_id, account = inbound.message.chat_id, self.settings.user_id
        item_id = title = url = name = ""
        history: list[AvitoMessage] = []
        try:
            chat = await self.api("GET", f"/messenger/v2/accounts/{account}/chats/{chat_id}")
            item_id, title, url, name = chat_context(chat, account)
            if self.settings.history_limit:
                listed = await self.api("GET", f"/messenger/v3/accounts/{account}/chats/{chat_id}/messages/",
                                        params={"limit": self.settings.history_limit, "offset": 0})
                rows = listed.get("messages") if isinstance(listed, dict) else listed
                for row in rows if isinstance(rows, list) else []:
                    earlier = to_message(row, account, chat_id)
                    if earlier is not None and earlier.message_id != inbound.message.message_id:
                        history.append(earlier)
        except Exception as exc:  # noqa: BLE001 - the message itself is kept all the same
            log.warning("avito chat %s not described (%s)", chat_id, type(exc).__name__)
        history.sort(key=lambda m: m.created)
        return AvitoInbound(inbound.event_id, inbound.message, item_id, title, url, name, tuple(history))

    async def mark_read(self, chat_id: str) -> None:
        try:
            await self.api("POST", f"/messenger/v1/accounts/{self.settings.user_id}/chats/{chat_id}/read")
        except Exception as exc:  # noqa: BLE001 - a read mark is not worth a retry
            log.info("avito read mark for chat %s failed (%s)", chat_id, type(exc).__name__)

    async def token(self, renew: bool = False) -> str:
        if self._token and not renew and time.monotonic() < self._token_until:
            return self._token
        secret = self.settings.client_secret.get_secret_value() if self.settings.client_secret else ""
        try:
            answer = await self.http.call("POST", f"{self.settings.api_url}/token", data={
                "grant_type": "client_credentials", "client_id": self.settings.client_id, "client_secret": secret})
        except ProviderRefused:
            self.http.mark("auth_failed")
            raise
        body = answer.json()
        token = body.get("access_token") if isinstance(body, dict) else None
        if answer.status != 200 or not isinstance(token, str) or not token:
            self.http.mark("auth_failed")
            raise PermanentSendError(f"Avito не выдал токен (HTTP {answer.status}) / Avito refused the token")
        expires = body.get("expires_in") if isinstance(body.get("expires_in"), int) else 3600
        self._token, self._token_until = token, time.monotonic() + max(60, expires - TOKEN_MARGIN_S)
        log.info("avito token renewed (valid %ss)", expires)
        return token

    async def api(self, method: str, path: str, **kw: Any) -> Any:  # noqa: ANN401 - Avito's JSON
        """One API call with the token; a 401 renews the token once. 4xx: PermanentSendError; 429/5xx: busy."""
        for renew in (False, True):
            headers = {"Authorization": f"Bearer {await self.token(renew)}"}
            answer = await self.http.call(method, f"{self.settings.api_url}{path}", headers=headers, **kw)
            if answer.status != 401:
                break
        if answer.status in (401, 403):
            self.http.mark("auth_failed")
            raise PermanentSendError(f"Avito отказал в доступе (HTTP {answer.status}) / Avito refused access")
        if answer.status >= 400:
            raise PermanentSendError(f"Avito отклонил (HTTP {answer.status}) / Avito refused")
        if self.http.link == "auth_failed":
            self.http.mark("running")
        return answer.json()

    async def send(self, chat_id: str, text: str) -> str:
        """A text message into the chat; Avito's id of the sent message."""
        answer = await self.api("POST", f"/messenger/v1/accounts/{self.settings.user_id}/chats/{chat_id}/messages",
                                json={"message": {"text": text}, "type": "text"})
        sent = answer.get("id") if isinstance(answer, dict) else None
        return str(sent) if sent else ""


class AvitoChannel:
    """Agents' replies into the client's Avito chat (the hub's outbox calls this)."""

    def __init__(self, connector: AvitoConnector) -> None:
        self._connector = connector

    async def deliver(self, out) -> str:  # noqa: ANN001 - channels.outbox.Outgoing
        chat = (out.meta or {}).get("chat_id")
        if not isinstance(chat, str) or not chat:
            raise PermanentSendError("нет чата Avito с клиентом / no Avito chat with the client")
        return await self._connector.send(chat, out.text)


def _fields(message: AvitoMessage) -> dict[str, Any]:
    return {name: getattr(message, name) for name in message.__slots__}
