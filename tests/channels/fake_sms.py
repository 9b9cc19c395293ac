"""A fake SMS.ru on loopback, built from SMS.ru's public API documentation (sms.ru/api: "sms/send" with json=1,
and the delivery reports' callback, "data[]" lines sms_status/<sms_id>/<code>/<time>, answered "100"; as read
in December 2026).

Covers: /sms/send form-encoded with api_id, to, msg, from, json=1; the answer per number with status_code 100,
sms_id and cost; a wrong api_id (200), no money (201), the service unavailable (220); HTTP outages (5xx, 429);
``report()`` builds the callback's form as SMS.ru posts it.
Not covered: several numbers in one call (to=a,b), multi (to[phone]=text), /sms/cost, /sms/status polling,
time-delayed sends, test=1 mode, IP allow-lists, the sender names' approval.
"""

from __future__ import annotations

import itertools
import time

from aiohttp import web
from aiohttp.test_utils import TestServer

COST_PER_PART = 1.85


class FakeSmsRu:
    def __init__(self, api_id: str) -> None:
        self.api_id = api_id
        self.sent: list[dict] = []
        self.failures: list[int] = []  # next answers: HTTP status (>= 400) or SMS.ru's status_code (< 400)
        self.outage: int | None = None
        self._ids = itertools.count(1)
        self.server: TestServer | None = None

    @property
    def api_url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/sms/send", self.send)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()

    async def close(self) -> None:
        await self.server.close()

    async def send(self, request: web.Request) -> web.Response:
        form = await request.post()
        if self.outage is not None or self.failures:
            failure = self.outage if self.outage is not None else self.failures.pop(0)
            if failure >= 400:
                return web.Response(status=failure, text="Service unavailable")
            return web.json_response({"status": "ERROR", "status_code": failure, "status_text": "error"})
        if form.get("api_id") != self.api_id:
            return web.json_response({"status": "ERROR", "status_code": 200, "status_text": "Неправильный api_id"})
        to, text = str(form.get("to", "")), str(form.get("msg", ""))
        if not to.isdigit() or not text:
            return web.json_response({"status": "ERROR", "status_code": 202,
                                      "status_text": "Неправильно указан получатель"})
        sms_id = f"{int(time.time()) % 1_000_000:06d}-{next(self._ids):08d}"
        parts = max(1, -(-len(text) // 67)) if len(text) > 70 else 1
        self.sent.append({"to": to, "msg": text, "from": form.get("from"), "sms_id": sms_id})
        return web.json_response({"status": "OK", "status_code": 100, "balance": 4122.56, "sms": {
            to: {"status": "OK", "status_code": 100, "sms_id": sms_id, "cost": f"{COST_PER_PART * parts:.2f}",
                 "sms": parts}}})

    @staticmethod
    def report(sms_id: str, code: int) -> list[tuple[str, str]]:
        return [("data[]", f"sms_status\n{sms_id}\n{code}\n{int(time.time())}")]
