"""SMS.ru's HTTP API (sms.ru/api: /sms/send with json=1, the delivery reports' callback): send a text, know
its id and cost, follow its delivery. Knows nothing of the database: ``on_report`` (the hub) stores reports.

A send answers per number: status_code 100 is accepted (with ``sms_id`` and ``cost``); the account's own
problems (no money 201, bad api_id 200, the limit of the day 203/220…) are permanent for this message, 5xx,
429 and SMS.ru's "service unavailable" (220) wait for the outbox's back-off. The callback posts ``data[]``
lines ``sms_status\\n<sms_id>\\n<code>\\n<unix time>`` and wants the text ``100`` back.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from connectors.email.errors import PermanentSendError
from connectors.messaging.http import ProviderBusy
from connectors.messaging.provider import ProviderConnector
from connectors.messaging.webhook import forbidden, same_secret
from connectors.sms.settings import SmsSettings

log = logging.getLogger("hub.sms")
OnReport = Callable[[str, str, str], Awaitable[None]]  # sms_id, delivered|read|failed|sent, note
BUSY = {220}  # the service is temporarily unavailable
AUTH = {200, 301, 302}
DELIVERED, READ = {103}, {110}
FAILED = {104: "истёк срок жизни / expired", 105: "удалено оператором / deleted by the operator",
          106: "сбой в телефоне / handset failure", 107: "неизвестная причина / unknown reason",
          108: "отклонено / rejected", 150: "нет маршрута / no route to the number"}


class SmsRuConnector(ProviderConnector):
    def __init__(self, settings: SmsSettings, on_report: OnReport) -> None:
        super().__init__("sms", settings)
        self._on_report = on_report

    def routes(self) -> list:
        return [("POST", self.settings.report_path + "/{secret}", self.reports)] if self.settings.enabled else []

    async def send(self, phone: str, text: str) -> tuple[str, float]:
        """(SMS.ru's id, the cost in roubles) of one SMS to ``phone`` (digits, 7XXXXXXXXXX)."""
        api_id = self.settings.api_id.get_secret_value() if self.settings.api_id else ""
        form = {"api_id": api_id, "to": phone, "msg": text, "json": "1"}
        if self.settings.sender:
            form["from"] = self.settings.sender
        answer = await self.http.call("POST", f"{self.settings.api_url}/sms/send", data=form)
        body = answer.json()
        if not isinstance(body, dict):
            raise ProviderBusy(f"sms: HTTP {answer.status}, not JSON")
        row = (body.get("sms") or {}).get(phone) if isinstance(body.get("sms"), dict) else None
        code = (row or body).get("status_code") if isinstance(row or body, dict) else None
        if body.get("status_code") in BUSY or code in BUSY:
            self.http.mark("degraded")
            raise ProviderBusy(f"SMS.ru занят (код {code}) / SMS.ru busy")
        if body.get("status_code") in AUTH:
            self.http.mark("auth_failed")
            raise PermanentSendError(f"SMS.ru отказал в доступе (код {body.get('status_code')}) / access refused")
        if not isinstance(row, dict) or code != 100 or not row.get("sms_id"):
            raise PermanentSendError(f"SMS.ru не принял SMS (код {code}) / SMS.ru refused the SMS")
        if self.http.link == "auth_failed":
            self.http.mark("running")
        try:
            cost = float(row.get("cost") or 0)
        except (TypeError, ValueError):
            cost = 0.0
        return str(row["sms_id"])[:100], cost

    async def reports(self, request: web.Request) -> web.StreamResponse:
        secret = self.settings.report_secret.get_secret_value() if self.settings.report_secret else ""
        if not same_secret(request.match_info.get("secret"), secret):
            log.warning("sms report refused (403) from %s", request.remote)
            return forbidden()
        if request.content_length is not None and request.content_length > self.settings.max_body_bytes:
            return web.Response(status=400, text="too large")
        try:
            form = await request.post()
        except ValueError:
            return web.Response(status=400, text="malformed")
        lines = [str(v) for v in form.getall("data[]", [])][:1000]
        if not lines:
            return web.Response(status=400, text="no data")
        try:
            for line in lines:
                parts = line.split("\n")
                if len(parts) >= 3 and parts[0] == "sms_status" and parts[2].isdigit():
                    status, note = _status(int(parts[2]))
                    await self._on_report(parts[1][:100], status, note)
        except Exception:  # the hub could not store it: SMS.ru posts it again
            log.exception("sms reports not stored; SMS.ru will post them again")
            return web.Response(status=503, text="retry")
        return web.Response(text="100")


class SmsChannel:
    """The outbox's sender for SMS: SMS.ru's id becomes the message's id; the cost goes to ``on_cost``."""

    def __init__(self, connector: SmsRuConnector, on_cost: Callable[[int, float], Awaitable[None]]) -> None:
        self._connector = connector
        self._on_cost = on_cost

    async def deliver(self, out) -> str:  # noqa: ANN001 - channels.outbox.Outgoing
        sms_id, cost = await self._connector.send(out.to, out.text)
        await self._on_cost(out.message_id, cost)
        return sms_id


def _status(code: int) -> tuple[str, str]:
    if code in DELIVERED:
        return "delivered", ""
    if code in READ:
        return "read", ""
    if code in FAILED:
        return "failed", f"SMS не доставлено: {FAILED[code]}"
    return "sent", ""
