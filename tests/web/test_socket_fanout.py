"""A frame for many sockets is written a chunk per turn of the event loop, and every socket keeps its order."""

from __future__ import annotations

import asyncio
import json

from web.wshub import FANOUT_CHUNK, SocketHub


class FakeWs:
    """What SocketHub needs of an aiohttp WebSocketResponse: ``send_frame`` that completes at once."""

    def __init__(self) -> None:
        self.frames: list[dict] = []

    async def send_frame(self, frame: bytes, _kind: object) -> None:
        self.frames.append(json.loads(frame))


async def test_a_large_push_leaves_the_loop_free_between_chunks_and_a_popup_is_not_kept_waiting():
    hub = SocketHub(queue_size=16)
    agents = {uid: FakeWs() for uid in range(1, 1001)}
    for uid, ws in agents.items():
        hub.add(uid, ws)  # type: ignore[arg-type]
    assert hub.push(list(agents), "callfeed", {"n": 1}) == 1000
    written_at_once = sum(bool(ws.frames) for ws in agents.values())
    assert written_at_once == FANOUT_CHUNK  # the rest in later turns: the loop is free for a pop-up meanwhile
    last = agents[1000]
    hub.push([1000], "popup", {"call_id": "c1"})  # the pop-up goes now, after the feed frame the socket is owed
    assert [f["type"] for f in last.frames] == ["callfeed", "popup"]
    hub.push(list(agents), "callfeed", {"n": 2})
    for _ in range(40):
        await asyncio.sleep(0)
    assert all([f.get("n") for f in ws.frames if f["type"] == "callfeed"] == [1, 2] for ws in agents.values())
    assert [f["type"] for f in last.frames] == ["callfeed", "popup", "callfeed"]


async def test_a_socket_closed_while_owed_a_frame_is_skipped():
    hub = SocketHub(queue_size=16)
    socks = {uid: hub.add(uid, FakeWs()) for uid in range(1, 201)}  # type: ignore[arg-type]
    hub.push(list(socks), "wallboard", {"n": 1})
    hub.remove(socks[200])
    for _ in range(10):
        await asyncio.sleep(0)
    assert socks[200].ws.frames == []  # type: ignore[attr-defined]
    assert all(s.ws.frames for uid, s in socks.items() if uid != 200)  # type: ignore[attr-defined]
