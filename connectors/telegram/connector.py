"""The Telegram bot connector: updates in (polling or webhook), messages out. Knows nothing of the
database: ``on_event`` (the hub) decides what each update means and which answers to send.

Every update is handled once across restarts, whatever order it comes in: the ids handled are kept as a
bounded set (``handled.HandledUpdates``, the last few thousand) in the checkpoint after each update, never
as a high-water mark — Telegram posts webhook updates over several connections at once, so 10 may come
after 11, and it does not resend what got a 200. Polling also saves the next getUpdates offset. Pending
updates are never dropped at start, and the hub's intake is idempotent by message id (``(channel,
external_id)``) for an id the set forgot or the moment between handling and saving.
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
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.request import HTTPXRequest
from telegram.warnings import PTBUserWarning

from connectors.email.errors import PermanentSendError, TemporarySendError
from connectors.telegram.events import Reply, TelegramInbound
from connectors.telegram.handled import HandledUpdates
from connectors.telegram.settings import TelegramSettings
from connectors.telegram.translate import MAX_TEXT, update_to_event

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
        try:
            await self._handle(update)
        except Exception:  # the hub could not take it (database down…): not a 200, so Telegram sends it again
            log.exception("telegram update %s not handled; Telegram will resend it", update.get("update_id"))
            return web.json_response({"ok": False, "error": "not handled, retry"}, status=503,
                                     headers={"Retry-After": "5"})
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
                        await self._handle(update, polled=True)
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
            except Exception:  # the hub could not take an update: the offset stays, it comes again
                self._state = "degraded"
                log.exception("telegram update not handled; fetching it again")
                failures += 1
            await asyncio.sleep(min(self._backoff_cap_s, 0.5 * 2 ** min(failures, 10)) * random.uniform(0.7, 1))  # noqa: S311

    async def _handle(self, update: dict, *, polled: bool = False) -> None:
        """Handle one update once: an id in the saved set was handled before, any other id is handled (a lower
        one too). ``polled``: from getUpdates, whose next offset is saved with it."""
        async with self._lock:
            update_id = update.get("update_id")
            if not isinstance(update_id, int) or isinstance(update_id, bool):
                update_id = None
            saved = await self._checkpoint.load(self.key) or {}
            handled = HandledUpdates.from_json(saved.get("handled"))
            if update_id is not None and update_id in handled:
                log.info("telegram update %s already handled", update_id)
                if polled and update_id >= saved.get("offset", 0):
                    await self._checkpoint.save(self.key, {**saved, "offset": update_id + 1})
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
            if update_id is not None:
                handled.add(update_id)
                state = {**saved, "handled": handled.to_json()}
                if polled:
                    state["offset"] = max(int(saved.get("offset") or 0), update_id + 1)
                await self._checkpoint.save(self.key, state)

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
        return replace(event, saved=tuple(saved), notes=event.notes + tuple(notes))

    async def send(self, reply: Reply) -> None:
        """Send, waiting out flood limits (RetryAfter); a client who blocked the bot, or a chat Telegram refuses,
        is a permanent failure. A text over Telegram's 4,096 characters goes out as several messages."""
        markup = None
        if reply.ask_contact:
            markup = ReplyKeyboardMarkup([[KeyboardButton("Поделиться номером телефона", request_contact=True)]],
                                         resize_keyboard=True, one_time_keyboard=True)
        waited = 0.0
        parts = _parts(reply.text)
        while parts:
            try:
                await self.bot.send_message(reply.chat_id, parts[0], reply_markup=markup if len(parts) == 1 else None)
                parts.pop(0)
            except RetryAfter as exc:
                wait = _seconds(exc.retry_after)
                if waited + wait > self.settings.max_retry_after_s:
                    raise TemporarySendError(f"flood limit: retry after {wait}s") from None
                log.info("telegram flood limit: waiting %.0fs before sending to chat %s", wait, reply.chat_id)
                await asyncio.sleep(wait)
                waited += wait
            except Forbidden as exc:
                if "blocked" in exc.message.lower():
                    raise PermanentSendError("бот заблокирован клиентом / the client blocked the bot") from None
                raise PermanentSendError(f"Telegram не доставляет в чат / Telegram refused: {exc.message}") from None
            except BadRequest as exc:  # chat not found, bad text: sending it again changes nothing
                raise PermanentSendError(f"Telegram отклонил сообщение / Telegram refused: {exc.message}") from None
            except (NetworkError, TimedOut, TelegramError) as exc:
                raise TemporarySendError(f"{type(exc).__name__}: {exc}") from None


class TelegramChannel:
    """Agents' replies through the bot (the hub's outbox calls this)."""

    def __init__(self, connector: TelegramConnector) -> None:
        self._connector = connector

    async def deliver(self, out) -> None:  # noqa: ANN001 - channels.outbox.Outgoing
        await self._connector.send(Reply(int(out.to), out.text))


def _parts(text: str) -> list[str]:
    """``text`` in pieces of at most MAX_TEXT characters, cut at a line end where there is one."""
    parts = []
    while len(text) > MAX_TEXT:
        cut = text.rfind("\n", MAX_TEXT // 2, MAX_TEXT)
        cut = cut + 1 if cut > 0 else MAX_TEXT
        parts.append(text[:cut])
        text = text[cut:]
    return [*parts, text]


def _safe_name(name: str) -> str:
    """A file name Telegram gave, made harmless for the disk: no path parts, no odd characters, short."""
    kept = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name).lstrip(".")
    return kept[-100:]


def _seconds(value: object) -> float:
    """RetryAfter.retry_after: seconds today, a timedelta in a later python-telegram-bot."""
    return float(value.total_seconds()) if hasattr(value, "total_seconds") else float(value)
