"""Settings of the speech capability (the lead adds them to config/settings.py as section ``[speech]``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class PhraseLists(BaseModel):
    """Speech analytics: phrases matched across Russian word forms (``договор`` also finds ``договора``)."""

    rudeness: list[str] = Field(default_factory=list)
    forbidden: list[str] = Field(default_factory=list)
    competitors: list[str] = Field(default_factory=list)
    required: list[str] = Field(default_factory=list)  # script phrases the agent must say


class SpeechSettings(BaseModel):
    model_path: Path | None = None          # a Vosk model folder; none: transcription is off
    workers: int = Field(default=1, ge=1, le=64)
    max_jobs_per_worker: int = Field(default=200, ge=1)   # then the process is replaced (Vosk's memory grows)
    max_worker_rss_mb: int = Field(default=2000, ge=100)  # or when its memory passes this
    agent_channel: int = Field(default=0, ge=0, le=1)     # stereo recordings: the agent's channel (0 = left)
    # MixMonitor's separate legs, r() and t(), beside the mixed file: with "-r" and "-t", a recording X.wav
    # whose X-r.wav and X-t.wav exist is transcribed from those, one speaker each (X.wav is what is played).
    agent_leg_suffix: str = Field(default="", max_length=40, pattern=r"^[\w.-]*$")
    client_leg_suffix: str = Field(default="", max_length=40, pattern=r"^[\w.-]*$")
    recordings_dir: Path | None = None    # relative recording paths are read from here
    max_attempts: int = Field(default=3, ge=1, le=20)
    lease_s: float = Field(default=120.0, gt=1)           # a silent worker's job is taken back after this
    job_timeout_s: float = Field(default=1800.0, gt=1)    # one recording may take this long to decode
    poll_s: float = Field(default=2.0, gt=0)
    phrases: PhraseLists = Field(default_factory=PhraseLists)
    # Live transcription of calls in progress: Asterisk streams each leg over AudioSocket (docs/speech.md).
    live_enabled: bool = False
    live_host: str = "127.0.0.1"
    live_port: int = Field(default=9093, ge=0, le=65535)   # 0: any free port (tests)
    live_workers: int = Field(default=2, ge=1, le=64)      # worker processes, each decoding many legs
    live_buffer_s: float = Field(default=10.0, ge=1, le=300)  # a leg's audio waiting past this is dropped
    live_chunk_ms: int = Field(default=200, ge=20, le=2000)   # audio handed to a worker at a time, at least
    live_answer_silence: bool = True                       # answer each audio frame with silence
    # the live decoder's search, narrower than the model's own to decode more legs at once (docs/speech.md has
    # the cost and the accuracy of each), e.g. {"max-active" = 700, "beam" = 8, "lattice-beam" = 1}; empty: the model's
    live_decoder: dict[str, float] = Field(default_factory=dict)
