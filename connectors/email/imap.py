"""IMAP intake: new mail in a mailbox is handed to the hub once, across restarts.

The last UID is remembered together with UIDVALIDITY (through ``checkpoint``), so a restart neither
skips nor repeats; a changed UIDVALIDITY means the server renumbered the mailbox, so it is scanned
again from the start and the hub's idempotency (Message-ID) drops what it already has. IDLE is
re-issued before the server's 29-minute limit; a server without IDLE is polled. A dead IDLE (BYE,
a silent socket, an IDLE never acknowledged, a dropped link) is found at once and the connection rebuilt
with capped back-off. Up to ``parallel`` messages are with the handler at once. The checkpoint moves past
a UID only once the handler took it and every UID before it; a handler failure is
reported by its type alone (its text may quote the message) and the UID is read again — the hub's handler
quarantines what it can never store, so one message cannot stop the mailbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import aioimaplib

from connectors.email.settings import EmailSettings

log = logging.getLogger("hub.email.imap")
UID_RE = re.compile(rb"UID (\d+)")
UIDVALIDITY_RE = re.compile(rb"UIDVALIDITY (\d+)")
HANDLER_GRACE_S = 5.0  # on the way out, how long messages already with the hub may take to be stored


@dataclass(frozen=True, slots=True)
class MailRef:
    mailbox: str
    uidvalidity: int
    uid: int


class Checkpoint(Protocol):
    async def load(self, key: str) -> dict | None: ...

    async def save(self, key: str, value: dict) -> None: ...


class ImapAuthError(Exception):
    pass


class HandlerFailed(Exception):
    """The hub's handler did not take a message: read it again after a reconnect. Its text is the error's
    type and the UID, never the error's own text (a database error quotes the message it failed on)."""


LINK_LOST = [b"hub: connection lost"]


class ImapConnector:
    def __init__(
        self, settings: EmailSettings, on_mail: Callable[[bytes, MailRef], Awaitable[None]], checkpoint: Checkpoint,
        *, mailbox: str = "INBOX", idle_s: float = 25 * 60, poll_s: float = 30.0, push_timeout_s: float = 60.0,
        backoff_cap_s: float = 30.0, command_timeout_s: float = 30.0, parallel: int = 16,
        on_connected: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.settings = settings
        self.mailbox = mailbox
        self._on_mail = on_mail
        self._checkpoint = checkpoint
        self.idle_s, self.poll_s = idle_s, poll_s
        self.push_timeout_s, self.backoff_cap_s = push_timeout_s, backoff_cap_s
        self.command_timeout_s = command_timeout_s  # servers delay a failed login on purpose (Dovecot: 2 s+)
        self.parallel = parallel  # messages handed to the hub at once
        self._state = "stopped"
        self._task: asyncio.Task[None] | None = None
        self._on_connected = on_connected
        self.connects = 0
        self.delivered = 0
        self._lost = asyncio.Event()

    @property
    def state(self) -> str:
        return self._state if self.settings.enabled else "disabled"

    @property
    def key(self) -> str:
        return f"imap:{self.settings.imap_user}@{self.settings.imap_host}:{self.mailbox}"

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"imap-{self.mailbox}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._state = "stopped"

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                await self._session()
                failures = 0
            except asyncio.CancelledError:
                raise
            except ImapAuthError as exc:
                self._state = "auth_failed"
                log.error("imap %s: login refused (%s); retrying with back-off", self.mailbox, exc)
                failures += 1
            except Exception as exc:  # noqa: BLE001 - any fault of the link: rebuild it
                self._state = "disconnected"
                log.warning("imap %s: connection lost (%s: %s); reconnecting", self.mailbox, type(exc).__name__, exc)
                failures += 1
            delay = min(self.backoff_cap_s, 0.5 * 2 ** min(failures, 10)) * random.uniform(0.7, 1.0)  # noqa: S311
            await asyncio.sleep(delay)

    async def _session(self) -> None:
        s = self.settings
        self._state = "connecting"
        client = aioimaplib.IMAP4_SSL if s.imap_port == 993 else aioimaplib.IMAP4
        lost = asyncio.Event()

        def on_lost(_exc: Exception | None) -> None:  # wake whatever waits for the server: it is gone
            lost.set()
            imap.protocol.idle_queue.put_nowait(LINK_LOST)

        imap = client(host=s.imap_host, port=s.imap_port, timeout=self.command_timeout_s, conn_lost_cb=on_lost)
        self._lost = lost
        try:
            await imap.wait_hello_from_server()
            password = s.imap_password.get_secret_value() if s.imap_password else ""
            response = await imap.login(s.imap_user or "", password)
            if response.result != "OK":
                raise ImapAuthError(_text(response.lines[-1:]))
            selected = await imap.select(self.mailbox)
            if selected.result != "OK":
                raise ConnectionError(f"cannot select {self.mailbox}: {_text(selected.lines[-1:])}")
            uidvalidity = _uidvalidity(selected.lines)
            self._state = "connected"
            self.connects += 1
            log.info("imap %s connected (uidvalidity %s)", self.mailbox, uidvalidity)
            if self._on_connected is not None:
                try:
                    await self._on_connected()
                except Exception as exc:  # noqa: BLE001 - the hub's bookkeeping must not cost the mailbox its link
                    log.warning("imap %s: on-connect hook failed (%s)", self.mailbox, type(exc).__name__)
            await self._fetch_new(imap, uidvalidity)
            if imap.has_capability("IDLE"):
                await self._idle_loop(imap, uidvalidity)
            else:
                await self._poll_loop(imap, uidvalidity)
        finally:
            await _close(imap)

    async def _fetch_new(self, imap: aioimaplib.IMAP4, uidvalidity: int) -> None:
        saved = await self._checkpoint.load(self.key) or {}
        last = int(saved.get("last_uid", 0))
        if saved and saved.get("uidvalidity") != uidvalidity:
            log.warning("imap %s: UIDVALIDITY changed %s -> %s, rescanning (duplicates are dropped by Message-ID)",
                        self.mailbox, saved.get("uidvalidity"), uidvalidity)
            last = 0
        found = await imap.uid_search(f"UID {last + 1}:*")
        if found.result != "OK":
            raise ConnectionError(f"search failed: {_text(found.lines[-1:])}")
        uids = sorted(int(u) for line in found.lines[:-1] for u in line.split() if u.isdigit() and int(u) > last)
        taken = await self._hand_over(imap, uidvalidity, uids, last)
        if taken == last and (not saved or saved.get("uidvalidity") != uidvalidity):
            await self._checkpoint.save(self.key, {"uidvalidity": uidvalidity, "last_uid": taken})

    async def _hand_over(self, imap: aioimaplib.IMAP4, uidvalidity: int, uids: list[int], last: int) -> int:
        """Fetch ``uids`` in order and hand them to the hub up to ``parallel`` at a time (storing one waits for
        a database commit; one by one, a busy hub took mail in at a message per commit). The checkpoint
        follows the highest UID up to which every message was taken — saved as that point moves, and on the
        way out (a stop, a lost link) — so it never passes one that was not taken and a restart reads again
        only what was still on its way. A failure lets the others finish, then raises ``HandlerFailed``.
        Answers that point."""
        done: set[int] = set()
        failed: dict[int, str] = {}
        running: set[asyncio.Task[None]] = set()
        saved = last

        async def take(raw: bytes, uid: int) -> None:
            try:
                await self._on_mail(raw, MailRef(self.mailbox, uidvalidity, uid))
            except Exception as exc:  # noqa: BLE001 - reported by type only, then read again
                failed[uid] = type(exc).__name__
                return
            self.delivered += 1
            done.add(uid)

        async def checkpoint() -> None:
            nonlocal saved
            taken = _all_taken_to(uids, done, saved)
            if taken != saved:
                await self._checkpoint.save(self.key, {"uidvalidity": uidvalidity, "last_uid": taken})
                saved = taken

        try:
            for uid in uids:
                if failed:
                    break
                raw = await self._fetch_one(imap, uid)
                if raw is None:
                    done.add(uid)
                    continue
                while len(running) >= self.parallel:
                    _, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                running.add(asyncio.create_task(take(raw, uid), name=f"imap-uid-{uid}"))
                await checkpoint()
            while running:
                _, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                await checkpoint()
        finally:
            if running:  # leaving (a stop, a lost link): the messages being stored may finish, briefly
                with contextlib.suppress(Exception):
                    await asyncio.wait(running, timeout=HANDLER_GRACE_S)
            for task in running:
                task.cancel()
            with contextlib.suppress(Exception):  # and the checkpoint keeps what was taken
                await checkpoint()
        if failed:
            uid = min(failed)
            raise HandlerFailed(f"uid {uid} not taken in: {failed[uid]}")
        return saved

    async def _fetch_one(self, imap: aioimaplib.IMAP4, uid: int) -> bytes | None:
        response = await imap.uid("fetch", str(uid), "(BODY.PEEK[])")
        if response.result != "OK":
            raise ConnectionError(f"fetch {uid} failed: {_text(response.lines[-1:])}")
        for line in response.lines:
            if isinstance(line, bytearray):
                return bytes(line)
        log.warning("imap %s: message uid %s vanished before it was read", self.mailbox, uid)
        return None

    async def _idle_loop(self, imap: aioimaplib.IMAP4, uidvalidity: int) -> None:
        while True:
            if self._lost.is_set():
                raise ConnectionError("connection lost")
            try:  # a link that dies as IDLE is sent never answers it: aioimaplib would wait for ever
                async with asyncio.timeout(min(self.command_timeout_s, 10.0)):
                    idle = await imap.idle_start(timeout=self.idle_s)
            except TimeoutError:
                raise ConnectionError("IDLE was not acknowledged: the link is dead") from None
            try:
                while not idle.done():
                    pushed = await imap.wait_server_push(timeout=self.push_timeout_s)
                    if pushed == aioimaplib.STOP_WAIT_SERVER_PUSH:
                        break
                    if pushed is LINK_LOST or self._lost.is_set():
                        raise ConnectionError("connection lost during IDLE")
                    text = _text(pushed if isinstance(pushed, list) else [pushed])
                    if "BYE" in text:
                        raise ConnectionError(f"server said BYE: {text[:200]}")
                    if "EXISTS" in text:
                        break
            except TimeoutError:
                pass  # no push within push_timeout_s: end IDLE and make sure the link still answers
            imap.idle_done()
            try:
                async with asyncio.timeout(min(10.0, self.push_timeout_s)):
                    await idle
                    noop = await imap.noop()
            except TimeoutError:
                raise ConnectionError("IDLE did not end: the link is dead") from None
            if noop.result != "OK":
                raise ConnectionError("NOOP refused")
            # Fetch after every IDLE round, not only on EXISTS: a push can be missed, a search is cheap.
            await self._fetch_new(imap, uidvalidity)

    async def _poll_loop(self, imap: aioimaplib.IMAP4, uidvalidity: int) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            noop = await imap.noop()
            if noop.result != "OK":
                raise ConnectionError("NOOP refused")
            await self._fetch_new(imap, uidvalidity)


def _all_taken_to(uids: list[int], done: set[int], last: int) -> int:
    """The highest UID of ``uids`` (ascending) up to which every one is in ``done``; ``last`` if not the first."""
    for uid in uids:
        if uid not in done:
            break
        last = uid
    return last


def _uidvalidity(lines: list) -> int:
    for line in lines:
        m = UIDVALIDITY_RE.search(bytes(line))
        if m:
            return int(m.group(1))
    raise ConnectionError("server gave no UIDVALIDITY")


def _text(lines: list) -> str:
    return " ".join(bytes(x).decode("utf-8", "replace") if isinstance(x, bytes | bytearray) else str(x)
                    for x in lines)


async def _close(imap: aioimaplib.IMAP4) -> None:
    try:
        if imap.has_pending_idle():
            imap.idle_done()
        async with asyncio.timeout(1):
            await imap.logout()
    except Exception:  # noqa: BLE001, S110 - closing a link that may already be gone
        pass
