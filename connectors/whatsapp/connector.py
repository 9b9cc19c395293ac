"""The WhatsApp Cloud API connector: the webhook in (verification, signed events), the Graph API out
(replies, templates, media). Knows nothing of the database: ``on_event`` (the hub) stores each event.

Meta signs each POST with the app secret (``X-Hub-Signature-256`` over the raw body): a wrong or missing
signature is a 403 and nothing is read. Meta sends an event again until it gets a 200, so the ids handled
are kept (``RecentIds``) in the checkpoint, and the intake is idempotent by the message id besides.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from connectors.email.errors import PermanentSendError, TemporarySendError
from connectors.messaging.http import ProviderBusy
from connectors.messaging.provider import ProviderConnector
from connectors.messaging.recent import RecentIds
from connectors.messaging.webhook import (
    BadBody,
    bad_request,
    forbidden,
    hmac_sha256_hex,
    json_object,
    read_body,
    retry_later,
    same_secret,
)
from connectors.whatsapp.events import WaMessage, WaStatus
from connectors.whatsapp.parse import payload_events
from connectors.whatsapp.settings import WhatsAppSettings

log = logging.getLogger("hub.whatsapp")
OnEvent = Callable[[WaMessage | WaStatus], Awaitable[None]]
BUSY_CODES = {4, 80007, 130429, 131000, 131016, 131048, 131056, 133004}  # rate limits, service unavailable
AUTH_CODES = {190, 10, 200}
WINDOW_CLOSED = 131047
REFUSALS = {
    WINDOW_CLOSED: "прошло больше 24 часов с последнего сообщения клиента: WhatsApp принимает только шаблон / "
                   "more than 24 hours since the client's last message: WhatsApp takes a template only",
    131026: "WhatsApp не может доставить сообщение этому номеру / WhatsApp cannot deliver to this number",
    131051: "тип сообщения не поддерживается / unsupported message type",
    132001: "шаблон не найден или не одобрен / the template does not exist or is not approved",
}
MAX_TEXT = 4096


class WhatsAppConnector(ProviderConnector):
    def __init__(self, settings: WhatsAppSettings, on_event: OnEvent, checkpoint, *,  # noqa: ANN001
                 files_dir: Path | None = None) -> None:
        super().__init__("whatsapp", settings)
        self.files_dir = files_dir
        self._on_event = on_event
        self._checkpoint = checkpoint
        self._lock = asyncio.Lock()
        self.handled = 0

    @property
    def key(self) -> str:
        return f"whatsapp:{self.settings.phone_number_id}:events"

    @property
    def graph(self) -> str:
        return f"{self.settings.graph_url.rstrip('/')}/{self.settings.api_version}"

    def routes(self) -> list:
        if not self.settings.enabled:
            return []
        return [("GET", self.settings.webhook_path, self.verify), ("POST", self.settings.webhook_path, self.webhook)]

    async def verify(self, request: web.Request) -> web.StreamResponse:
        """Meta's subscription check: echo ``hub.challenge`` when ``hub.verify_token`` is ours."""
        expected = self.settings.verify_token.get_secret_value() if self.settings.verify_token else ""
        q = request.query
        if q.get("hub.mode") != "subscribe" or not same_secret(q.get("hub.verify_token"), expected):
            log.warning("whatsapp webhook verification refused from %s", request.remote)
            return forbidden()
        return web.Response(text=q.get("hub.challenge", "")[:200])

    async def webhook(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await read_body(request, self.settings.max_body_bytes)
        except BadBody as exc:
            return bad_request(str(exc))
        secret = self.settings.app_secret.get_secret_value() if self.settings.app_secret else ""
        sent = request.headers.get("X-Hub-Signature-256", "")
        if not secret or not same_secret(sent, "sha256=" + hmac_sha256_hex(secret, body)):
            log.warning("whatsapp webhook refused (403): wrong signature from %s", request.remote)
            return forbidden()
        try:
            events = payload_events(json_object(body))
        except BadBody as exc:
            return bad_request(str(exc))
        try:
            await self._handle(events)
        except Exception:  # the hub could not store it: Meta sends the payload again
            log.exception("whatsapp payload not handled; Meta will send it again")
            return retry_later()
        return web.json_response({"ok": True})

    async def _handle(self, events: list[WaMessage | WaStatus]) -> None:
        async with self._lock:
            for event in events:
                key = event.key if isinstance(event, WaStatus) else event.message_id
                saved = await self._checkpoint.load(self.key) or {}
                seen = RecentIds.from_json(saved.get("events"))
                if key in seen:
                    log.info("whatsapp event %s already handled", key)
                    continue
                if isinstance(event, WaMessage) and event.media:
                    event = await self._keep_media(event)
                await self._on_event(event)
                self.handled += 1
                seen.add(key)
                await self._checkpoint.save(self.key, {**saved, "events": seen.to_json()})

    async def _keep_media(self, event: WaMessage) -> WaMessage:
        """Download each medium (GET media id → url → bytes, with the token); a failure becomes a note."""
        saved, notes = [], []
        for n, media in enumerate(event.media):
            try:
                data = await self.download(media.media_id)
                if self.files_dir is None:
                    continue
                name = _safe(media.filename) or f"{media.kind}{_ext(media.mime_type)}"
                path = self.files_dir / f"{_safe(event.message_id)[-40:]}-{n}-{name}"
                path.parent.mkdir(parents=True, exist_ok=True)
                await asyncio.to_thread(path.write_bytes, data)
                saved.append(str(path))
            except (PermanentSendError, TemporarySendError, OSError) as exc:
                log.warning("whatsapp message %s: %s not downloaded (%s)", event.message_id, media.kind,
                            type(exc).__name__)
                notes.append(f"{media.kind}: не скачано / not downloaded ({str(exc)[:200]})")
        return replace(event, saved=tuple(saved), notes=event.notes + tuple(notes))

    def _auth(self) -> dict[str, str]:
        token = self.settings.access_token.get_secret_value() if self.settings.access_token else ""
        return {"Authorization": f"Bearer {token}"}

    async def download(self, media_id: str) -> bytes:
        limit = self.settings.max_media_bytes
        info = await self._json("GET", f"{self.graph}/{media_id}")
        url, size = info.get("url"), info.get("file_size")
        if isinstance(size, int) and size > limit:
            raise PermanentSendError(f"{size} байт, больше предела {limit} / over the {limit} bytes limit")
        if not isinstance(url, str) or not self._trusted(url):
            raise PermanentSendError("нет адреса файла / no media url")
        answer = await self.http.call("GET", url, headers=self._auth(), limit=limit)
        if answer.status != 200:
            raise PermanentSendError(f"HTTP {answer.status}")
        return answer.body

    def _trusted(self, url: str) -> bool:
        """The token goes only to HTTPS addresses, or to the configured Graph API's own host (a fake)."""
        parts, graph = urlsplit(url), urlsplit(self.settings.graph_url)
        return parts.scheme == "https" or (parts.scheme, parts.netloc) == (graph.scheme, graph.netloc)

    async def _json(self, method: str, url: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = await self.http.call(method, url, headers=self._auth(), json=payload)
        body = answer.json()
        if not isinstance(body, dict):
            raise TemporarySendError(f"whatsapp: HTTP {answer.status}, not JSON")
        error = body.get("error")
        if answer.status >= 400 or isinstance(error, dict):
            code = error.get("code") if isinstance(error, dict) else None
            if code in BUSY_CODES:
                self.http.mark("degraded")
                raise ProviderBusy(f"WhatsApp занят (код {code}) / WhatsApp busy (code {code})")
            if code in AUTH_CODES:
                self.http.mark("auth_failed")
                log.error("whatsapp refused the access token (code %s)", code)
                raise TemporarySendError(f"WhatsApp не принял ключ доступа (код {code}) / token refused")
            raise PermanentSendError(REFUSALS.get(code if isinstance(code, int) else -1,
                                                  f"WhatsApp отклонил (код {code}) / WhatsApp refused"))
        if self.http.link == "auth_failed":
            self.http.mark("running")
        return body

    async def send(self, wa_id: str, text: str, template: str | None = None) -> str:
        """A text (in the window) or the template with the text as its parameter; returns the wamid."""
        message: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": wa_id}
        if template:
            message |= {"type": "template", "template": {
                "name": template, "language": {"code": self.settings.template_language},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": text[:1024]}]}]}}
        else:
            message |= {"type": "text", "text": {"body": text[:MAX_TEXT], "preview_url": False}}
        body = await self._json("POST", f"{self.graph}/{self.settings.phone_number_id}/messages", message)
        ids = [m.get("id") for m in body.get("messages") or [] if isinstance(m, dict)]
        if not ids or not isinstance(ids[0], str):
            raise TemporarySendError("whatsapp: no message id in the answer")
        return ids[0]


class WhatsAppChannel:
    """Agents' replies through the business number (the hub's outbox calls this)."""

    def __init__(self, connector: WhatsAppConnector) -> None:
        self._connector = connector

    async def deliver(self, out) -> str:  # noqa: ANN001 - channels.outbox.Outgoing
        template = out.meta.get("template") if out.meta else None
        return await self._connector.send(str(out.to), out.text, template)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name).lstrip(".")[-100:]


def _ext(mime: str) -> str:
    return {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "audio/ogg": ".ogg",
            "audio/mpeg": ".mp3", "video/mp4": ".mp4", "application/pdf": ".pdf"}.get(mime.split(";")[0], "")
