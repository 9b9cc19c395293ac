"""The web-form connector: a public endpoint websites post to. It validates and hands the hub an event;
storing and routing are the hub's business (``on_form``)."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web
from pydantic import ValidationError

from connectors.webforms.errors import WebFormError
from connectors.webforms.events import FormOutcome, FormReceived
from connectors.webforms.parsing import parse_body
from connectors.webforms.schema import FormSubmission, field_errors
from connectors.webforms.settings import WebFormsSettings

log = logging.getLogger("hub.webforms")
REFUSAL_LOG_S = 1.0  # refusals (503, 429) are logged at most this often, with how many there were
OnForm = Callable[[FormReceived], Awaitable[FormOutcome]]


class WebFormsConnector:
    def __init__(self, settings: WebFormsSettings, on_form: OnForm, clock=time.monotonic) -> None:  # noqa: ANN001
        self.settings = settings
        self._on_form = on_form
        self._clock = clock
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._in_flight = 0
        self._running = False
        self.accepted = self.refused = self.shed = 0
        self._refusal_logged_at = float("-inf")
        self._refusals_unlogged = 0

    @property
    def state(self) -> str:
        if not self.settings.enabled:
            return "disabled"
        return "running" if self._running else "stopped"

    async def start(self) -> None:
        self._running = True

    async def stop(self) -> None:
        self._running = False

    def routes(self) -> list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]]:
        if not self.settings.enabled:
            return []
        return [("POST", self.settings.path, self.handle), ("OPTIONS", self.settings.path, self.preflight)]

    async def preflight(self, request: web.Request) -> web.StreamResponse:
        response = web.Response(status=204)
        if self._cors(request, response):
            response.headers["Access-Control-Allow-Methods"] = "POST"
            response.headers["Access-Control-Allow-Headers"] = "Content-Type, Idempotency-Key"
            response.headers["Access-Control-Max-Age"] = "600"
        return response

    async def handle(self, request: web.Request) -> web.StreamResponse:
        site = request.match_info.get("site", "site")[:100]
        try:
            if not self._running:
                raise WebFormError(503, "приём форм остановлен / intake is stopped", headers={"Retry-After": "5"})
            self._check_rate(request.remote or "?")
            if self._in_flight >= self.settings.max_in_flight:
                self.shed += 1
                raise WebFormError(503, "перегрузка, повторите / overloaded, retry", headers={"Retry-After": "2"})
            self._in_flight += 1
            try:
                status, body = await self._accept(request, site)
            finally:
                self._in_flight -= 1
        except WebFormError as err:
            self.refused += 1
            if err.status >= 500 or err.status == 429:
                self._log_refusal(site, request.remote, err)
            body = {"ok": False, "error": str(err), "fields": err.fields}
            response = web.json_response(body, status=err.status, headers=err.headers,
                                         dumps=lambda o: json.dumps(o, ensure_ascii=False))
            self._cors(request, response)
            return response
        response = web.json_response(body, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))
        self._cors(request, response)
        return response

    async def _accept(self, request: web.Request, site: str) -> tuple[int, dict]:
        body = await self._read_bounded(request)
        fields = parse_body(request.content_type, request.headers.get("Content-Type", ""), body,
                            self.settings.max_field_chars)
        if str(fields.get(self.settings.honeypot_field) or "").strip():
            # A bot filled the hidden field: thank it the same way, keep nothing.
            log.info("form site=%s ip=%s: spam trap filled, dropped", site, request.remote)
            return 200, {"ok": True}
        if "Idempotency-Key" in request.headers:
            fields["idempotency_key"] = request.headers["Idempotency-Key"]
        try:
            form = FormSubmission.model_validate(fields)
        except ValidationError as exc:
            raise WebFormError(422, "проверьте поля / check the fields", field_errors(exc)) from None
        event = FormReceived(
            external_id=f"{site}:{form.idempotency_key or _content_key(site, form)}", site=site, name=form.name,
            phone=form.phone, email=form.email, message=form.message, utm=form.utm(), page_url=form.page_url,
            referrer=form.referrer or request.headers.get("Referer"), client_ip=request.remote,
            consents=form.consents(), listing=form.listing(),
        )
        outcome = await self._on_form(event)
        self.accepted += 1
        log.info("form site=%s key=%s inquiry=%s duplicate=%s", site, event.external_id, outcome.inquiry_id,
                 outcome.duplicate)
        return (200 if outcome.duplicate else 201), {"ok": True, "inquiry_id": outcome.inquiry_id,
                                                     "duplicate": outcome.duplicate}

    async def _read_bounded(self, request: web.Request) -> bytes:
        limit = self.settings.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise WebFormError(413, f"слишком большая форма / form too large (max {limit} bytes)")
        body = await request.content.read(limit + 1)
        if len(body) > limit:
            raise WebFormError(413, f"слишком большая форма / form too large (max {limit} bytes)")
        return body

    def _log_refusal(self, site: str, ip: str | None, err: WebFormError) -> None:
        """At most one line a second: under overload every site posts again and again, and a line for each
        refusal (9,000 in a minute in bench.day) was work for the hub and a flood in the log."""
        self._refusals_unlogged += 1
        now = self._clock()
        if now - self._refusal_logged_at < REFUSAL_LOG_S:
            return
        log.warning("form site=%s ip=%s refused %s: %s (%d refused since the last such line, this one included)",
                    site, ip, err.status, err, self._refusals_unlogged)
        self._refusal_logged_at, self._refusals_unlogged = now, 0

    def _check_rate(self, ip: str) -> None:
        now = self._clock()
        hits = self._hits[ip]
        while hits and hits[0] < now - 60:
            hits.popleft()
        if len(hits) >= self.settings.per_ip_per_minute:
            wait = int(hits[0] + 60 - now) + 1
            raise WebFormError(429, "слишком много форм / too many forms", headers={"Retry-After": str(wait)})
        hits.append(now)
        if len(self._hits) > 100_000:  # bounded memory under a flood of addresses
            self._hits.clear()

    def _cors(self, request: web.Request, response: web.StreamResponse) -> bool:
        origin = request.headers.get("Origin")
        if origin and origin in self.settings.allowed_origins:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
            return True
        return False


def _content_key(site: str, form: FormSubmission) -> str:
    """Without a key, the same form content on the same day is the same submission (double clicks)."""
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    raw = "\x1f".join([site, day, form.name or "", form.phone or "", form.email or "", form.message,
                       form.page_url or ""])
    return "auto-" + hashlib.sha256(raw.encode()).hexdigest()[:32]
