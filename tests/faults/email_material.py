"""The material of tests/faults/test_email_faults.py: a poison message, reports, hard MIME, and the helpers
that read what the hub kept."""

import asyncio
import base64

from sqlalchemy import func, select
from sqlalchemy.exc import DataError

from connectors.email.imap import ImapConnector
from connectors.email.settings import EmailSettings
from crm_core.intake import IntakeRequest, IntakeService
from tests.connectors.conftest import PASSWORD, USER
from tests.connectors.test_imap import MemoryCheckpoint

POISON = "ЯДОВИТАЯТЕМА"  # a word that must appear in no log line


SECRET_BODY = "СЕКРЕТНЫЙТЕКСТ"


def poison_letter() -> bytes:
    subject = (POISON + " ") * (130_000 // (len(POISON) + 1))
    return (f"From: Отравитель <poison@mail.ru>\r\nTo: sales@agency.ru\r\nSubject: {subject}\r\n"
            f"Message-ID: <poison-1@mail.ru>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"{SECRET_BODY}\r\n").encode()


def mailbox_for(dovecot, handler, checkpoint=None, **kw):
    settings = EmailSettings(enabled=True, imap_port=dovecot.port, imap_user=USER, imap_password=PASSWORD)
    return ImapConnector(settings, handler, checkpoint or MemoryCheckpoint(), push_timeout_s=kw.pop("push", 2),
                         backoff_cap_s=0.5, command_timeout_s=5, **kw)


async def count(db, model, *where) -> int:
    async with db.sessions() as s:
        return (await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


async def wait_count(db, model, n, limit_s=30.0, *where):
    async with asyncio.timeout(limit_s):
        while await count(db, model, *where) < n:  # noqa: ASYNC110 - polling what the database holds
            await asyncio.sleep(0.1)


def no_content_logged(caplog, *secrets: str) -> None:
    lines = [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    leaked = [line[:120] for line in lines if any(secret in line for secret in secrets)]
    assert leaked == [], leaked


def failing_once(intake: IntakeService, marker: str, state: dict):
    """The intake fails for one message the way PostgreSQL did: a DataError quoting the row."""
    accept = intake.accept

    async def accept_or_fail(req: IntakeRequest):
        if state["fail"] and marker in req.external_id:
            raise DataError("INSERT INTO messages (subject, body) VALUES ($1, $2)", (POISON, SECRET_BODY),
                            Exception(f"value too long: {POISON}"))
        return await accept(req)
    intake.accept = accept_or_fail


def report(kind: str, about: str, n: int) -> bytes:
    """A DSN bounce (text/rfc822-headers) or an ARF abuse report (message/rfc822) about our reply."""
    if kind == "bounce":
        report_type, machine = "delivery-status", ("message/delivery-status",
                                                    "Reporting-MTA: dns; mx.mail.ru\r\n\r\nFinal-Recipient: "
                                                    "rfc822; ivan@mail.ru\r\nAction: failed\r\nStatus: 5.1.1\r\n")
        enclosed = "text/rfc822-headers"
    else:
        report_type, machine = "feedback-report", ("message/feedback-report",
                                                    "Feedback-Type: abuse\r\nUser-Agent: mail.ru-fbl/1.0\r\n"
                                                    "Version: 1\r\n")
        enclosed = "message/rfc822"
    return (f"From: MAILER-DAEMON@mail.ru\r\nTo: sales@agency.ru\r\nSubject: report {n}\r\n"
            f"Message-ID: <report-{n}@mail.ru>\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: multipart/report; report-type={report_type}; boundary=R\r\n\r\n"
            f"--R\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nОтчёт о письме\r\n"
            f"--R\r\nContent-Type: {machine[0]}\r\n\r\n{machine[1]}\r\n"
            f"--R\r\nContent-Type: {enclosed}\r\n\r\nFrom: sales@agency.ru\r\nTo: ivan@mail.ru\r\n"
            f"Subject: Re: Квартира\r\nMessage-ID: {about}\r\n\r\n"
            f"--R--\r\n").encode()


def hard_mime() -> bytes:
    html = base64.encodebytes("<html><body><p>Хочу купить квартиру у метро</p></body></html>".encode()).decode()
    name = ("=?UTF-8?B?0J/Qu9Cw0L0g0LrQstCw0YDRgtC40YDRiw==?=\r\n"
            " =?UTF-8?B?INC90LAg0JvQtdC90LjQvdCwLnBkZg==?=")
    sender = "Иван Петров".encode()
    sender = sender[:6] + b"\xff" + sender[8:]  # one invalid byte instead of «н»
    return (b"From: " + sender + b" <ivan@mail.ru>\r\nTo: sales@agency.ru\r\nSubject: hard\r\n"
            b"Message-ID: <hard-1@mail.ru>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=M\r\n\r\n"
            b"--M\r\nContent-Type: multipart/alternative; boundary=A\r\n\r\n"
            b"--A\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + html.encode() + b"\r\n--A\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\r\n"
            b"--M\r\nContent-Type: application/pdf;\r\n name=\"" + name.encode() + b"\"\r\n"
            b"Content-Disposition: attachment;\r\n filename=\"" + name.encode() + b"\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n")  # and no closing boundaries at all
