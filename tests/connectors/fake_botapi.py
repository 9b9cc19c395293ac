"""A fake Telegram Bot API on loopback: the real JSON shapes, flood limits (429), blocked chats (403) and
texts over 4,096 characters (400)."""

from __future__ import annotations

import asyncio
import json
import time

from aiohttp import web
from aiohttp.test_utils import TestServer


class FakeBotApi:
    def __init__(self, token: str) -> None:
        self.token = token
        self.updates: list[dict] = []
        self.sent: list[dict] = []
        self.blocked: set[int] = set()
        self.flood_next = 0
        self.offsets: list[int] = []
        self.calls: list[str] = []
        self.files: dict[str, bytes] = {}  # file_id → content served by getFile and the file address
        self.file_limit = 20 * 1024 * 1024  # getFile refuses larger files, as the real Bot API does
        self._new = asyncio.Event()
        self.server: TestServer | None = None

    @property
    def base_url(self) -> str:
        return str(self.server.make_url("/bot"))

    @property
    def base_file_url(self) -> str:
        return str(self.server.make_url("/file/bot"))

    async def download(self, request: web.Request) -> web.Response:
        file_id = request.match_info["path"].rsplit("/", 1)[-1].split(".", 1)[0]
        if request.match_info["token"] != self.token or file_id not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[file_id], content_type="application/octet-stream")

    def push(self, update: dict) -> None:
        self.updates.append(update)
        self._new.set()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self.handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self.download)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()

    async def close(self) -> None:
        await self.server.close()

    async def handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        self.calls.append(method)
        params = await _params(request)
        if method == "getMe":
            return _ok({"id": 1, "is_bot": True, "first_name": "Агентство", "username": "agency_bot"})
        if method in ("deleteWebhook", "setWebhook"):
            if params.get("drop_pending_updates") in (True, "true", "True"):
                self.updates.clear()
            return _ok(True)
        if method == "getUpdates":
            return await self._get_updates(params)
        if method == "sendMessage":
            return self._send(params)
        if method == "getFile":
            return self._get_file(str(params.get("file_id")))
        return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)

    async def _get_updates(self, params: dict) -> web.Response:
        offset = int(params.get("offset") or 0)
        self.offsets.append(offset)
        self.updates = [u for u in self.updates if u["update_id"] >= offset]  # confirmed ones are forgotten
        if not self.updates:
            self._new.clear()
            try:
                async with asyncio.timeout(min(float(params.get("timeout") or 0), 0.5)):
                    await self._new.wait()
            except TimeoutError:
                pass
        return _ok([u for u in self.updates if u["update_id"] >= offset][:100])

    def _send(self, params: dict) -> web.Response:
        chat_id = int(params["chat_id"])
        if chat_id in self.blocked:
            return web.json_response({"ok": False, "error_code": 403,
                                      "description": "Forbidden: bot was blocked by the user"}, status=403)
        if len(str(params.get("text", ""))) > 4096:  # the real limit, counted after entities are parsed
            return web.json_response({"ok": False, "error_code": 400,
                                      "description": "Bad Request: message is too long"}, status=400)
        if self.flood_next > 0:
            self.flood_next -= 1
            return web.json_response({"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
                                      "parameters": {"retry_after": 1}}, status=429)
        self.sent.append(params)
        return _ok({"message_id": len(self.sent), "date": int(time.time()),
                    "chat": {"id": chat_id, "type": "private"}, "text": params.get("text", "")})


    def _get_file(self, file_id: str) -> web.Response:
        content = self.files.get(file_id)
        if content is None:
            return web.json_response({"ok": False, "error_code": 400, "description": "Bad Request: invalid file_id"},
                                     status=400)
        if len(content) > self.file_limit:
            return web.json_response({"ok": False, "error_code": 400, "description": "Bad Request: file is too big"},
                                     status=400)
        return _ok({"file_id": file_id, "file_unique_id": f"u-{file_id}", "file_size": len(content),
                    "file_path": f"documents/{file_id}.bin"})


def _ok(result: object) -> web.Response:
    return web.json_response({"ok": True, "result": result})


async def _params(request: web.Request) -> dict:
    if request.content_type == "application/json":
        return await request.json()
    form = await request.post()
    out: dict = {}
    for key, value in form.items():
        try:
            out[key] = json.loads(value)
        except (TypeError, ValueError):
            out[key] = value
    return out
