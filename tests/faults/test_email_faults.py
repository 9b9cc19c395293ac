"""Where real mail servers and PostgreSQL differ from fakes: nothing is lost at the edges.

Through a real Dovecot (and a real SMTP socket that never answers), on SQLite and PostgreSQL: a poison
message does not stop the mailbox, a message that cannot be stored is quarantined and retried on demand,
server restarts and BYE lose and repeat nothing, automatic mail joins the conversation it answers, hard
MIME keeps its body and names, and no log line carries a subject, a body or an address.
"""

import asyncio
import json
import logging
import subprocess
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from channels.email.service import MailIntake
from connectors.email.imap import ImapConnector, MailRef
from connectors.email.settings import EmailSettings
from crm_core.intake import IntakeRequest, IntakeService
from crm_core.models import Channel, Client, Inquiry, InquiryEvent, Message, utcnow
from crm_core.models.quarantine import QuarantinedMail, SystemMail
from tests.connectors import conftest as real_parts
from tests.connectors.conftest import PASSWORD, USER
from tests.connectors.test_imap import MemoryCheckpoint, letter, until
from tests.faults.email_material import (
    POISON,
    SECRET_BODY,
    count,
    failing_once,
    hard_mime,
    mailbox_for,
    no_content_logged,
    poison_letter,
    report,
    wait_count,
)

dovecot = real_parts.dovecot  # the real Dovecot, as in tests/connectors


async def test_a_130000_character_subject_then_40_good_mails_all_arrive(dovecot, db, bus, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="hub")
    dovecot.deliver(poison_letter())
    for n in range(40):
        dovecot.deliver(letter(n))
    checkpoint = MemoryCheckpoint()
    mail = MailIntake(db.sessions, IntakeService(db.sessions, bus), tmp_path)
    imap = mailbox_for(dovecot, mail.receive, checkpoint)
    await imap.start()
    try:
        await wait_count(db, Message, 41)
        assert imap.state == "connected"
    finally:
        await imap.stop()
    assert await count(db, Inquiry) == 41 and await count(db, QuarantinedMail) == 0
    async with db.sessions() as s:
        poisoned = (await s.execute(select(Inquiry).where(Inquiry.external_id == "<poison-1@mail.ru>"))).scalar_one()
        message = (await s.execute(select(Message).where(Message.inquiry_id == poisoned.id))).scalar_one()
        notes = (await s.execute(select(InquiryEvent.note).where(InquiryEvent.inquiry_id == poisoned.id,
                                                                InquiryEvent.kind == "intake_note"))).scalars().all()
    assert len(poisoned.subject) == 500 and len(message.subject) == 500 and message.body == SECRET_BODY
    assert any("тема обрезана до 500 символов" in n for n in notes)
    assert next(iter(checkpoint.values.values()))["last_uid"] == 41
    no_content_logged(caplog, POISON, SECRET_BODY, "poison@mail.ru", "client1@mail.ru", "Здравствуйте")


async def test_a_mail_that_cannot_be_stored_is_quarantined_and_the_mailbox_goes_on(dovecot, db, bus, tmp_path,
                                                                                   caplog):
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="hub")
    intake, state = IntakeService(db.sessions, bus), {"fail": True}
    failing_once(intake, "poison-1", state)
    mail = MailIntake(db.sessions, intake, tmp_path)
    raw = poison_letter()
    dovecot.deliver(raw)
    for n in range(40):
        dovecot.deliver(letter(n))
    imap = mailbox_for(dovecot, mail.receive)
    await imap.start()
    try:
        await wait_count(db, Message, 40)
        await wait_count(db, QuarantinedMail, 1)
    finally:
        await imap.stop()
    async with db.sessions() as s:
        kept = (await s.execute(select(QuarantinedMail))).scalar_one()
    assert kept.raw == raw and kept.uid == 1 and kept.mailbox == "INBOX" and kept.reason == "DataError"
    assert mail.quarantined == 1
    assert not await mail.retry(kept.id)  # still failing: it stays, with one more attempt
    assert await count(db, QuarantinedMail) == 1
    state["fail"] = False
    assert await mail.retry(kept.id)
    assert await count(db, QuarantinedMail) == 0 and mail.quarantined == 0
    assert await count(db, Inquiry) == 41
    no_content_logged(caplog, POISON, SECRET_BODY, "poison@mail.ru", "client1@mail.ru")


async def test_a_server_restart_mid_idle_and_a_bye_neither_lose_nor_repeat_a_uid(dovecot):
    inbox, checkpoint = [], MemoryCheckpoint()

    async def take(raw, ref):
        inbox.append(ref.uid)

    imap = mailbox_for(dovecot, take, checkpoint, push=30)  # long IDLE: the faults land inside it
    for n in range(3):
        dovecot.deliver(letter(n))
    await imap.start()
    try:
        await until(lambda: len(inbox) == 3)
        await asyncio.sleep(0.3)  # inside IDLE now
        dovecot.restart()
        for n in range(3, 6):
            dovecot.deliver(letter(n))
        await until(lambda: len(inbox) == 6, limit_s=20)
        connects = imap.connects
        await until(lambda: imap.state == "connected")
        await asyncio.sleep(0.3)
        kicked = await asyncio.to_thread(subprocess.run, ["doveadm", "-c", str(dovecot.root / "dovecot.conf"),
                                                          "kick", USER], capture_output=True, text=True, check=False)
        assert kicked.returncode == 0, kicked.stderr
        for n in range(6, 9):
            dovecot.deliver(letter(n))
        await until(lambda: len(inbox) == 9, limit_s=20)
        assert imap.connects > connects  # the BYE was seen and the link rebuilt
        await asyncio.sleep(0.5)
    finally:
        await imap.stop()
    assert inbox == list(range(1, 10))


async def test_smtp_that_never_answers_is_retried_then_undelivered_and_holds_nothing_back(db, bus):
    from channels.outbox import EmailChannel, deliver_due
    from connectors.email.smtp import SmtpSender

    async def silent(reader, writer):  # accepts the connection and never says a word
        await asyncio.sleep(3600)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    res = await IntakeService(db.sessions, bus).accept(IntakeRequest(
        channel=Channel.EMAIL, external_id="<q-1@mail.ru>", email="ivan@mail.ru", subject="Квартира", text="?"))
    now = utcnow()
    async with db.sessions() as s, s.begin():
        for n, channel in enumerate(("email", "email", "telegram")):
            s.add(Message(inquiry_id=res.inquiry_id, client_id=res.client_id, channel=channel,
                          external_id=f"<out-{n}@agency.ru>", direction="out", body="Ответ", delivery="queued",
                          next_attempt_at=now, meta={"to": "ivan@mail.ru" if channel == "email" else "42"}))
    sent = []

    class Bot:
        async def deliver(self, out):
            sent.append(out.message_id)

    senders = {"email": EmailChannel(SmtpSender(EmailSettings(smtp_port=port, smtp_timeout_s=0.5))),
               "telegram": Bot()}
    delays = (1.0, 1.0)
    try:
        started = time.monotonic()
        await deliver_due(db.sessions, senders, delays, now=now, send_timeout_s=2)
        assert time.monotonic() - started < 2.5 and len(sent) == 1  # Telegram went out in the same pass
        for step in range(1, 12):  # the outbox loop, passes later and later
            await deliver_due(db.sessions, senders, delays, now=now + step * timedelta(seconds=2), send_timeout_s=2)
    finally:
        server.close()
    async with db.sessions() as s:
        rows = (await s.execute(select(Message).where(Message.channel == "email", Message.direction == "out")
                                .order_by(Message.id))).scalars().all()
    assert [m.delivery for m in rows] == ["undelivered", "undelivered"]
    assert all(m.attempts == 3 and "gave up after 3 attempts" in m.delivery_note for m in rows)


async def test_a_bounce_and_an_abuse_report_join_the_conversation_they_are_about(dovecot, db, bus, tmp_path):
    mail = MailIntake(db.sessions, IntakeService(db.sessions, bus), tmp_path)
    imap = mailbox_for(dovecot, mail.receive)
    dovecot.deliver(letter(1))
    await imap.start()
    try:
        await wait_count(db, Message, 1)
        async with db.sessions() as s, s.begin():
            question = (await s.execute(select(Message))).scalar_one()
            s.add(Message(inquiry_id=question.inquiry_id, client_id=question.client_id, channel="email",
                          external_id="<reply-1@agency.ru>", direction="out", body="Ответ", delivery="sent",
                          meta={"to": "client1@mail.ru"}))
        dovecot.deliver(report("bounce", "<reply-1@agency.ru>", 1))
        dovecot.deliver(report("feedback", "<reply-1@agency.ru>", 2))
        dovecot.deliver(report("bounce", "<never-ours@agency.ru>", 3))  # answers nothing of ours
        await wait_count(db, Message, 4)
        await wait_count(db, SystemMail, 1)
    finally:
        await imap.stop()
    assert await count(db, Inquiry) == 1  # no new inquiry, nothing in a pool
    async with db.sessions() as s:
        attached = (await s.execute(select(Message).where(Message.external_id.like("<report-%")))).scalars().all()
        reply = (await s.execute(select(Message).where(Message.external_id == "<reply-1@agency.ru>"))).scalar_one()
        held = (await s.execute(select(SystemMail))).scalar_one()
    assert sorted(m.meta["automatic"] for m in attached) == ["bounce", "feedback"]
    assert {m.inquiry_id for m in attached} == {question.inquiry_id}
    assert reply.delivery == "undelivered"
    assert held.kind == "bounce" and held.message_id == "<report-3@mail.ru>"


async def test_the_counts_an_admin_sees_match_what_is_stored_when_mail_arrives_side_by_side(db, bus, tmp_path):
    """Mail is taken in sixteen at a time: bounces filed while poison is quarantined count once each."""
    mail = MailIntake(db.sessions, IntakeService(db.sessions, bus), tmp_path)
    bounces = [mail.take_in(report("bounce", f"<never-{n}@agency.ru>", n), MailRef("INBOX", 1, n))
               for n in range(12)]
    poisons = [mail.quarantine(poison_letter() + str(n).encode(), MailRef("INBOX", 1, 100 + n), "DataError")
               for n in range(12)]
    await asyncio.gather(*(x for pair in zip(bounces, poisons, strict=True) for x in pair))
    assert (mail.quarantined, mail.system_waiting) == (12, 12)
    assert (await count(db, QuarantinedMail), await count(db, SystemMail)) == (12, 12)


async def test_hard_mime_keeps_its_html_body_its_folded_name_and_says_what_was_repaired(dovecot, db, bus,
                                                                                          tmp_path):
    mail = MailIntake(db.sessions, IntakeService(db.sessions, bus), tmp_path)
    imap = mailbox_for(dovecot, mail.receive)
    dovecot.deliver(hard_mime())
    await imap.start()
    try:
        await wait_count(db, Message, 1)
    finally:
        await imap.stop()
    async with db.sessions() as s:
        message = (await s.execute(select(Message))).scalar_one()
        client_id = (await s.execute(select(Inquiry.client_id))).scalar_one()
        notes = (await s.execute(select(InquiryEvent.note).where(InquiryEvent.kind == "intake_note"))).scalars().all()
        name = (await s.get(Client, client_id)).name
    assert message.body == "Хочу купить квартиру у метро"
    attachment = message.meta["attachments"][0]
    assert attachment["filename"] == "План квартиры на Ленина.pdf" and attachment["kept"]
    assert (tmp_path / "attachments" / attachment["path"]).read_bytes().startswith(b"%PDF")
    assert name == "Ива\ufffd Петров"  # the broken byte replaced, no KOI8-R mojibake
    assert any("UTF-8" in n for n in notes)


async def test_an_idle_the_server_never_acknowledges_is_given_up_and_the_link_rebuilt(dovecot):
    """The race behind a rare TimeoutError: the link dies as IDLE goes out, so neither the IDLE's answer nor
    its end ever comes. A proxy swallows the first IDLE and everything after it, without closing."""
    state = {"connections": 0}

    async def pipe(reader, writer, swallow_idle):
        while data := await reader.read(65536):
            if swallow_idle and b"IDLE" in data:
                await asyncio.sleep(3600)  # silence from here on, the socket left open
            writer.write(data)
            await writer.drain()

    async def relay(client_reader, client_writer):
        state["connections"] += 1
        first = state["connections"] == 1
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", dovecot.port)
        await asyncio.gather(pipe(client_reader, server_writer, first), pipe(server_reader, client_writer, False),
                             return_exceptions=True)

    proxy = await asyncio.start_server(relay, "127.0.0.1", 0)
    inbox = []

    async def take(raw, ref):
        inbox.append(ref.uid)

    settings = EmailSettings(enabled=True, imap_port=proxy.sockets[0].getsockname()[1], imap_user=USER,
                             imap_password=PASSWORD)
    imap = ImapConnector(settings, take, MemoryCheckpoint(), push_timeout_s=2, backoff_cap_s=0.5,
                         command_timeout_s=3)
    await imap.start()
    try:
        await until(lambda: imap.state == "connected")
        dovecot.deliver(letter(1))
        await until(lambda: inbox == [1], limit_s=15)
        assert state["connections"] >= 2
    finally:
        await imap.stop()
        proxy.close()


running = real_parts.running  # the running hub of tests/web, over each database


@pytest.fixture
def hub_sections(dovecot):
    return {"email": {"enabled": True, "imap_port": dovecot.port, "imap_user": USER, "imap_password": PASSWORD},
            "routing": {"enabled": False}}


async def test_an_admin_sees_quarantined_and_system_mail_and_retries_on_demand(running, dovecot):
    hub = running.hub
    state = {"fail": True}
    failing_once(hub.intake, "poison-1", state)
    dovecot.deliver(poison_letter())
    dovecot.deliver(letter(1))
    dovecot.deliver(report("bounce", "<never-ours@agency.ru>", 9))

    async def stored(n_messages, n_quarantined):
        async with hub.database.sessions() as s:
            m = (await s.execute(select(func.count()).select_from(Message))).scalar_one()
            q = (await s.execute(select(func.count()).select_from(QuarantinedMail))).scalar_one()
        return m == n_messages and q == n_quarantined

    async with asyncio.timeout(20):
        while not await stored(1, 1):  # noqa: ASYNC110 - polling what the database holds
            await asyncio.sleep(0.1)
    root = await running.browser("root")
    _, health = await root.get("/healthz")
    assert json.loads(health)["mail"] == {"quarantined": 1, "system_mail": 1}
    _, page = await root.get("/admin/mail")
    assert "Повторить" in page and "DataError" in page and "INBOX" in page and POISON not in page
    _, system = await root.get("/admin/mail?tab=system")
    assert "возврат" in system and "report 9" in system
    anna = await running.browser("anna")
    resp, _ = await anna.get("/admin/mail")
    assert resp.status in (302, 303, 403)
    state["fail"] = False
    await root.get("/admin/mail")
    item = page.split('class="mail-q-row" data-id="', 1)[1].split('"', 1)[0]
    resp, _ = await root.post(f"/admin/mail/quarantine/{item}/retry")
    assert resp.status == 303 and "done=retried" in resp.headers["Location"]
    _, page = await root.get("/admin/mail?done=retried")
    assert "Письмо принято" in page and "mail-q-row" not in page
    assert await stored(2, 0)
    _, health = await root.get("/healthz")
    assert json.loads(health)["mail"]["quarantined"] == 0
    dovecot.deliver(report("bounce", "<msg-1@mail.ru>", 10))  # about the client's own mail: their conversation
    async with asyncio.timeout(20):
        while not await stored(3, 0):  # noqa: ASYNC110 - polling what the database holds
            await asyncio.sleep(0.1)
    async with hub.database.sessions() as s:
        inquiry_id = (await s.execute(select(Message.inquiry_id).where(Message.external_id == "<msg-1@mail.ru>"))
                      ).scalar_one()
        assert (await s.execute(select(func.count()).select_from(Inquiry))).scalar_one() == 2
    _, page = await root.get(f"/inquiries/{inquiry_id}")
    from web.i18n import translator

    assert translator("ru")("history.system_mail") in page and "Отчёт о письме" in page


async def test_every_column_limit_is_the_hubs_own_and_the_same_on_both_databases(db, bus):
    """Any channel, the per-request and the grouped path alike: cut with a note, never a failed insert."""
    intake = IntakeService(db.sessions, bus)
    long_id = "<" + "x" * 400 + "@mail.ru>"
    reqs = [IntakeRequest(channel=Channel.WEBFORM, external_id=f"form-{n}", name="Имя" * 400, phone="+79161234567",
                          subject="Тема" * 300, source="s" * 500, did="7" * 100, text=f"текст\x00{n}",
                          meta={"field": "a\x00b"}, utm={"utm_source": "x" * 10}) for n in range(3)]
    results = await asyncio.gather(*(intake.accept(r) for r in reqs))  # one group commit: the batch path
    first = await intake.accept(IntakeRequest(channel=Channel.EMAIL, external_id=long_id, email="a@mail.ru",
                                              subject="S" * 1000, text="вопрос"))
    again = await intake.accept(IntakeRequest(channel=Channel.EMAIL, external_id=long_id, email="a@mail.ru",
                                              subject="S" * 1000, text="вопрос"))
    reply = await intake.accept(IntakeRequest(channel=Channel.EMAIL, external_id="<r-1@mail.ru>", email="a@mail.ru",
                                              text="ответ", reply_to=(long_id,)))  # the thread is still found
    assert again.duplicate and reply.inquiry_id == first.inquiry_id and not reply.new_inquiry
    async with db.sessions() as s:
        inquiry = await s.get(Inquiry, results[0].inquiry_id)
        message = await s.get(Message, results[0].message_id)
        client = await s.get(Client, results[0].client_id)
        notes = (await s.execute(select(InquiryEvent.note).where(InquiryEvent.inquiry_id == inquiry.id,
                                                                InquiryEvent.kind == "intake_note"))).scalars().all()
    assert len(inquiry.subject) == 500 and len(inquiry.source) == 200 and len(inquiry.did) == 40
    assert len(client.name) == 300 and message.body == "текст0" and message.meta == {"field": "ab"}
    assert any("тема обрезана до 500 символов" in n for n in notes) and len(notes) >= 4


async def test_a_database_hiccup_is_read_again_not_quarantined(db, bus, tmp_path):
    from sqlalchemy.exc import OperationalError

    from channels.email.service import MailNotStored
    from connectors.email.imap import MailRef

    intake, calls = IntakeService(db.sessions, bus), []
    accept = intake.accept

    async def flaky(req):
        calls.append(req.external_id)
        if len(calls) == 1:
            raise OperationalError("SELECT 1", {}, Exception("connection reset"))
        return await accept(req)
    intake.accept = flaky
    mail = MailIntake(db.sessions, intake, tmp_path)
    try:
        await mail.receive(letter(5), MailRef("INBOX", 1, 5))
        raise AssertionError("a hiccup must make the mailbox read the message again")
    except MailNotStored as exc:
        assert str(exc) == "OperationalError"
    await mail.receive(letter(5), MailRef("INBOX", 1, 5))  # read again after the reconnect
    assert await count(db, Message) == 1 and await count(db, QuarantinedMail) == 0


def test_automatic_mail_of_every_kind_names_what_it_is_about():
    from connectors.email.parse import parse_email

    arf = parse_email(report("feedback", "<reply-7@agency.ru>", 7))
    dsn = parse_email(report("bounce", "<reply-8@agency.ru>", 8))
    assert (arf.automatic, arf.original_ids) == ("feedback", ("<reply-7@agency.ru>",))
    assert (dsn.automatic, dsn.original_ids) == ("bounce", ("<reply-8@agency.ru>",))
    continued = parse_email(b"From: a@mail.ru\r\nSubject: x\r\nMessage-ID: <c-1@mail.ru>\r\nMIME-Version: 1.0\r\n"
                            b"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\n"
                            b"see\r\n--B\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment;\r\n"
                            b" filename*0*=utf-8''%D0%9F%D0%BB%D0%B0%D0%BD%20;\r\n filename*1*=%D0%B4%D0%BE%D0%BC"
                            b"%D0%B0.pdf\r\n\r\n%PDF\r\n--B--\r\n")
    assert continued.attachments[0].filename == "План дома.pdf"  # RFC 2231 continuations
    person = parse_email("From: a@mail.ru\r\nSubject: Отсутствует горячая вода в квартире\r\n"
                         "X-Auto-Response-Suppress: All\r\nMessage-ID: <p-1@mail.ru>\r\n\r\nПомогите".encode())
    assert person.automatic == "bulk"  # never answered automatically, yet a person's inquiry, not system mail


async def test_the_whole_hard_corpus_through_dovecot_is_kept_nothing_quarantined(dovecot, db, bus, tmp_path):
    from tests.connectors.test_email_parse import AUTOMATIC, FILES

    for path in FILES:
        dovecot.deliver(path.read_bytes())
    mail = MailIntake(db.sessions, IntakeService(db.sessions, bus), tmp_path)
    imap = mailbox_for(dovecot, mail.receive)
    await imap.start()
    try:
        async with asyncio.timeout(30):
            while await count(db, Message) + await count(db, SystemMail) < len(FILES):  # noqa: ASYNC110
                await asyncio.sleep(0.1)
    finally:
        await imap.stop()
    assert await count(db, QuarantinedMail) == 0 and imap.delivered == len(FILES)
    assert await count(db, SystemMail) == len(AUTOMATIC)  # they answer nothing of ours: none became an inquiry
    assert await count(db, Inquiry) <= len(FILES) - len(AUTOMATIC)
