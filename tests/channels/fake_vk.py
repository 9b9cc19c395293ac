"""A fake VK API and Callback API sender on loopback, built from VK's public documentation (dev.vk.com:
"Callback API" — confirmation, secret, event_id, message_new/reply/edit/allow/deny — and the methods
messages.send and users.get; API version 5.199, as read in December 2026).

Covers: form-encoded method calls with access_token and v; messages.send with peer_ids and random_id (a
random_id seen before for that peer is not sent again: VK answers with the first message, as documented),
the answer list with conversation_message_id; users.get names; VK errors in a 200 answer ({"error":
{"error_code", "error_msg"}}) such as 6 (too many requests), 10 (internal error), 901 (no permission);
HTTP outages (5xx, 429). The Callback side builds events with group_id, secret, event_id and v.
Not covered: long poll, keyboards, uploads, chats (peer_id ≥ 2e9), access-token scopes, captcha (14)."""

from __future__ import annotations

import itertools
import uuid

from aiohttp import web
from aiohttp.test_utils import TestServer

VERSION = "5.199"


class FakeVk:
    def __init__(self, token: str, group_id: int, secret: str) -> None:
        self.token, self.group_id, self.secret = token, group_id, secret
        self.sent: list[dict] = []
        self.calls: list[str] = []
        self.forbidden: set[int] = set()  # users who did not allow the community's messages (error 901)
        self.failures: list[int] = []  # next answers: an HTTP status (>= 400) or a VK error code (< 400)
        self.outage: int | None = None  # while set: every call answers this HTTP status
        self.names = {}
        self._by_random: dict[tuple[int, int], dict] = {}
        self._ids = itertools.count(1)
        self._cmids = itertools.count(500)
        self.server: TestServer | None = None

    @property
    def api_url(self) -> str:
        return str(self.server.make_url("/method"))

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/method/{method}", self.handle)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()

    async def close(self) -> None:
        await self.server.close()

    async def handle(self, request: web.Request) -> web.Response:
        form = await request.post()
        method = request.match_info["method"]
        self.calls.append(method)
        if self.outage is not None or self.failures:
            failure = self.outage if self.outage is not None else self.failures.pop(0)
            if failure >= 400:
                headers = {"Retry-After": "0"} if failure == 429 else {}
                return web.Response(status=failure, text="Service unavailable", headers=headers)
            return _error(failure, "Too many requests per second" if failure == 6 else "Internal server error")
        if form.get("access_token") != self.token:
            return _error(5, "User authorization failed: invalid access_token")
        if form.get("v") != VERSION:
            return _error(8, "Invalid request: versions below 5.0 are no longer supported")
        if method == "users.get":
            ids = [int(x) for x in str(form.get("user_ids", "")).split(",") if x]
            return web.json_response({"response": [
                {"id": i, "first_name": self.names.get(i, ("Иван", "Петров"))[0],
                 "last_name": self.names.get(i, ("Иван", "Петров"))[1]} for i in ids]})
        if method == "messages.send":
            return self._send(form)
        return _error(3, "Unknown method passed")

    def _send(self, form) -> web.Response:  # noqa: ANN001 - MultiDictProxy
        if "random_id" not in form:
            return _error(100, "One of the parameters specified was missing or invalid: random_id is required")
        peer, random_id = int(form.get("peer_ids") or form.get("peer_id")), int(form["random_id"])
        if peer in self.forbidden:
            return _error(901, "Can't send messages for users without permission")
        if len(str(form.get("message", ""))) > 4096:
            return _error(914, "Message is too long")
        row = self._by_random.get((peer, random_id))
        if row is None:
            row = {"peer_id": peer, "message_id": next(self._ids), "conversation_message_id": next(self._cmids)}
            self._by_random[(peer, random_id)] = row
            self.sent.append({"peer_id": peer, "message": str(form.get("message", "")), "random_id": random_id,
                              **row})
        if "peer_ids" in form:
            return web.json_response({"response": [row]})
        return web.json_response({"response": row["message_id"]})

    def event(self, kind: str, obj: dict, *, secret: str | None = None, event_id: str | None = None) -> dict:
        return {"group_id": self.group_id, "type": kind, "event_id": event_id or uuid.uuid4().hex, "v": VERSION,
                "object": obj, "secret": self.secret if secret is None else secret}

    def message_new(self, user_id: int, cmid: int, text: str, attachments: list | None = None, **kw) -> dict:  # noqa: ANN003
        message = {"date": 1_800_000_000, "from_id": user_id, "id": cmid + 1000, "out": 0, "version": 10000,
                   "attachments": attachments or [], "conversation_message_id": cmid, "fwd_messages": [],
                   "important": False, "is_hidden": False, "peer_id": user_id, "random_id": 0, "text": text}
        return self.event("message_new", {"message": message, "client_info": {
            "button_actions": ["text"], "keyboard": True, "inline_keyboard": True, "carousel": True,
            "lang_id": 0}}, **kw)


def _error(code: int, text: str) -> web.Response:
    return web.json_response({"error": {"error_code": code, "error_msg": text, "request_params": []}})
