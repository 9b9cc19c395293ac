import pytest

from connectors.asterisk.events import AmiEvent
from connectors.asterisk.protocol import AmiFrameSplitter, FrameTooLarge
from connectors.asterisk.traces import incoming_bytes, read_trace


def test_the_banner_is_read_and_the_first_frames_follow_without_a_blank_line():
    splitter = AmiFrameSplitter()
    frames = splitter.feed(b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nActionID: 1\r\n\r\n")
    assert splitter.banner == "Asterisk Call Manager/11.0.0"
    assert frames == [{"Response": "Success", "ActionID": "1"}]


def test_a_trace_replays_into_frames_exactly_as_asterisk_sent_them():
    entries = read_trace("answered.txt")
    sent = [frame for _, direction, frame in entries if direction == "<<<"]
    assert sent[0] == b"Asterisk Call Manager/11.0.0\r\n"
    assert all(frame.endswith(b"\r\n\r\n") for frame in sent[1:])
    actions = [frame for _, direction, frame in entries if direction == ">>>"]
    assert actions[0].startswith(b"Action: Login\r\n")
    frames = AmiFrameSplitter().feed(incoming_bytes("answered.txt"))
    assert len(frames) == len(sent) - 1


def test_cyrillic_names_survive_a_read_split_at_every_byte_position():
    sent = [frame for _, direction, frame in read_trace("answered.txt") if direction == "<<<"]
    # Every byte position of the stream lies inside one frame; splitting there cannot affect other frames,
    # so each frame is fed on its own (banner with the first), split in two at each of its positions.
    chunks = [sent[0] + sent[1], *sent[2:]]
    names = set()
    for chunk in chunks:
        reference = AmiFrameSplitter().feed(chunk)
        assert len(reference) == 1
        names.add(reference[0].get("CallerIDName"))
        for cut in range(len(chunk) + 1):
            splitter = AmiFrameSplitter()
            assert splitter.feed(chunk[:cut]) + splitter.feed(chunk[cut:]) == reference
            assert splitter.fallback_decoded == 0
    assert "Иван Петров" in names


def test_a_cp1251_caller_name_is_decoded_with_the_fallback_and_counted():
    splitter = AmiFrameSplitter()
    raw = "Event: Newchannel\r\nCallerIDName: ООО Ромашка\r\n\r\n".encode("cp1251")
    frames = splitter.feed(raw)
    assert frames == [{"Event": "Newchannel", "CallerIDName": "ООО Ромашка"}]
    assert splitter.fallback_decoded == 1


def test_garbage_lines_are_skipped_and_counted_and_frames_without_event_or_response_are_not_events():
    splitter = AmiFrameSplitter()
    frames = splitter.feed(b"Event: Hangup\r\nnonsense line\r\nChannel: X\r\n\r\njunk\r\n\r\nFoo: bar\r\n\r\n")
    assert frames[0] == {"Event": "Hangup", "Channel": "X"}
    assert splitter.garbage_lines == 2
    events = [AmiEvent.from_frame(f, 0.0) for f in frames]
    assert [e.name for e in events if e] == ["Hangup"]


def test_an_oversized_frame_or_buffer_raises_frame_too_large():
    with pytest.raises(FrameTooLarge):
        AmiFrameSplitter(max_frame=100).feed(b"Event: X\r\nData: " + b"a" * 200 + b"\r\n\r\n")
    splitter = AmiFrameSplitter(max_frame=100)
    with pytest.raises(FrameTooLarge):
        for _ in range(30):
            splitter.feed(b"Data: aaaaaaaa")
