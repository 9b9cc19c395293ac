"""The Telegram bot connector: updates in (polling or webhook), messages out. Knows nothing of the
database: ``on_event`` (the hub) decides what each update means and which answers to send.

Every update_id is handled once across restarts: the next offset is saved (``checkpoint``) after each
update, pending updates are never dropped at start, and the hub's intake is idempotent by message id
for the moment between handling and saving.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import random
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path, PurePosixPath

from aiohttp import web
from telegram import Bot, KeyboardButton, ReplyKeyboardMarkup
from telegram.error import Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.request import HTTPXRequest
from telegram.warnings import PTBUserWarning

from connectors.email.errors import PermanentSendError, TemporarySendError
from connectors.telegram.events import Reply, TelegramInbound
from connectors.telegram.settings import TelegramSettings
from connectors.telegram.translate import update_to_event

log = logging.getLogger("hub.telegram")
# getUpdates is read as raw JSON on purpose: typed Update objects would hide kinds this hub does not know.
warnings.filterwarnings("ignore", message=r"Please use 'Bot.getUpdates'", category=PTBUserWarning)
ALLOWED_UPDATES = ["message", "edited_message", "my_chat_member"]


OnEvent = Callable[[TelegramInbound], Awaitable[list[Reply]]]


class TelegramConnector:
    def __init__(self, settings: TelegramSettings, on_event: OnEvent, checkpoint, *,  # noqa: ANN001
                 backoff_cap_s: float = 30.0, files_dir: Path | None = None) -> None:
        self.settings = settings
        self.files_dir = files_dir
        self._on_event = on_event
        self._checkpoint = checkpoint
        self._backoff_cap_s = backoff_cap_s
        token = settings.token.get_secret_value() if settings.token else ""
        self.bot = Bot(token, base_url=settings.base_url, base_file_url=settings.base_file_url,
                       request=HTTPXRequest(read_timeout=settings.poll_timeout_s + 10, connect_timeout=10),
                       get_updates_request=HTTPXRequest(read_timeout=settings.poll_timeout_s + 10))
        self._state = "stopped"
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.handled = 0

    @property
    def state(self) -> str:
        return self._state if self.settings.enabled else "disabled"

    @property
    def key(self) -> str:
        return "telegram:offset"

    async def start(self) -> None:
        if self.settings.mode == "polling" and self._task is None:
            self._task = asyncio.create_task(self._poll(), name="telegram-poll")
        elif self.settings.mode == "webhook":
            self._state = "running"

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._state = "stopped"

    def routes(self) -> list:
        if self.settings.mode != "webhook":
            return []
        return [("POST", self.settings.webhook_path, self.webhook)]

    async def webhook(self, request: web.Request) -> web.StreamResponse:
        expected = self.settings.webhook_secret.get_secret_value() if self.settings.webhook_secret else ""
        sent = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not expected or not hmac.compare_digest(sent, expected):
            log.warning("telegram webhook refused: wrong secret token from %s", request.remote)
            return web.json_response({"ok": False}, status=403)
        try:
            update = await request.json()
        except ValueError:
            return web.json_response({"ok": False, "error": "not JSON"}, status=400)
        if not isinstance(update, dict):
            return web.json_response({"ok": False, "error": "not an update"}, status=400)
        await self._handle(update)
        return web.json_response({"ok": True})

    async def _poll(self) -> None:
        failures = 0
        while True:
            try:
                self._state = "connecting" if failures else self._state
                await self.bot.delete_webhook(drop_pending_updates=False)
                self._state = "connected"
                while True:
                    saved = await self._checkpoint.load(self.key) or {}
                    updates = await self.bot.do_api_request("getUpdates", api_kwargs={
                        "offset": saved.get("offset", 0), "timeout": self.settings.poll_timeout_s,
                        "allowed_updates": ALLOWED_UPDATES})
                    for update in updates or []:
                        await self._handle(update)
                    failures = 0
            except asyncio.CancelledError:
                raise
            except RetryAfter as exc:
                log.warning("telegram flood limit on getUpdates: waiting %ss", exc.retry_after)
                await asyncio.sleep(_seconds(exc.retry_after))
                continue
            except (InvalidToken, Forbidden) as exc:
                self._state = "auth_failed"
                log.error("telegram refused the bot token: %s", type(exc).__name__)
                failures += 1
            except (NetworkError, TimedOut, TelegramError) as exc:
                self._state = "disconnected"
                log.warning("telegram link trouble (%s: %s); retrying", type(exc).__name__, exc)
                failures += 1
            await asyncio.sleep(min(self._backoff_cap_s, 0.5 * 2 ** min(failures, 10)) * random.uniform(0.7, 1))  # noqa: S311

    async def _handle(self, update: dict) -> None:
        """Handle one update once: updates below the saved offset were handled before."""
        async with self._lock:
            update_id = update.get("update_id")
            saved = await self._checkpoint.load(self.key) or {}
            if isinstance(update_id, int) and update_id < saved.get("offset", 0):
                log.info("telegram update %s already handled", update_id)
                return
            event = update_to_event(update)
            if event is not None and event.files:
                event = await self._keep_files(event)
            if event is not None:
                for reply in await self._on_event(event):
                    try:
                        await self.send(reply)
                    except (PermanentSendError, TemporarySendError) as exc:
                        log.warning("telegram answer to chat %s not sent: %s", reply.chat_id, exc)
                self.handled += 1
            if isinstance(update_id, int):
                await self._checkpoint.save(self.key, {"offset": update_id + 1})

    async def _keep_files(self, event: TelegramInbound) -> TelegramInbound:
        """Download the message's photos, documents and voice notes to disk before the hub sees it; a file
        too large or a failed download becomes a note, and the message goes on without it."""
        if self.files_dir is None:
            return event
        saved: list[str] = []
        notes: list[str] = []
        for n, ref in enumerate(event.files):
            kind, _, file_id = ref.partition(":")
            try:
                file = await self.bot.get_file(file_id)
                if file.file_size and file.file_size > self.settings.max_file_bytes:
                    notes.append(f"{kind}: {file.file_size} bytes, over the {self.settings.max_file_bytes} limit; "
                                 "not downloaded")
                    continue
                name = _safe_name(PurePosixPath(file.file_path or kind).name) or kind
                path = self.files_dir / f"{event.chat_id}-{event.message_id}-{n}-{name}"
                path.parent.mkdir(parents=True, exist_ok=True)
                await file.download_to_drive(path)
                saved.append(str(path))
            except (TelegramError, OSError) as exc:
                log.warning("telegram update %s: %s not downloaded: %s", event.update_id, kind, exc)
                notes.append(f"{kind}: not downloaded ({type(exc).__name__}: {str(exc)[:200]})")
        log.info("telegram update %s: %d files kept, %d notes", event.update_id, len(saved), len(notes))
        return replace(event, saved=tuple(saved), notes=tuple(notes))

    async def send(self, reply: Reply) -> None:
        """Send, waiting out flood limits (RetryAfter); a client who blocked the bot is a permanent failure."""
        markup = None
        if reply.ask_contact:
            markup = ReplyKeyboardMarkup([[KeyboardButton("Поделиться номером телефона", request_contact=True)]],
                                         resize_keyboard=True, one_time_keyboard=True)
        waited = 0.0
        while True:
            try:
                await self.bot.send_message(reply.chat_id, reply.text, reply_markup=markup)
                return
            except RetryAfter as exc:
                wait = _seconds(exc.retry_after)
                if waited + wait > self.settings.max_retry_after_s:
                    raise TemporarySendError(f"flood limit: retry after {wait}s") from None
                log.info("telegram flood limit: waiting %.0fs before sending to chat %s", wait, reply.chat_id)
                await asyncio.sleep(wait)
                waited += wait
            except Forbidden:
                raise PermanentSendError("бот заблокирован клиентом / the client blocked the bot") from None
            except (NetworkError, TimedOut) as exc:
                raise TemporarySendError(f"{type(exc).__name__}: {exc}") from None


class TelegramChannel:
    """Agents' replies through the bot (the hub's outbox calls this)."""

    def __init__(self, connector: TelegramConnector) -> None:
        self._connector = connector

    async def deliver(self, out) -> None:  # noqa: ANN001 - channels.outbox.Outgoing
        await self._connector.send(Reply(int(out.to), out.text))


def _safe_name(name: str) -> str:
    """A file name Telegram gave, made harmless for the disk: no path parts, no odd characters, short."""
    kept = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name).lstrip(".")
    return kept[-100:]


def _seconds(value: object) -> float:
    """RetryAfter.retry_after: seconds today, a timedelta in a later python-telegram-bot."""
    return float(value.total_seconds()) if hasattr(value, "total_seconds") else float(value)
