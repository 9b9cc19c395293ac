"""speech-eval on real recordings, and speech-worker as a separate process pulling jobs from the shared database."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from crm_core.models import Transcript
from crm_core.models.speech import SpeechJob
from speech.cli import ManifestError, asterisk_manifest, evaluate, normalise, read_manifest
from tests.speech.conftest import ANSWERED, RING, TRANSFER, add_call
from tests.speech.test_service import wait_for

ROOT = Path(__file__).resolve().parents[2]


def test_speech_eval_reports_wer_and_cer_per_file_and_overall(model_path, tmp_path):
    manifest = tmp_path / "m.tsv"
    manifest.write_text(
        f"# the hub's own recordings; the texts are what a person would write down\n"
        f"{RING}\tАбонент не отвечает\n{ANSWERED}\tЗдравствуйте!\n"
        f'{{"audio": "{TRANSFER}", "text": "Вызов переадресован."}}\n', encoding="utf-8")
    out = io.StringIO()
    summary = evaluate(model_path, read_manifest(manifest), out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 4 and json.loads(lines[-1]) == summary
    assert summary["files"] == 3 and summary["failed"] == []
    # A Korean model on Russian speech: every word wrong, so WER at least 1; characters are counted too
    assert summary["wer"] >= 1.0 and summary["cer"] > 0.5
    assert summary["audio_s"] == pytest.approx(5.54 + 2.02 + 1.56, abs=0.05)
    assert lines[0].split("\t")[2] == "абонент не отвечает"


def test_a_bad_manifest_is_named_by_line(tmp_path):
    m = tmp_path / "m.tsv"
    m.write_text(f"{RING}\tтекст\nфайл-без-текста\n", encoding="utf-8")
    with pytest.raises(ManifestError, match=r"m.tsv:2: expected <audio file><TAB><reference text>"):
        read_manifest(m)
    m.write_text(f"{RING}\t  \n", encoding="utf-8")
    with pytest.raises(ManifestError, match="m.tsv:1: the reference text is empty"):
        read_manifest(m)
    m.write_bytes("файл\tтекст".encode("cp1251"))
    with pytest.raises(ManifestError, match="not UTF-8"):
        read_manifest(m)


def test_an_unreadable_file_in_the_manifest_is_reported_and_the_rest_scored(model_path, tmp_path):
    broken = tmp_path / "broken.wav"
    broken.write_text("не звук")
    m = tmp_path / "m.tsv"
    m.write_text(f"broken.wav\tчто-то\n{TRANSFER}\tВызов переадресован\n", encoding="utf-8")
    summary = evaluate(model_path, read_manifest(m), io.StringIO())
    assert summary["files"] == 1 and summary["failed"][0]["error"].startswith("not a WAV file")


def test_asterisk_prompt_texts_become_a_manifest(tmp_path):
    import gzip

    (tmp_path / "ru").mkdir()
    (tmp_path / "ru" / "agent-pass.wav").write_bytes(RING.read_bytes())
    texts = tmp_path / "core-sounds-ru.txt.gz"
    with gzip.open(texts, "wt", encoding="utf-8") as fh:
        fh.write("; Core Asterisk Sounds in Russian\n\nagent-pass: Введите пароль и нажмите решетку.\n"
                 "beep: [beep]\nmissing-file: Нет такого файла\n")
    out = io.StringIO()
    assert asterisk_manifest(tmp_path / "ru", texts, out) == 1
    assert out.getvalue() == f"{tmp_path / 'ru' / 'agent-pass.wav'}\tВведите пароль и нажмите решетку.\n"
    assert normalise("Введите пароль, и нажмите решётку!") == "введите пароль и нажмите решетку"


async def test_speech_worker_process_pulls_jobs_from_the_shared_database_and_stops_on_sigterm(db, model_path,
                                                                                            tmp_path):
    async with db.sessions() as s, s.begin():
        _, rec = await add_call(s, TRANSFER)
    env = {**os.environ, "HUB_DATABASE__URL": db.url, "HUB_STORAGE__VAR_DIR": str(tmp_path / "var")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "speech.cli", "speech-worker", "--model", str(model_path), "--workers", "1",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        from speech.queries import enqueue_transcription

        async with db.sessions() as s, s.begin():
            await enqueue_transcription(s, rec)

        async def done() -> bool:
            async with db.sessions() as s:
                return (await s.execute(select(SpeechJob.status))).scalar_one() == "done"

        await wait_for(done, 120)
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert b"speech worker" in out
    async with db.sessions() as s:
        tr = (await s.execute(select(Transcript))).scalar_one()
        worker = (await s.execute(select(SpeechJob.worker, SpeechJob.attempts))).one()
    assert tr.status == "done" and tr.text and worker.attempts == 1
