"""``speech_service(hub)``: transcription of finished calls; ``VIEWS``: the speech pages."""

from __future__ import annotations

from pathlib import Path

VIEWS = ("speech.views",)


def speech_service(hub):  # noqa: ANN001, ANN202 - bootstrap.Hub
    """Transcription of finished calls' recordings in worker processes (the model loaded once per worker)."""
    from speech.service import SpeechService

    settings = hub.settings.speech
    recordings = settings.recordings_dir or Path(hub.settings.asterisk.recordings_dir)
    return SpeechService(settings, hub.database.engine, hub.database.sessions, hub.bus, name=hub.instance,
                         recordings_dir=recordings)
