"""A fake Avito API on loopback, built from Avito's public API documentation (developers.avito.ru:
"Авторизация" — client_credentials at POST /token; "Мессенджер" — POST /messenger/v3/webhook,
GET /messenger/v2/accounts/{user_id}/chats/{chat_id}, GET /messenger/v3/accounts/{user_id}/chats/{chat_id}/messages/,
POST /messenger/v1/accounts/{user_id}/chats/{chat_id}/messages and .../read; webhook events of version
"v3.0.0"; as read in December 2026).

Covers: the token (form-encoded client_id/client_secret, a Bearer token with expires_in; ``expire()`` makes
every token given so far answer 401, so the hub must renew it), the webhook subscription, a chat's
description with its listing (context type "item") and users, the messages list (a bare JSON array, the
newest first), sending a text message (its id answered), read marks, outages (5xx, 429 with Retry-After).
The webhook side builds events as Avito posts them: {"id", "version", "timestamp", "payload": {"type":
"message", "value": {...}}}.
Not covered: authorization_code tokens and scopes, images upload, voice files, u2u chats' details,
blacklists, the "Авито Доставка" system messages, paging of the chats list, Avito's rate limits' exact figures.
"""

from __future__ import annotations

import itertools
import time
import uuid

from aiohttp import web
from aiohttp.test_utils import TestServer

VERSION = "v3.0.0"


class FakeAvito:
    def __init__(self, client_id: str, client_secret: str, user_id: int) -> None:
        self.client_id, self.client_secret, self.user_id = client_id, client_secret, user_id
        self.tokens: set[str] = set()
        self.token_calls = 0
        self.subscriptions: list[str] = []
        self.sent: list[dict] = []
        self.read: list[str] = []
        self.chats: dict[str, dict] = {}  # chat id → {"item": {...} | None, "client": (id, name), "messages": [...]}
        self.failures: list[int] = []  # next answers' HTTP statuses
        self.outage: int | None = None
        self._ids = itertools.count(1)
        self.server: TestServer | None = None

    @property
    def api_url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/token", self.token)
        app.router.add_route("*", "/messenger/{rest:.*}", self.messenger)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()

    async def close(self) -> None:
        await self.server.close()

    def expire(self) -> None:
        self.tokens.clear()

    def chat(self, chat_id: str, client: tuple[int, str], item: dict | None = None) -> None:
        self.chats[chat_id] = {"item": item, "client": client, "messages": []}

    def message(self, chat_id: str, author_id: int, text: str, *, created: int | None = None,
                message_id: str | None = None) -> dict:
        """A message as Avito keeps it (also in the chat's list) and the webhook event announcing it."""
        value = {"id": message_id or uuid.uuid4().hex, "chat_id": chat_id, "user_id": self.user_id,
                 "author_id": author_id, "created": created or int(time.time()), "type": "text",
                 "chat_type": "u2i", "content": {"text": text}}
        chat = self.chats.setdefault(chat_id, {"item": None, "client": (author_id, ""), "messages": []})
        chat["messages"].append(value)
        return self.event(value)

    def event(self, value: dict) -> dict:
        return {"id": str(uuid.uuid4()), "version": VERSION, "timestamp": int(time.time()),
                "payload": {"type": "message", "value": value}}

    def _failing(self) -> web.Response | None:
        if self.outage is None and not self.failures:
            return None
        status = self.outage if self.outage is not None else self.failures.pop(0)
        headers = {"Retry-After": "0"} if status == 429 else {}
        return web.json_response({"error": {"code": status, "message": "service unavailable"}}, status=status,
                                 headers=headers)

    async def token(self, request: web.Request) -> web.Response:
        self.token_calls += 1
        failing = self._failing()
        if failing is not None:
            return failing
        form = await request.post()
        if form.get("grant_type") != "client_credentials" or form.get("client_id") != self.client_id \
                or form.get("client_secret") != self.client_secret:
            return web.json_response({"error": "invalid_client"}, status=400)
        token = f"avito-{next(self._ids)}"
        self.tokens.add(token)
        return web.json_response({"access_token": token, "expires_in": 86400, "token_type": "Bearer"})

    async def messenger(self, request: web.Request) -> web.Response:
        failing = self._failing()
        if failing is not None:
            return failing
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.tokens:
            return web.json_response({"result": {"message": "Unauthorized", "status": False}}, status=401)
        parts = request.match_info["rest"].strip("/").split("/")
        if parts == ["v3", "webhook"] and request.method == "POST":
            self.subscriptions.append((await request.json())["url"])
            return web.json_response({"ok": True})
        if len(parts) < 5 or parts[1] != "accounts" or parts[2] != str(self.user_id) or parts[4] not in self.chats:
            return web.json_response({"error": {"code": 404, "message": "not found"}}, status=404)
        chat_id, chat = parts[4], self.chats[parts[4]]
        tail = (parts[0], request.method, *parts[5:])
        if tail == ("v2", "GET"):
            return web.json_response(self._describe(chat_id, chat))
        if tail == ("v3", "GET", "messages"):
            limit = int(request.query.get("limit", "100"))
            rows = [{**{k: v for k, v in m.items() if k not in ("chat_id", "user_id", "chat_type")},
                     "direction": "out" if m["author_id"] == self.user_id else "in", "is_read": True}
                    for m in reversed(chat["messages"])]
            return web.json_response(rows[:limit])
        if tail == ("v1", "POST", "messages"):
            body = await request.json()
            if body.get("type") != "text" or not isinstance(body.get("message", {}).get("text"), str):
                return web.json_response({"error": {"code": 400, "message": "bad request"}}, status=400)
            sent = {"id": uuid.uuid4().hex, "author_id": self.user_id, "created": int(time.time()), "type": "text",
                    "content": {"text": body["message"]["text"]}, "chat_id": chat_id}
            chat["messages"].append(sent)
            self.sent.append(sent)
            return web.json_response({**sent, "direction": "out"})
        if tail == ("v1", "POST", "read"):
            self.read.append(chat_id)
            return web.json_response({"ok": True})
        return web.json_response({"error": {"code": 404, "message": "not found"}}, status=404)

    def _describe(self, chat_id: str, chat: dict) -> dict:
        client_id, name = chat["client"]
        context = {"type": "item", "value": chat["item"]} if chat["item"] else {}
        return {"id": chat_id, "context": context, "created": 1_800_000_000, "updated": int(time.time()),
                "users": [{"id": self.user_id, "name": "Агентство"}, {"id": client_id, "name": name}]}
