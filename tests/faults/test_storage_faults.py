"""Storage faults while the hub runs: a full disk under an email attachment, PostgreSQL gone and back.

What a user would notice, on real parts: a mail whose attachment cannot be written is quarantined raw with
the reason (never lost, never half stored), the mails after it arrive, and the admin's retry keeps it with
its attachment once the disk has room; a web form posted while the database is unreachable is answered 503
with ``Retry-After``, never 2xx, and every form answered 2xx is stored exactly once. Corrupt audio, a speech
worker killed mid-file and SIGKILL of the hub with forms in flight are covered elsewhere (docs/reliability.md).
"""

import asyncio
import base64
import errno
import logging
import os
import time
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bootstrap import build_hub
from channels.email.service import MailIntake
from crm_core.intake import IntakeService
from crm_core.models import Channel, Inquiry, Message
from crm_core.models.quarantine import QuarantinedMail
from tests.connectors import conftest as real_parts
from tests.connectors.test_imap import MemoryCheckpoint, letter
from tests.faults.email_material import count, mailbox_for, no_content_logged, wait_count
from tests.web.conftest import settings_for
from web.app import create_app

dovecot = real_parts.dovecot  # the real Dovecot, as in tests/connectors

# --- a. the disk fills up under an email attachment -------------------------------------------------------

PLAN_SUBJECT = "ДОГОВОРКУПЛИПРОДАЖИ"  # words that must appear in no log line
PLAN_BODY = "ПАСПОРТНЫЕДАННЫЕ"
PLAN_NAME = "Договор Смирновой.pdf"
PLAN_PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"


def with_attachment() -> bytes:
    name = "=?UTF-8?B?" + base64.b64encode(PLAN_NAME.encode()).decode() + "?="
    return (f"From: Смирнова <owner@mail.ru>\r\nTo: sales@agency.ru\r\nSubject: {PLAN_SUBJECT}\r\n"
            f"Message-ID: <plan-1@mail.ru>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=P\r\n\r\n"
            f"--P\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{PLAN_BODY}\r\n"
            f"--P\r\nContent-Type: application/pdf; name=\"{name}\"\r\n"
            f"Content-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + base64.encodebytes(PLAN_PDF).decode().replace("\n", "\r\n") + "--P--\r\n").encode()


def fill_the_disk(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Every write under ``folder`` fails as on a full disk; the rest of the machine writes as before."""
    write_bytes = Path.write_bytes

    def full(self: Path, data: bytes) -> int:
        if self.resolve().is_relative_to(folder.resolve()):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return write_bytes(self, data)

    monkeypatch.setattr(Path, "write_bytes", full)


async def test_a_full_disk_quarantines_the_mail_with_an_attachment_and_the_retry_keeps_it(
        dovecot, db, bus, tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="hub")
    fill_the_disk(monkeypatch, tmp_path / "attachments")
    raw = with_attachment()
    dovecot.deliver(raw)
    for n in range(1, 6):
        dovecot.deliver(letter(n))
    checkpoint = MemoryCheckpoint()
    mail = MailIntake(db.sessions, IntakeService(db.sessions, bus), tmp_path)
    imap = mailbox_for(dovecot, mail.receive, checkpoint)
    await imap.start()
    try:
        await wait_count(db, Message, 5, 30.0)
        await wait_count(db, QuarantinedMail, 1, 30.0)
        assert imap.state == "connected"
    finally:
        await imap.stop()
    assert next(iter(checkpoint.values.values()))["last_uid"] == 6  # the mailbox went on past it
    async with db.sessions() as s:
        kept = (await s.execute(select(QuarantinedMail))).scalar_one()
        stored = (await s.execute(select(Message.external_id))).scalars().all()
    assert kept.raw == raw and kept.uid == 1 and kept.mailbox == "INBOX"  # the whole mail, where it came from
    assert kept.reason == "OSError ENOSPC" and mail.quarantined == 1  # the admin sees why
    assert sorted(stored) == [f"<msg-{n}@mail.ru>" for n in range(1, 6)]  # nothing half stored, nothing lost

    assert not await mail.retry(kept.id)  # the disk is still full: it stays, one more attempt counted
    async with db.sessions() as s:
        again = (await s.execute(select(QuarantinedMail))).scalar_one()
    assert again.attempts == kept.attempts + 1 and again.reason == "OSError ENOSPC"
    assert await count(db, Message) == 5

    monkeypatch.undo()  # the disk has room again
    assert await mail.retry(kept.id)
    assert await count(db, QuarantinedMail) == 0 and mail.quarantined == 0
    async with db.sessions() as s:
        plan = (await s.execute(select(Message).where(Message.external_id == "<plan-1@mail.ru>"))).scalar_one()
        ids = (await s.execute(select(Message.external_id))).scalars().all()
    assert plan.body == PLAN_BODY and plan.subject == PLAN_SUBJECT
    attachment = plan.meta["attachments"][0]
    assert attachment["filename"] == PLAN_NAME and attachment["kept"]
    assert (tmp_path / "attachments" / attachment["path"]).read_bytes() == PLAN_PDF
    assert Counter(ids) == Counter({f"<msg-{n}@mail.ru>": 1 for n in range(1, 6)} | {"<plan-1@mail.ru>": 1})
    assert await count(db, Inquiry) == 6
    no_content_logged(caplog, PLAN_SUBJECT, PLAN_BODY, PLAN_NAME, "owner@mail.ru", "Смирнова")


# --- b. the database goes away and comes back while the hub runs ------------------------------------------


class Forwarder:
    """A TCP forwarder on 127.0.0.1 to the database: ``cut`` refuses new connections and drops the open
    ones, as when the database host goes away; ``restore`` listens again on the same port."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()

    async def restore(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._links:
            writer.transport.abort()
        self._links.clear()
        await self._server.wait_closed()

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.transport.abort()
            return
        self._links |= {client_writer, server_writer}
        await asyncio.gather(_pipe(client_reader, server_writer), _pipe(server_reader, client_writer))
        self._links -= {client_writer, server_writer}


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.transport.abort()


@pytest.mark.parametrize("db", ["postgres"], indirect=True)  # SQLite is a file in the hub's process: no link
async def test_forms_posted_while_the_database_is_down_get_503_and_every_2xx_is_stored_once(db, tmp_path):
    started = time.monotonic()
    real = make_url(db.url)
    link = Forwarder(real.port or 5432)
    await link.restore()
    via_link = real.set(host="127.0.0.1", port=link.port).render_as_string(hide_password=False)
    hub = build_hub(settings_for(via_link, tmp_path, {"routing": {"enabled": False},
                                                     "webforms": {"per_ip_per_minute": 10_000}}))
    server = TestServer(create_app(hub), host="127.0.0.1")
    await server.start_server()
    await hub.started.wait()
    base = str(server.make_url("")).rstrip("/")
    answers: dict[str, list[int]] = {}  # every answer each form got, in order
    n_form = iter(range(10_000))

    async with aiohttp.ClientSession() as http:
        async def post(key: str) -> int:
            n = next(n_form)
            resp = await http.post(base + "/forms/site", json={
                "name": "Клиент", "phone": f"+7916{n:07d}", "message": f"заявка {key}", "idempotency_key": key})
            await resp.read()
            if resp.status == 503:
                assert int(resp.headers["Retry-After"]) > 0  # the site knows to post again, and when
            answers.setdefault(key, []).append(resp.status)
            return resp.status

        async def health() -> tuple[int, str]:
            resp = await http.get(base + "/healthz")
            return resp.status, (await resp.json())["database"]["state"]

        try:
            assert await asyncio.gather(*(post(f"before-{n:04d}") for n in range(10))) == [201] * 10
            async def later(n: int) -> int:
                await asyncio.sleep(n * 0.004)
                return await post(f"edge-{n:04d}")

            in_flight = [asyncio.create_task(later(n)) for n in range(20)]  # posts spread across the cut
            await asyncio.sleep(0.04)
            await link.cut()  # with forms in flight
            await asyncio.gather(*in_flight)
            assert set(await asyncio.gather(*(post(f"down-{n:04d}") for n in range(10)))) == {503}
            assert await health() == (503, "down")  # the admin sees it on /healthz

            await link.restore()
            async with asyncio.timeout(15):  # the sites post again what was not answered 2xx, as told
                while waiting := [k for k, got in answers.items() if got[-1] not in (200, 201)]:
                    await asyncio.gather(*(post(k) for k in waiting))
                    if [k for k, got in answers.items() if got[-1] not in (200, 201)]:
                        await asyncio.sleep(0.2)
            assert set(await asyncio.gather(*(post(f"after-{n:04d}") for n in range(10)))) == {201}
            assert (await health())[1] == "up"
        finally:
            await server.close()
            await link.cut()

    async with db.sessions() as s:  # read straight from the database, not through the link
        stored = Counter((await s.execute(select(Message.external_id).where(Message.channel == Channel.WEBFORM)))
                         .scalars().all())
        inquiries = await count(db, Inquiry)
    promised = {f"site:{k}" for k, got in answers.items() if set(got) & {200, 201}}
    assert all(set(got) <= {200, 201, 503} for got in answers.values()), answers  # never a 500, never silence
    assert all(got[0] == 503 for k, got in answers.items() if k.startswith("down-"))  # none of them 2xx
    assert len(promised) == len(answers) == 50  # each form answered 2xx in the end
    assert set(stored) == promised and set(stored.values()) == {1} and inquiries == 50  # once, none invented
    assert time.monotonic() - started < 20
