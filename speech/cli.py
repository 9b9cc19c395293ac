"""Command-line tools of the speech capability.

``speech-eval --model PATH --manifest FILE``: word and character error rates (jiwer) of a Vosk model on
recordings with their reference texts, so a user can judge the Russian model they install.
``speech-worker``: a transcription worker as its own process (or machine), pulling jobs from the shared database.

Both are sub-commands of ``hub`` (main.py) and also run as ``python -m speech.cli eval|worker …``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import logging
import re
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("hub.speech.cli")


@dataclass(frozen=True, slots=True)
class Sample:
    audio: Path
    reference: str


class ManifestError(ValueError):
    """The manifest cannot be used; the message names the line and why."""


def read_manifest(path: Path) -> list[Sample]:
    """``audio<TAB>reference text`` per line (``#`` comments), or JSON lines ``{"audio": …, "text": …}``.
    Relative audio paths are read from the manifest's folder."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ManifestError(f"{path}: not UTF-8 text") from None
    samples = []
    for n, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.lstrip().startswith("{"):
            try:
                row = json.loads(line)
                audio, text = row["audio"], row["text"]
            except (ValueError, KeyError, TypeError):
                raise ManifestError(f"{path}:{n}: a JSON line needs \"audio\" and \"text\"") from None
        else:
            audio, sep, text = line.partition("\t")
            if not sep:
                raise ManifestError(f"{path}:{n}: expected <audio file><TAB><reference text>")
        if not str(text).strip():
            raise ManifestError(f"{path}:{n}: the reference text is empty")
        file = Path(audio)
        samples.append(Sample(file if file.is_absolute() else path.parent / file, str(text)))
    if not samples:
        raise ManifestError(f"{path}: no samples")
    return samples


def normalise(text: str) -> str:
    """Compare words, not spelling: lower case, «ё» as «е», punctuation dropped."""
    return " ".join(re.findall(r"\w+", text.lower().replace("ё", "е")))


def evaluate(model: Path, samples: list[Sample], out=sys.stdout) -> dict:  # noqa: ANN001
    import jiwer

    from speech.audio import AudioError
    from speech.recognizer import Recognizer

    recognizer = Recognizer(model)
    refs, hyps, failed = [], [], []
    audio_s = decode_s = 0.0
    for sample in samples:
        started = time.perf_counter()
        try:
            result = recognizer.transcribe(sample.audio)
        except AudioError as exc:
            failed.append({"audio": str(sample.audio), "error": str(exc)})
            print(f"FAILED\t{sample.audio}\t{exc}", file=out)
            continue
        decode_s += time.perf_counter() - started
        audio_s += result.duration_s
        ref, hyp = normalise(sample.reference), normalise(" ".join(w["word"] for w in result.words))
        refs.append(ref)
        hyps.append(hyp)
        print(f"{jiwer.wer(ref, hyp):.3f}\t{sample.audio.name}\t{ref}\t→\t{hyp}", file=out)
    if not refs:
        raise ManifestError("no recording in the manifest could be decoded")
    summary = {"model": str(model), "files": len(refs), "failed": failed, "wer": round(jiwer.wer(refs, hyps), 4),
               "cer": round(jiwer.cer(refs, hyps), 4), "audio_s": round(audio_s, 2),
               "real_time_factor": round(decode_s / audio_s, 4) if audio_s else None}
    print(json.dumps(summary, ensure_ascii=False), file=out)
    return summary


def asterisk_manifest(sounds: Path, transcripts: Path, out=sys.stdout) -> int:  # noqa: ANN001
    """Debian's asterisk-core-sounds-ru(-wav): lines ``name: text`` in core-sounds-ru.txt(.gz) → a manifest."""
    opener = gzip.open if transcripts.suffix == ".gz" else open
    with opener(transcripts, "rt", encoding="utf-8", errors="replace") as fh:
        lines = fh.read().splitlines()
    count = 0
    for line in lines:
        name, sep, text = line.partition(":")
        name, text = name.strip(), text.strip()
        if not sep or not name or not text or " " in name or text.startswith("["):
            continue
        wav = sounds / f"{name}.wav"
        if wav.is_file():
            print(f"{wav}\t{text}", file=out)
            count += 1
    return count


def add_parsers(sub) -> None:  # noqa: ANN001 - argparse's sub-parsers action
    ev = sub.add_parser("speech-eval", help="WER/CER of a Vosk model on recordings with reference texts")
    ev.add_argument("--model", type=Path, help="the Vosk model folder")
    ev.add_argument("--manifest", type=Path, help="lines: <audio file><TAB><reference text> (or JSON lines)")
    ev.add_argument("--asterisk-sounds", type=Path, metavar="DIR",
                    help="print a manifest for Asterisk's prompts in DIR (e.g. /usr/share/asterisk/sounds/ru)")
    ev.add_argument("--asterisk-texts", type=Path, metavar="FILE",
                    default=Path("/usr/share/doc/asterisk-core-sounds-ru/core-sounds-ru.txt.gz"))
    wk = sub.add_parser("speech-worker", help="a transcription worker pulling jobs from the shared database")
    wk.add_argument("--model", type=Path, help="the Vosk model folder (default: [speech] model_path)")
    wk.add_argument("--workers", type=int, help="worker processes (default: [speech] workers)")


def cmd_speech_eval(settings, args: argparse.Namespace) -> int:  # noqa: ANN001, ARG001 - settings unused
    if args.asterisk_sounds:
        n = asterisk_manifest(args.asterisk_sounds, args.asterisk_texts)
        print(f"{n} prompts with their text", file=sys.stderr)
        return 0 if n else 1
    if not args.model or not args.manifest:
        print("speech-eval: --model and --manifest are needed", file=sys.stderr)
        return 2
    try:
        evaluate(args.model, read_manifest(args.manifest))
    except ManifestError as exc:
        print(f"speech-eval: {exc}", file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        print(f"speech-eval: {exc}", file=sys.stderr)
        return 1
    return 0


def speech_settings(settings, args: argparse.Namespace):  # noqa: ANN001, ANN201
    from speech.settings import SpeechSettings

    base = getattr(settings, "speech", None) or SpeechSettings()
    update = {k: v for k, v in (("model_path", args.model), ("workers", args.workers)) if v is not None}
    return base.model_copy(update=update)


def cmd_speech_worker(settings, args: argparse.Namespace) -> int:  # noqa: ANN001
    speech = speech_settings(settings, args)
    if speech.model_path is None:
        print("speech-worker: no model: set [speech] model_path or pass --model", file=sys.stderr)
        return 2
    return asyncio.run(run_worker(settings, speech))


async def run_worker(settings, speech, stop: asyncio.Event | None = None) -> int:  # noqa: ANN001
    """Serve transcription jobs from the shared database until SIGINT/SIGTERM (or ``stop``)."""
    from crm_core.db import create_engine, session_factory
    from speech.service import SpeechService

    engine = create_engine(settings.database)
    service = SpeechService(speech, engine, session_factory(engine))
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await service.start()
    print(f"speech worker {service.name}: {speech.workers} process(es), model {speech.model_path}", flush=True)
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            if service.state == "failed":
                print(f"speech-worker: {service.error}", file=sys.stderr)
                return 1
    finally:
        await service.stop()
        await engine.dispose()
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m speech.cli eval …`` / ``… worker …`` without the hub's command line."""
    parser = argparse.ArgumentParser(prog="python -m speech.cli")
    parser.add_argument("--config", help="TOML settings file (speech-worker: the database to pull jobs from)")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parsers(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "speech-eval":
        return cmd_speech_eval(None, args)
    from config.loader import SettingsError, load_settings

    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        print(f"speech-worker: bad configuration: {exc}", file=sys.stderr)
        return 2
    return cmd_speech_worker(settings, args)


if __name__ == "__main__":
    sys.exit(main())
