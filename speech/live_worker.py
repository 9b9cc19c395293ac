"""The body of one live-speech worker process: many legs' streams through one loaded Vosk model.

Messages in: ``("open", stream)``, ``("audio", stream, start_s, pcm)``, ``("close", stream)``, ``None`` to stop.
Messages out: ``("ready", pid)`` or ``("error", reason)`` once; per audio message one
``("partial" | "final", stream, words, upto_s)`` (words with stream times; ``upto_s``: the stream time
decoded so far); per close ``("closed", stream, words, upto_s)`` with the last final words. A chunk that does
not start where the last one ended (the hub dropped audio in between) ends the utterance and restarts the
recognizer at the new stream time, so word times stay right after a gap.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

RATE = 8000
BYTES_PER_S = 2 * RATE


@dataclass
class _Stream:
    rec: Any
    base_s: float  # the stream time of the recognizer's zero
    pos_s: float   # the stream time decoded so far


def _words(raw: list[dict[str, Any]], base_s: float) -> list[dict[str, Any]]:
    return [{"word": w["word"], "start": round(base_s + float(w["start"]), 3),
             "end": round(base_s + float(w["end"]), 3), "conf": min(1.0, max(0.0, float(w.get("conf", 1.0))))}
            for w in raw]


def tuned_model(model_path: str, options: dict[str, float], into: str) -> str:
    """A copy of the model folder in ``into`` (links to its files, a rewritten ``conf/model.conf``) whose
    decoder uses ``options`` (``max-active``, ``beam``, ``lattice-beam``, …) instead of the model's own."""
    src, dst = Path(model_path), Path(into)
    for entry in src.iterdir():
        if entry.name != "conf":
            (dst / entry.name).symlink_to(entry.resolve())
    (dst / "conf").mkdir()
    for entry in (src / "conf").iterdir():
        shutil.copy(entry, dst / "conf" / entry.name)
    conf = dst / "conf" / "model.conf"
    lines = conf.read_text().splitlines() if conf.exists() else []
    wanted = {f"--{k}": v for k, v in options.items()}
    kept = [line for line in lines if line.split("=", 1)[0].strip() not in wanted]
    conf.write_text("\n".join(kept + [f"{k}={v:g}" for k, v in wanted.items()]) + "\n")
    return str(dst)


def main(conn: Connection, model_path: str, decoder: dict[str, float] | None = None) -> None:
    if not decoder:
        _serve(conn, model_path, model_path)
        return
    with tempfile.TemporaryDirectory(prefix="hub-live-model-") as folder:  # removed when the worker ends
        _serve(conn, model_path, tuned_model(model_path, decoder, folder))


def _serve(conn: Connection, model_path: str, load_from: str) -> None:
    try:
        import vosk

        vosk.SetLogLevel(-1)
        model = vosk.Model(load_from)
    except Exception as exc:  # noqa: BLE001 - reported to the hub as the reason
        conn.send(("error", f"cannot load the Vosk model from {model_path}: {exc}"))
        conn.close()
        return

    def recognizer() -> Any:
        rec = vosk.KaldiRecognizer(model, RATE)  # Vosk resamples 8 kHz to the model's rate itself
        rec.SetWords(True)
        rec.SetPartialWords(True)
        return rec

    streams: dict[str, _Stream] = {}
    conn.send(("ready", os.getpid()))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            conn.close()
            return
        op, sid = msg[0], msg[1]
        if op == "open":
            streams[sid] = _Stream(recognizer(), 0.0, 0.0)
        elif op == "audio":
            _, _, start_s, pcm = msg
            st = streams.setdefault(sid, _Stream(recognizer(), start_s, start_s))
            head: list[dict[str, Any]] = []
            if abs(start_s - st.pos_s) > 1e-6:  # a gap: finish what was heard, start afresh at start_s
                head = _words(json.loads(st.rec.FinalResult()).get("result", []), st.base_s)
                st.rec, st.base_s = recognizer(), start_s
            st.pos_s = start_s + len(pcm) / BYTES_PER_S
            if st.rec.AcceptWaveform(pcm):
                conn.send(("final", sid, head + _words(json.loads(st.rec.Result()).get("result", []), st.base_s),
                           st.pos_s))
            else:
                if head:
                    conn.send(("final", sid, head, st.pos_s))
                part = json.loads(st.rec.PartialResult()).get("partial_result", [])
                conn.send(("partial", sid, _words(part, st.base_s), st.pos_s))
        elif op == "close":
            st2 = streams.pop(sid, None)
            words = _words(json.loads(st2.rec.FinalResult()).get("result", []), st2.base_s) if st2 else []
            conn.send(("closed", sid, words, st2.pos_s if st2 else 0.0))
