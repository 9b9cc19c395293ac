"""The browser's live channel: pop-ups and live state arrive here."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from web.guard import allow
from web.keys import HUB, SOCKETS, USER

log = logging.getLogger("hub.ws")


def origin_allowed(request: web.Request) -> bool:
    """Only pages of this hub may open the socket (blocks cross-site WebSocket hijacking)."""
    origin = request.headers.get("Origin")
    if not origin:
        return False
    allowed = {f"{request.scheme}://{request.host}"}
    public_url = request.app[HUB].settings.web.public_url
    if public_url:
        parts = urlsplit(public_url)
        allowed.add(f"{parts.scheme}://{parts.netloc}")
    return origin in allowed


@allow()
async def websocket(request: web.Request) -> web.StreamResponse:
    if not origin_allowed(request):
        log.warning("ws refused: origin %r user=%s", request.headers.get("Origin"), request[USER].id)
        raise web.HTTPForbidden(text="origin not allowed")
    settings = request.app[HUB].settings.web
    # no per-message deflate: frames are small, and compressing each one again for every socket (a browser
    # asks for it) cost more CPU than the whole wallboard
    ws = web.WebSocketResponse(heartbeat=settings.ws_heartbeat_s, max_msg_size=64 * 1024, compress=False)
    await ws.prepare(request)
    hub = request.app[SOCKETS]
    sock = hub.add(request[USER].id, ws)
    log.info("ws open user=%s sockets=%d", sock.user_id, hub.connections)
    writer = asyncio.create_task(hub.writer(sock), name=f"ws-writer-{sock.user_id}")
    try:
        await ws.send_json({"type": "hello", "user_id": sock.user_id})
        async for msg in ws:
            if msg.type == WSMsgType.TEXT and msg.data == "ping":
                await ws.send_str('{"type":"pong"}')
            elif msg.type == WSMsgType.ERROR:
                break
    finally:
        hub.remove(sock)
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        log.info("ws closed user=%s", sock.user_id)
    return ws
