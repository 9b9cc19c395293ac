"""Faults a live contact center meets: huge mail, auto-responders, the hub killed mid-stream."""

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
from sqlalchemy import func, select

from channels.email.service import email_request, store_attachments
from connectors.email.parse import parse_email
from crm_core.intake import IntakeService
from crm_core.models import Message

ROOT = Path(__file__).resolve().parents[2]


def big_mail(attachment_mb: int) -> bytes:
    import base64

    blob = base64.encodebytes(os.urandom(attachment_mb * 1024 * 1024))
    subject = b"=?utf-8?B?0J/Qu9Cw0L0g0LrQstCw0YDRgtC40YDRiw==?="
    return (b"From: client@mail.ru\r\nTo: sales@agency.ru\r\nSubject: " + subject + b"\r\n"
            b"Message-ID: <big-1@mail.ru>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XYZ\r\n\r\n"
            b"--XYZ\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + "Смотрите план квартиры".encode() +
            b"\r\n--XYZ\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=plan.pdf\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + blob + b"\r\n--XYZ--\r\n")


async def test_a_25_mb_mail_keeps_its_text_and_notes_the_attachment_it_could_not_keep(db, bus, tmp_path):
    parsed = parse_email(big_mail(25), max_attachment_bytes=10 * 1024 * 1024)
    assert parsed.subject == "План квартиры" and parsed.text == "Смотрите план квартиры"
    refs = store_attachments(tmp_path, parsed.message_id, parsed.attachments)
    assert refs[0]["kept"] is False and refs[0]["size"] > 25_000_000
    result = await IntakeService(db.sessions, bus).accept(email_request(parsed, refs))
    async with db.sessions() as s:
        message = await s.get(Message, result.message_id)
    assert message.body == "Смотрите план квартиры" and message.meta["attachments"][0]["filename"] == "plan.pdf"


async def test_an_auto_responder_never_gets_an_answer_so_no_mail_loop(db, bus):
    auto = (b"From: robot@mail.ru\r\nTo: sales@agency.ru\r\nSubject: Auto: I am away\r\n"
            b"Auto-Submitted: auto-replied\r\nMessage-ID: <away-1@mail.ru>\r\n\r\nI am away until Monday\r\n")
    intake = IntakeService(db.sessions, bus)
    for n in range(3):  # the other side's robot answers again and again
        await intake.accept(email_request(parse_email(auto.replace(b"away-1", f"away-{n}".encode())), []))
    async with db.sessions() as s:
        out = (await s.execute(select(func.count()).select_from(Message).where(Message.direction == "out"))).scalar()
        metas = (await s.execute(select(Message.meta))).scalars().all()
    assert out == 0 and all(m["automatic"] == "auto_reply" for m in metas)


async def test_forms_answered_2xx_survive_the_hub_being_killed_right_after(tmp_path, unused_tcp_port):
    db_file = tmp_path / "hub.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update({"HUB_WEB__PORT": str(unused_tcp_port), "HUB_STORAGE__VAR_DIR": str(tmp_path / "var"),
                "HUB_DATABASE__URL": f"sqlite+aiosqlite:///{db_file}", "HUB_WEBFORMS__PER_IP_PER_MINUTE": "1000"})
    proc = await asyncio.create_subprocess_exec(sys.executable, str(ROOT / "main.py"), "run", env=env, cwd=tmp_path,
                                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    accepted: list[str] = []
    enough = asyncio.Event()
    try:
        assert (await proc.stdout.readline()).startswith(b"Hub running at")
        url = f"http://127.0.0.1:{unused_tcp_port}/forms/site"
        async with aiohttp.ClientSession() as http:
            for _ in range(600):  # wait until the database is up (a loaded machine migrates slowly)
                if (await http.get(f"http://127.0.0.1:{unused_tcp_port}/healthz")).status == 200:
                    break
                await asyncio.sleep(0.1)

            async def post(n: int) -> None:
                try:
                    resp = await http.post(url, json={"phone": f"+7916{n:07d}", "message": f"заявка {n}",
                                                      "idempotency_key": f"kill-test-{n:05d}"})
                    if resp.status in (200, 201):
                        accepted.append(f"site:kill-test-{n:05d}")
                        if len(accepted) >= 40:
                            enough.set()
                except aiohttp.ClientError:
                    pass  # the hub died mid-request: no answer, so no promise was made

            tasks = [asyncio.create_task(post(n)) for n in range(200)]
            async with asyncio.timeout(60):  # a hub that answers nothing fails here, not hangs the suite
                await enough.wait()
            proc.send_signal(signal.SIGKILL)
            await asyncio.gather(*tasks)
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
    import sqlite3

    with sqlite3.connect(db_file) as conn:
        stored = {row[0] for row in conn.execute("SELECT external_id FROM messages WHERE channel = 'webform'")}
    assert len(accepted) >= 40 and set(accepted) <= stored
