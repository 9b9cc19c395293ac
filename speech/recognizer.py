"""Decoding one recording with a loaded Vosk model: words with times, confidence and speaker.

Runs inside a worker process (speech/worker.py); nothing here touches the database or the event loop.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

CHUNK_S = 0.5


def model_sample_rate(model_path: Path) -> int:
    """The rate the model was trained on (conf/mfcc.conf ``--sample-frequency``; Vosk models default to 16 kHz)."""
    conf = Path(model_path) / "conf" / "mfcc.conf"
    if conf.exists():
        m = re.search(r"--sample-frequency=(\d+)", conf.read_text(errors="replace"))
        if m:
            return int(m.group(1))
    return 16000


@dataclass
class Result:
    words: list[dict] = field(default_factory=list)  # {word, start, end, conf, speaker}, ordered by start
    duration_s: float = 0.0
    channels: int = 1
    note: str | None = None

    @property
    def text(self) -> str:
        return dialogue_text(self.words)


def dialogue_text(words: list[dict]) -> str:
    """The transcript as turns: consecutive words of one speaker on one line."""
    lines: list[str] = []
    speaker = None
    for w in words:
        if w["speaker"] != speaker:
            lines.append("")
            speaker = w["speaker"]
        lines[-1] = (lines[-1] + " " + w["word"]).strip()
    return "\n".join(lines)


class Recognizer:
    """The model, loaded once; ``transcribe`` may be called for many recordings."""

    def __init__(self, model_path: str | Path) -> None:
        import vosk

        vosk.SetLogLevel(-1)
        self.model_path = Path(model_path)
        if not (self.model_path / "am").is_dir() and not (self.model_path / "final.mdl").exists():
            raise FileNotFoundError(f"no Vosk model in {self.model_path} (no am/ folder)")
        self.model = vosk.Model(str(self.model_path))
        self.rate = model_sample_rate(self.model_path)

    def decode_pcm(self, pcm: bytes) -> list[dict]:
        import vosk

        rec = vosk.KaldiRecognizer(self.model, self.rate)
        rec.SetWords(True)
        words: list[dict] = []
        step = int(self.rate * CHUNK_S) * 2
        for i in range(0, len(pcm), step):
            if rec.AcceptWaveform(pcm[i:i + step]):
                words.extend(json.loads(rec.Result()).get("result", []))
        words.extend(json.loads(rec.FinalResult()).get("result", []))
        return words

    def _words(self, samples, rate: int, speaker: str) -> list[dict]:  # noqa: ANN001 - a numpy array
        return [{"word": w["word"], "start": round(float(w["start"]), 3), "end": round(float(w["end"]), 3),
                 "conf": min(1.0, max(0.0, float(w["conf"]))), "speaker": speaker}
                for w in self.decode_pcm(_audio().to_model_pcm(samples, rate, self.rate))]

    def transcribe(self, path: str | Path, agent_channel: int = 0) -> Result:
        """One file: stereo gives agent (``agent_channel``) and client, mono one speaker."""
        audio = _audio().read_wav(path)
        stereo = len(audio.channels) == 2
        words: list[dict] = []
        for c, samples in enumerate(audio.channels):
            speaker = ("agent" if c == agent_channel else "client") if stereo else "speaker"
            words += self._words(samples, audio.rate, speaker)
        words.sort(key=lambda w: (w["start"], w["end"]))
        return Result(words, round(audio.duration_s, 3), len(audio.channels), audio.note)

    def transcribe_legs(self, agent_path: str | Path, client_path: str | Path) -> Result:
        """The two legs in two files (MixMonitor's r() and t()): one speaker each, on one time line."""
        words: list[dict] = []
        durations, notes = [], []
        for path, speaker in ((agent_path, "agent"), (client_path, "client")):
            audio = _audio().read_wav(path)
            mono = audio.channels[0] if len(audio.channels) == 1 else sum(audio.channels) / len(audio.channels)
            words += self._words(mono, audio.rate, speaker)
            durations.append(audio.duration_s)
            if audio.note:
                notes.append(f"{Path(path).name}: {audio.note}")
        words.sort(key=lambda w: (w["start"], w["end"]))
        return Result(words, round(max(durations), 3), 2, "; ".join(notes) or None)


def _audio():  # noqa: ANN202 - the speech.audio module
    """NumPy and soxr load where audio is decoded (the worker processes), not in the hub's process, which
    imports this module for ``Result`` (about 11 MB of resident memory saved there)."""
    from speech import audio

    return audio
