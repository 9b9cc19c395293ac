"""One AMI session to one Asterisk, kept alive and safe.

Built on panoramisk's ``Action``/``Message`` (action ids, list responses collected until ``…Complete``),
with what its ``Manager`` and ``AMIProtocol`` lack for production:

- whole frames are decoded (UTF-8, a configured fallback charset), never one TCP read at a time;
- a frame and the read buffer are capped (``max_frame_bytes``): past it the link is rebuilt;
- reconnects back off exponentially with jitter (capped), a failed login included — never a tight loop;
- a Ping without answer within ``ping_timeout_s`` means a dead link (a half-open TCP connection is found);
- actions unanswered when the link drops fail back to their callers and are never sent again
  (panoramisk re-sends them: an Originate would dial twice);
- events reach the hub through one synchronous callback, so nothing waits on the database here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

from panoramisk.actions import Action
from panoramisk.message import Message

from connectors.asterisk.errors import (
    AmiActionRefused,
    AmiActionTimeout,
    AmiAuthFailed,
    AmiError,
    AmiLinkLost,
    AmiNotConnected,
    UnsafeHeaderValue,
)
from connectors.asterisk.events import AmiEvent
from connectors.asterisk.protocol import AmiFrameSplitter, FrameTooLarge
from connectors.asterisk.settings import AsteriskSettings

log = logging.getLogger("hub.ami")

STOPPED, CONNECTING, CONNECTED, AUTH_FAILED, RECONNECTING = (
    "stopped", "connecting", "connected", "auth_failed", "reconnecting",
)
ActionValue = str | Sequence[str]


def backoff_delay(attempt: int, initial_s: float, cap_s: float, rand: Callable[[], float] = random.random) -> float:
    """Exponential back-off with jitter: between half and all of ``initial·2^attempt``, never above the cap."""
    ceiling = min(cap_s, initial_s * (2 ** min(attempt, 30)))
    return ceiling * (0.5 + 0.5 * rand())


def build_action(fields: Mapping[str, ActionValue], *, as_list: bool | None = None) -> Action:
    """A panoramisk Action, refusing values that would smuggle in extra headers or a second action."""
    for key, value in fields.items():
        for item in [value] if isinstance(value, str) else value:
            if "\r" in key or "\n" in key or "\r" in str(item) or "\n" in str(item):
                raise UnsafeHeaderValue(key)
    return Action(dict(fields), as_list=as_list)


class _AmiProtocol(asyncio.Protocol):
    """One TCP connection: frames in, actions out, pending actions failed when it closes."""

    def __init__(self, client: AmiClient) -> None:
        self.client = client
        s = client.settings
        self.splitter = AmiFrameSplitter(s.max_frame_bytes, s.fallback_charset)
        self.pending: dict[str, Action] = {}
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.close_reason = "closed by the PBX"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.splitter.feed(data)
        except FrameTooLarge as exc:
            log.error("AMI %s; dropping the link to rebuild it", exc)
            self.abort(str(exc))
            return
        for frame in frames:
            self._on_frame(frame)

    def _on_frame(self, frame: dict[str, str]) -> None:
        action_id = frame.get("ActionID")
        if action_id is not None and (action := self.pending.get(action_id)) is not None:
            if action.add_message(Message(frame)):
                self.pending.pop(action_id, None)
            if "Event" not in frame:
                return
        if "Event" in frame:
            self.client._dispatch(frame)
        elif "Response" not in frame:
            self.client.skipped_frames += 1
            log.warning("AMI frame with neither Event nor Response skipped (headers: %s)", ", ".join(frame)[:200])

    def send(self, action: Action) -> asyncio.Future:
        if self.transport is None or self.transport.is_closing():
            raise AmiLinkLost(action["Action"])
        self.pending[action.id] = action
        self.transport.write(str(action).encode("utf-8"))
        return action.future

    def forget(self, action: Action) -> None:
        self.pending.pop(action.id, None)

    def abort(self, reason: str) -> None:
        self.close_reason = reason
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        for action in self.pending.values():
            if not action.future.done():
                action.future.set_exception(AmiLinkLost(action["Action"]))
                action.future.exception()  # retrieved here: a caller that gave up must not warn at exit
        self.pending.clear()
        if not self.closed.done():
            self.closed.set_result(f"{self.close_reason}: {exc}" if exc else self.close_reason)


class AmiClient:
    """Keeps one logged-in AMI session; ``on_event`` gets every event, ``on_up`` runs after each login."""

    def __init__(
        self,
        settings: AsteriskSettings,
        on_event: Callable[[AmiEvent], None],
        on_up: Callable[[], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.on_event = on_event
        self.on_up = on_up
        self.clock = clock
        self.state = STOPPED
        self.last_error: str | None = None
        self.connects = 0
        self.events = 0
        self.skipped_frames = 0
        self.fallback_decoded = 0
        self.up = asyncio.Event()
        self._protocol: _AmiProtocol | None = None
        self._runner: asyncio.Task[None] | None = None
        self._attempt = 0

    # --- the hub's side -------------------------------------------------------------------------
    async def start(self) -> None:
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name="ami-session")

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if self._protocol is not None and self.state == CONNECTED:
            with contextlib.suppress(AmiError, TimeoutError):
                await self.send({"Action": "Logoff"}, timeout=1.0)
        if runner is not None:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        self._set_state(STOPPED)

    async def send(
        self, fields: Mapping[str, ActionValue], *, timeout: float | None = None, as_list: bool | None = None,  # noqa: ASYNC109
    ) -> Message | list[Message]:
        """Send one action and wait for its answer; raise if the PBX refuses it or the link drops.

        A ``Response: Error`` raises AmiActionRefused; a dropped link AmiLinkLost (never re-sent).
        """
        protocol = self._protocol
        if protocol is None or self.state != CONNECTED and fields.get("Action") not in ("Login", "Logoff"):
            raise AmiNotConnected(self.state)
        action = build_action(fields, as_list=as_list)
        name = str(fields.get("Action", "?"))
        future = protocol.send(action)
        try:
            async with asyncio.timeout(timeout or self.settings.action_timeout_s):
                answer = await asyncio.shield(future)
        except TimeoutError:
            protocol.forget(action)
            raise AmiActionTimeout(name, timeout or self.settings.action_timeout_s) from None
        first = answer[0] if isinstance(answer, list) else answer
        if first.get("Response") == "Error":
            raise AmiActionRefused(name, first.get("Message", ""))
        return answer

    # --- the session ----------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            try:
                reason = await self._session()
                log.warning("AMI link to %s:%s lost: %s", self.settings.host, self.settings.port, reason)
                self.last_error = reason
                self._set_state(RECONNECTING)
            except AmiAuthFailed as exc:
                if self.state != AUTH_FAILED:
                    log.error("AMI %s (user %r); retrying with back-off", exc, self.settings.username)
                self.last_error = str(exc)
                self._set_state(AUTH_FAILED)
            except (OSError, TimeoutError, AmiError) as exc:
                reason = str(exc) or type(exc).__name__
                if self.state != RECONNECTING or self.last_error != reason:
                    log.warning("AMI connect to %s:%s failed: %s", self.settings.host, self.settings.port, reason)
                self.last_error = reason
                if self.state != AUTH_FAILED:
                    self._set_state(RECONNECTING)
            delay = backoff_delay(self._attempt, self.settings.backoff_initial_s, self.settings.backoff_max_s)
            self._attempt += 1
            await asyncio.sleep(delay)

    async def _session(self) -> str:
        loop = asyncio.get_running_loop()
        if self.state in (STOPPED,):
            self._set_state(CONNECTING)
        async with asyncio.timeout(self.settings.connect_timeout_s):
            transport, protocol = await loop.create_connection(
                lambda: _AmiProtocol(self), self.settings.host, self.settings.port,
            )
        self._protocol = protocol
        pinger: asyncio.Task[None] | None = None
        try:
            await self._login()
            self._attempt = 0
            self.connects += 1
            self.last_error = None
            self._set_state(CONNECTED)
            log.info("AMI logged in to %s:%s as %r (%s)", self.settings.host, self.settings.port,
                     self.settings.username, protocol.splitter.banner or "no banner")
            pinger = asyncio.create_task(self._keep_pinging(protocol), name="ami-ping")
            if self.on_up is not None:
                await self._run_on_up()
            return await protocol.closed
        finally:
            self.up.clear()
            if pinger is not None:
                pinger.cancel()
            transport.abort()
            self.fallback_decoded += protocol.splitter.fallback_decoded
            self._protocol = None

    async def _login(self) -> None:
        secret = self.settings.secret.get_secret_value() if self.settings.secret else ""
        fields = {"Action": "Login", "Username": self.settings.username, "Secret": secret, "Events": "on"}
        try:
            await self.send(fields, timeout=self.settings.connect_timeout_s)
        except AmiActionRefused as exc:
            raise AmiAuthFailed(exc.message or "refused") from None
        except AmiLinkLost:
            raise AmiError("the PBX closed the link during login") from None

    async def _run_on_up(self) -> None:
        try:
            await self.on_up()  # type: ignore[misc]
        except AmiError as exc:
            log.warning("AMI state rebuild after login failed: %s", exc)
        except Exception:  # noqa: BLE001 - a bug in the rebuild must not take the link down
            log.exception("AMI state rebuild after login failed")
        self.up.set()

    async def _keep_pinging(self, protocol: _AmiProtocol) -> None:
        """A Ping every ``ping_interval_s``; no Pong within ``ping_timeout_s`` means a half-open link."""
        s = self.settings
        while True:
            await asyncio.sleep(s.ping_interval_s)
            try:
                await self.send({"Action": "Ping"}, timeout=s.ping_timeout_s)
            except AmiActionTimeout:
                log.warning("AMI Ping unanswered for %.0f s: the link is dead, rebuilding it", s.ping_timeout_s)
                protocol.abort(f"no answer to Ping in {s.ping_timeout_s:g} s")
                return
            except AmiError:
                return

    def _dispatch(self, frame: dict[str, str]) -> None:
        event = AmiEvent.from_frame(frame, self.clock())
        if event is None:
            return
        self.events += 1
        try:
            self.on_event(event)
        except Exception:  # noqa: BLE001 - one bad event must not drop the link
            log.exception("AMI event %s uniqueid=%s failed in the hub", event.name, event.get("Uniqueid"))

    def _set_state(self, state: str) -> None:
        if state != self.state:
            log.debug("AMI state %s -> %s", self.state, state)
            self.state = state
