"""A fake WhatsApp Cloud API (Meta Graph API) on loopback, built from Meta's public documentation
(developers.facebook.com, WhatsApp Cloud API: "Webhooks" with the verification request and
X-Hub-Signature-256, the "messages" and "statuses" webhook objects, "Messages" (POST
/PHONE_NUMBER_ID/messages, text and template), "Media" (GET /MEDIA_ID → url, GET url with the token);
Graph API version v21.0, as read in December 2026).

Covers: the bearer token on every call; text and template messages with their answer (contacts, messages[].id
as a wamid); error 131047 (re-engagement: a text outside the 24-hour window) and Graph errors in the
{"error": {"message", "type", "code", "fbtrace_id"}} shape; rate limit 130429 and HTTP outages (5xx, 429);
media URL lookup and download; signed webhook payloads (messages with contacts/profile, statuses with
errors). Not covered: interactive messages, media upload, business-initiated pricing, phone registration,
message_template_status_update and account webhooks, the 7-day webhook retry schedule itself."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json

from aiohttp import web
from aiohttp.test_utils import TestServer

VERSION = "v21.0"


class FakeWhatsApp:
    def __init__(self, token: str, phone_number_id: str, app_secret: str) -> None:
        self.token, self.phone_number_id, self.app_secret = token, phone_number_id, app_secret
        self.sent: list[dict] = []
        self.media: dict[str, tuple[bytes, str]] = {}
        self.window_closed: set[str] = set()  # recipients whose 24-hour window has closed (131047 for a text)
        self.failures: list[int] = []  # next answers: an HTTP status, or a Graph error code (>= 1000)
        self.outage: int | None = None  # while set: every message call answers this HTTP status
        self.downloads = 0
        self._ids = itertools.count(1)
        self.server: TestServer | None = None

    @property
    def graph_url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(f"/{VERSION}/{{phone}}/messages", self.messages)
        app.router.add_get("/media-download/{media_id}", self.download)
        app.router.add_get(f"/{VERSION}/{{media_id}}", self.media_url)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()

    async def close(self) -> None:
        await self.server.close()

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    async def messages(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(190, "Invalid OAuth access token.", status=401)
        if self.outage is not None or self.failures:
            failure = self.outage if self.outage is not None else self.failures.pop(0)
            if failure < 1000:
                return web.Response(status=failure, text="Service unavailable", headers={"Retry-After": "0"})
            return _error(failure, "Rate limit hit" if failure == 130429 else "error")
        if request.match_info["phone"] != self.phone_number_id:
            return _error(100, "Unsupported post request.")
        body = await request.json()
        to, kind = str(body.get("to")), body.get("type")
        if body.get("messaging_product") != "whatsapp" or kind not in ("text", "template"):
            return _error(100, "Invalid parameter")
        if kind == "text" and to in self.window_closed:
            return _error(131047, "Re-engagement message")
        wamid = f"wamid.OUT{next(self._ids):06d}"
        self.sent.append({"to": to, "type": kind, "id": wamid,
                          "text": (body.get("text") or {}).get("body"), "template": body.get("template")})
        return web.json_response({"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
                                  "messages": [{"id": wamid}]})

    async def media_url(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(190, "Invalid OAuth access token.", status=401)
        media_id = request.match_info["media_id"]
        if media_id not in self.media:
            return _error(100, "Unsupported get request.")
        data, mime = self.media[media_id]
        return web.json_response({"messaging_product": "whatsapp", "url": f"{self.graph_url}/media-download/{media_id}",
                                  "mime_type": mime, "sha256": hashlib.sha256(data).hexdigest(),
                                  "file_size": len(data), "id": media_id})

    async def download(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.Response(status=401)
        self.downloads += 1
        data, mime = self.media[request.match_info["media_id"]]
        return web.Response(body=data, content_type=mime)

    def signed(self, payload: dict | bytes, secret: str | None = None) -> tuple[bytes, dict]:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        digest = hmac.new((secret or self.app_secret).encode(), body, hashlib.sha256).hexdigest()
        return body, {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}

    def _envelope(self, value: dict) -> dict:
        return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
            "value": {"messaging_product": "whatsapp", "metadata": {
                "display_phone_number": "74950000009", "phone_number_id": self.phone_number_id}, **value},
            "field": "messages"}]}]}

    def message(self, wa_id: str, wamid: str, text: str, *, name: str = "Анна Смирнова", timestamp: int,
                kind: str = "text", extra: dict | None = None) -> dict:
        message = {"from": wa_id, "id": wamid, "timestamp": str(timestamp), "type": kind}
        message.update({"text": {"body": text}} if kind == "text" else extra or {})
        return self._envelope({"contacts": [{"profile": {"name": name}, "wa_id": wa_id}], "messages": [message]})

    def status(self, wamid: str, status: str, wa_id: str, *, timestamp: int, errors: list | None = None) -> dict:
        row = {"id": wamid, "status": status, "timestamp": str(timestamp), "recipient_id": wa_id}
        if errors:
            row["errors"] = errors
        return self._envelope({"statuses": [row]})


def _error(code: int, text: str, status: int = 400) -> web.Response:
    return web.json_response({"error": {"message": text, "type": "OAuthException", "code": code,
                                        "fbtrace_id": "AbCdEf123"}}, status=status)
