"""Real Vosk with the real Korean model on the real recordings: structure, not words (Korean model, Russian speech)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import soxr

from speech.audio import AudioError, read_wav
from speech.recognizer import Recognizer
from tests.speech.conftest import ANSWERED, REAL_WAVS, RING, TRANSFER, duration, stereo_from, write_wav
from tests.speech.conftest import read_wav as raw_wav


@pytest.fixture(scope="module")
def recognizer(model_path) -> Recognizer:  # noqa: ANN001
    return Recognizer(model_path)


def assert_well_formed(words: list[dict], length_s: float) -> None:
    assert words, "the recording gave no words"
    for w in words:
        assert w["word"].strip()
        assert 0.0 <= w["start"] <= w["end"] <= length_s + 0.05
        assert 0.0 <= w["conf"] <= 1.0
    starts = [w["start"] for w in words]
    assert starts == sorted(starts)


@pytest.mark.parametrize("path", REAL_WAVS, ids=lambda p: p.name)
def test_each_real_recording_gives_words_in_order_inside_its_length(recognizer, path):
    result = recognizer.transcribe(path)
    assert result.channels == 1 and result.duration_s == pytest.approx(duration(path), abs=0.01)
    assert_well_formed(result.words, result.duration_s)
    assert {w["speaker"] for w in result.words} == {"speaker"}
    assert result.text == " ".join(w["word"] for w in result.words)


def test_stereo_recording_tells_agent_and_client_apart(recognizer, tmp_path):
    both = stereo_from(RING, TRANSFER, tmp_path / "both.wav")  # agent left: the long prompt; client right
    result = recognizer.transcribe(both, agent_channel=0)
    assert result.channels == 2
    agent = [w for w in result.words if w["speaker"] == "agent"]
    client = [w for w in result.words if w["speaker"] == "client"]
    assert agent and client
    assert all(w["end"] <= duration(TRANSFER) + 0.05 for w in client)  # the client's channel is the short one
    assert max(w["end"] for w in agent) > duration(TRANSFER)
    assert [w["start"] for w in result.words] == sorted(w["start"] for w in result.words)
    assert len(result.text.splitlines()) >= 2  # shown as turns
    swapped = recognizer.transcribe(both, agent_channel=1)
    swapped_agent = [w for w in swapped.words if w["speaker"] == "agent"]
    assert swapped_agent and all(w["end"] <= duration(TRANSFER) + 0.05 for w in swapped_agent)


@pytest.mark.parametrize("rate", [16000, 44100])
def test_wideband_input_is_resampled_and_decodes_with_the_same_timing(recognizer, tmp_path, rate):
    frames, src = raw_wav(RING)
    up = soxr.resample(frames[:, 0].astype(np.float32) / 32768, src, rate) * 32768
    path = write_wav(tmp_path / f"ring-{rate}.wav", np.clip(up, -32768, 32767).astype(np.int16), rate)
    assert read_wav(path).rate == rate
    result = recognizer.transcribe(path)
    assert result.duration_s == pytest.approx(duration(RING), abs=0.01)
    assert_well_formed(result.words, result.duration_s)
    base = recognizer.transcribe(RING)
    # the same speech at another rate is heard at the same moments (within a quarter second)
    assert abs(result.words[0]["start"] - base.words[0]["start"]) < 0.25
    assert abs(result.words[-1]["end"] - base.words[-1]["end"]) < 0.25


@pytest.mark.parametrize("width", [1, 4])
def test_8_and_32_bit_samples_are_read(recognizer, tmp_path, width):
    frames, rate = raw_wav(ANSWERED)
    path = write_wav(tmp_path / f"w{width}.wav", frames[:, 0], rate, width=width)
    assert_well_formed(recognizer.transcribe(path).words, duration(ANSWERED))


def test_truncated_recording_gives_the_readable_part_and_says_it_was_cut(recognizer, tmp_path):
    data = RING.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: len(data) // 2])
    result = recognizer.transcribe(cut)
    assert "truncated" in result.note and "5.54 s" in result.note
    assert result.duration_s == pytest.approx(duration(RING) / 2, abs=0.05)
    assert_well_formed(result.words, result.duration_s)


@pytest.mark.parametrize(("content", "reason"), [
    (b"", "empty recording file (0 bytes)"),
    ("Протокол звонка: клиент просил перезвонить\n".encode(), "not a WAV file"),
    (None, "corrupt WAV"),  # the header cut inside its format chunk
    (b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x06\x00\x01\x00\x40\x1f\x00\x00\x40\x1f\x00\x00\x01\x00\x08\x00"
     b"data\x00\x00\x00\x00", "unsupported WAV encoding: A-law"),
])
def test_bad_files_fail_with_a_reason_a_person_can_act_on(recognizer, tmp_path, content, reason):
    path = tmp_path / "call.wav"
    path.write_bytes(ANSWERED.read_bytes()[:30] if content is None else content)
    with pytest.raises(AudioError, match=re.escape(reason)):
        recognizer.transcribe(path)


def test_missing_file_and_missing_model_are_named(tmp_path):
    with pytest.raises(AudioError, match="not found"):
        read_wav(tmp_path / "nope.wav")
    with pytest.raises(FileNotFoundError, match="no Vosk model"):
        Recognizer(tmp_path)
