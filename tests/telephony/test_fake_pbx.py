import asyncio

from connectors.asterisk.events import AmiEvent
from connectors.asterisk.fake_pbx import FakePbx
from connectors.asterisk.protocol import AmiFrameSplitter
from telephony.calls import CallState, transition
from telephony.model import CallEnded


async def _frames_until(reader: asyncio.StreamReader, splitter: AmiFrameSplitter, stop) -> list[dict[str, str]]:
    frames: list[dict[str, str]] = []
    while not any(stop(f) for f in frames):
        data = await asyncio.wait_for(reader.read(65536), 5)
        if not data:
            break
        frames += splitter.feed(data)
    return frames


async def test_the_hub_logs_in_to_the_fake_pbx_and_sees_the_answered_call_replayed():
    async with FakePbx("answered.txt", secret="hubsecret", speed=50.0) as pbx:
        reader, writer = await asyncio.open_connection("127.0.0.1", pbx.port)
        splitter = AmiFrameSplitter()
        writer.write(b"Action: Login\r\nActionID: 1\r\nUsername: hub\r\nSecret: hubsecret\r\n\r\n")
        writer.write(b"Action: Ping\r\nActionID: 2\r\n\r\n")
        frames = await _frames_until(reader, splitter, lambda f: f.get("Event") == "Hangup" and "00;2" in f["Channel"])
        assert splitter.banner == "Asterisk Call Manager/11.0.0"
        assert frames[0] == {"Response": "Success", "ActionID": "1", "Message": "Authentication accepted"}
        assert any(f.get("Ping") == "Pong" and f.get("ActionID") == "2" for f in frames)
        state, effects = CallState(), []
        for frame in frames:
            if event := AmiEvent.from_frame(frame, 0.0):
                state, out = transition(state, event)
                effects += out
        [ended] = [e for e in effects if isinstance(e, CallEnded)]
        assert ended.record.answered_by == "101"
        assert pbx.actions == {"Login": 1, "Ping": 1}
        writer.close()
        await writer.wait_closed()


async def test_a_wrong_secret_is_refused_like_asterisk_and_the_connection_closed():
    async with FakePbx("answered.txt", secret="hubsecret", speed=50.0) as pbx:
        reader, writer = await asyncio.open_connection("127.0.0.1", pbx.port)
        splitter = AmiFrameSplitter()
        writer.write(b"Action: Login\r\nActionID: 1\r\nUsername: hub\r\nSecret: wrong\r\n\r\n")
        frames = await _frames_until(reader, splitter, lambda f: False)
        assert frames == [{"Response": "Error", "ActionID": "1", "Message": "Authentication failed"}]
        writer.close()
