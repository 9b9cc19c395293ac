"""The body of one worker process: load the Vosk model once, then decode recordings sent over a pipe.

Started with the ``spawn`` method (a clean interpreter: no inherited event loop, sockets or database
connections). Messages in: ``("job", path, agent_channel, legs)`` (legs: None, or the agent's and the
client's files) or ``None`` to stop. Messages out: ``("ready", pid, rss_mb)``, ``("error", reason)`` when the
model cannot be loaded, then per job ``("ok", result, rss_mb)``, ``("bad", reason, rss_mb)`` for a recording
that cannot be read (permanent) or ``("crash", reason, rss_mb)``.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from multiprocessing.connection import Connection


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def main(conn: Connection, model_path: str) -> None:
    from speech.audio import AudioError
    from speech.recognizer import Recognizer

    try:
        recognizer = Recognizer(model_path)
    except Exception as exc:  # noqa: BLE001 - any load failure is reported to the hub as the reason
        conn.send(("error", f"cannot load the Vosk model from {model_path}: {exc}"))
        conn.close()
        return
    conn.send(("ready", os.getpid(), _rss_mb()))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return  # the hub went away
        if msg is None:
            conn.close()
            return
        try:
            _, path, agent_channel, legs = msg
            result = recognizer.transcribe_legs(*legs) if legs else recognizer.transcribe(path, agent_channel)
            reply = ("ok", asdict(result), _rss_mb())
        except AudioError as exc:
            reply = ("bad", str(exc), _rss_mb())
        except Exception as exc:  # noqa: BLE001 - reported, retried by the job store
            reply = ("crash", f"{type(exc).__name__}: {exc}", _rss_mb())
        conn.send(reply)
