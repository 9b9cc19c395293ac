"""FastAGI: the dialplan asks the hub a question (``AGI(agi://hub:4573/owner-first)``) and gets variables back.

Built on panoramisk's ``fast_agi.Request`` (AGI commands and their ``200 result=`` answers), with what its
``Application.handler`` lacks: the header block is read with a size cap and a timeout (its loop spins
forever on a peer that closes early), values that would break the AGI line are refused, and a question the
hub cannot answer in time gets no variables rather than holding the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping

from panoramisk.fast_agi import Request

log = logging.getLogger("hub.fastagi")

Route = Callable[[Mapping[str, str]], Awaitable[Mapping[str, str]]]
MAX_HEADERS = 16 * 1024


class FastAgiServer:
    def __init__(self, host: str, port: int, routes: Mapping[str, Route], *, answer_timeout_s: float = 2.0) -> None:
        self.host = host
        self.port = port
        self.routes = dict(routes)
        self.answer_timeout_s = answer_timeout_s
        self.state = "stopped"
        self.requests = 0
        self._server: asyncio.base_events.Server | None = None

    @property
    def bound_port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port, limit=MAX_HEADERS)
        self.state = "listening"
        log.info("FastAGI listening on %s:%s (%s)", self.host, self.bound_port, ", ".join(self.routes))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self.state = "stopped"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.requests += 1
        try:
            headers = await self._headers(reader)
            if headers is None:
                return
            script = headers.get("agi_network_script", "").split("?", 1)[0].strip("/")
            route = self.routes.get(script)
            if route is None:
                log.warning("FastAGI: no route %r (uniqueid=%s)", script, headers.get("agi_uniqueid"))
                return
            try:
                async with asyncio.timeout(self.answer_timeout_s):
                    variables = await route(headers)
            except TimeoutError:
                log.warning("FastAGI %s: no answer within %.1fs; the dialplan goes on without it (uniqueid=%s)",
                            script, self.answer_timeout_s, headers.get("agi_uniqueid"))
                return
            request = Request(app=None, headers=headers, reader=reader, writer=writer)
            for name, value in variables.items():
                if not _safe(name) or not _safe(value):
                    log.warning("FastAGI %s: refusing an unsafe value for %s", script, name)
                    continue
                await request.send_command(f'SET VARIABLE {name} "{value}"')
            log.info("FastAGI %s uniqueid=%s caller=%s -> %s", script, headers.get("agi_uniqueid"),
                     headers.get("agi_callerid"), dict(variables))
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as exc:
            log.warning("FastAGI request dropped: %s", type(exc).__name__)
        except Exception:  # noqa: BLE001 - one bad request must not stop the server
            log.exception("FastAGI request failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _headers(self, reader: asyncio.StreamReader) -> dict[str, str] | None:
        async with asyncio.timeout(self.answer_timeout_s):
            block = await reader.readuntil(b"\n\n")
        headers: dict[str, str] = {}
        for line in block.decode("utf-8", errors="replace").splitlines():
            key, sep, value = line.partition(": ")
            if sep:
                headers[key.strip()] = value.strip()
        return headers or None


def _safe(text: str) -> bool:
    return not any(c in text for c in '"\r\n\\')
