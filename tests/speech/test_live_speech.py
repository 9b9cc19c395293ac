"""Live speech end to end with the real Korean model: a recording streamed over AudioSocket as Asterisk sends
it, partial and final words with times for the right leg while the call goes on, a listed word flagged to a
supervisor's socket, and the leg's transcript (the model hears Korean words in Russian speech; «엔리케» is one
it hears, with full confidence, 3.8 s into this stream)."""

from __future__ import annotations

import asyncio

import pytest

from connectors.audiosocket import protocol as p
from connectors.audiosocket.fake_stream import stream_pcm
from speech.live import LiveSpeech
from speech.settings import PhraseLists
from tests.speech.test_live_protocol import CAPTURE
from tests.web.conftest import running  # noqa: F401 - the running hub fixture
from tests.web.test_workspace import ws_connect

PCM = b"".join(x.payload for x in p.Decoder().feed(CAPTURE) if x.kind == p.AUDIO)  # 9.1 s, as Asterisk sent
WORD = "엔리케"
LINKEDID = "1795390910.0"
HOLD_S = 7.0  # the word ends at 4.4 s; the model settles on a word about two seconds of audio later


async def test_a_streamed_leg_gives_partial_then_final_words_and_a_flag_while_the_call_goes_on(model_path):
    flags, seen = [], []
    live = LiveSpeech(model_path=str(model_path), workers=1, port=0, phrases=PhraseLists(competitors=[WORD]),
                      on_flag=lambda f: _append(flags, f))
    live.listeners.append(lambda leg, kind, words: seen.append((kind, leg.leg, words)))
    await live.start()
    try:
        client = p.leg_uuid(LINKEDID, "client")
        resume = asyncio.Event()
        # 7 s of the call at real time, then the line goes quiet with the call still on (two shared cores
        # decode at their own pace: the test waits for the words, not for a clock)
        streaming = asyncio.create_task(stream_pcm("127.0.0.1", live.server.port, client, PCM, speed=1.0,
                                                   hold_at_s=HOLD_S, resume=resume))
        await _until(lambda: flags, 90)
        heard_mid_call = [(kind, [w["word"] for w in words]) for kind, _, words in seen]
        assert not streaming.done() and not live.legs[client].done.is_set()
        resume.set()
        await streaming
        leg = live.legs[client]
        await asyncio.wait_for(leg.done.wait(), 90)
    finally:
        await live.stop()
    assert {name for _, name, _ in seen} == {"client"}
    assert any(kind == "partial" and WORD in words for kind, words in heard_mid_call), heard_mid_call
    transcript = live.call(LINKEDID)["client"]
    words = transcript["words"]
    assert transcript["final"] and transcript["dropped"] == [] and transcript["note"] is None
    assert len(words) >= 10 and all(w["speaker"] == "client" for w in words)
    starts = [w["start"] for w in words]
    assert starts == sorted(starts) and starts[0] >= 0 and words[-1]["end"] <= 9.2
    assert all(w["start"] < w["end"] and 0 <= w["conf"] <= 1 for w in words)
    hit = next(w for w in words if w["word"] == WORD)
    assert 3.5 < hit["start"] < 4.1
    assert len(flags) == 1  # the partial and the final hearing are one flag
    f = flags[0]
    assert (f.leg, f.linkedid, f.category, f.heard) == ("client", LINKEDID, "competitors", WORD)
    assert abs(f.at_s - hit["start"]) < 0.2 and f.delay_s >= 0
    assert live.stats()["lag_p95_s"] > 0


async def _until(done, timeout_s: float) -> None:  # noqa: ANN001
    async with asyncio.timeout(timeout_s):
        while not done():  # noqa: ASYNC110 - a list the service's callbacks fill
            await asyncio.sleep(0.05)


async def _append(items: list, item) -> None:  # noqa: ANN001
    items.append(item)


async def test_a_worker_that_cannot_keep_up_drops_audio_and_the_transcript_says_so(model_path):
    live = LiveSpeech(model_path=str(model_path), workers=1, port=0, buffer_s=1.0, chunk_s=0.2)
    await live.start()
    try:
        stream = p.leg_uuid(LINKEDID, "agent")
        await stream_pcm("127.0.0.1", live.server.port, stream, PCM, speed=0)  # 9.1 s at once: far too fast
        leg = live.legs[stream]
        await asyncio.wait_for(leg.done.wait(), 60)
    finally:
        await live.stop()
    t = live.call(LINKEDID)["agent"]
    assert t["audio_s"] == pytest.approx(9.11, abs=0.01) and t["dropped"] and t["final"]
    assert "post-call transcription covers them" in t["note"]
    for w in t["words"]:  # no word from audio the recognizer never got
        assert not any(s <= w["start"] < e for s, e in t["dropped"])


@pytest.fixture
def hub_sections(model_path) -> dict:  # noqa: ANN001
    return {"speech": {"model_path": str(model_path), "live_enabled": True, "live_port": 0, "live_workers": 1,
                       "phrases": {"forbidden": [WORD]}}}


async def test_a_listed_word_reaches_the_administrators_socket_within_seconds(running):  # noqa: F811
    live = running.hub.connectors["speech_live"]
    for _ in range(600):
        if live.state == "running":
            break
        await asyncio.sleep(0.1)
    assert live.state == "running"
    root, anna = await running.browser("root"), await running.browser("anna")
    ws_root, ws_anna = await ws_connect(running, root), await ws_connect(running, anna)
    assert (await ws_root.receive_json())["type"] == "hello"
    assert (await ws_anna.receive_json())["type"] == "hello"
    resume = asyncio.Event()
    streaming = asyncio.create_task(stream_pcm("127.0.0.1", live.server.port, p.leg_uuid(LINKEDID, "agent"),
                                               PCM, speed=1.0, hold_at_s=HOLD_S, resume=resume))
    got = await asyncio.wait_for(_next_of(ws_root, "speech_live_flag"), 90)  # the call is still on
    assert not streaming.done()
    resume.set()
    await streaming
    assert got["type"] == "speech_live_flag" and got["category"] == "forbidden" and got["heard"] == WORD
    assert got["leg"] == "agent" and got["linkedid"] == LINKEDID and 3.5 < got["at_s"] < 4.1
    assert got["delay_s"] >= 0
    _, page = await root.get("/wallboard")  # where the board shows such flags as they come
    assert "Услышано в идущих звонках" in page and 'id="wb-live-flags"' in page
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(_next_of(ws_anna, "speech_live_flag"), 0.3)  # an agent is not told
    await ws_root.close()
    await ws_anna.close()


async def _next_of(ws, kind: str) -> dict:  # noqa: ANN001
    """The next frame of this kind (wallboard frames and the like may come first)."""
    while True:
        frame = await ws.receive_json()
        if frame["type"] == kind:
            return frame
