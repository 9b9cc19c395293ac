"""An agent answers a client by email from the inquiry page; a real SMTP server (aiosmtpd) receives it."""

import asyncio
import socket
from email import message_from_bytes
from email.policy import default

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from connectors.email.errors import PermanentSendError, TemporarySendError
from connectors.email.settings import EmailSettings
from connectors.email.smtp import OutgoingEmail, SmtpSender
from crm_core.intake import IntakeRequest
from crm_core.models import Channel, Inquiry, Message


class Mailbox:
    """An aiosmtpd handler that keeps what it receives; it can defer the first N messages with a 451."""

    def __init__(self, defer_first: int = 0) -> None:
        self.received: list = []
        self.defer_first = defer_first

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        if self.defer_first > 0:
            self.defer_first -= 1
            return "451 4.3.0 Try again later"
        self.received.append(message_from_bytes(envelope.content, policy=default))
        return "250 OK"


@pytest.fixture
def mailbox(unused_tcp_port):
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=unused_tcp_port)
    controller.start()
    box.port = unused_tcp_port
    yield box
    controller.stop()


@pytest.fixture
def hub_sections(mailbox):
    return {"email": {"enabled": True, "smtp_port": mailbox.port, "from_address": "sales@agency.ru",
                      "retry_delays_s": [0.2, 0.2], "smtp_timeout_s": 2},
            "routing": {"enabled": False}}  # these tests give each inquiry its owner by hand


async def email_inquiry(running, owner="anna"):
    res = await running.hub.intake.accept(IntakeRequest(
        channel=Channel.EMAIL, external_id="<question-1@mail.ru>", email="ivan@mail.ru", name="Иван Петров",
        subject="Квартира на Соколе", text="Ещё продаётся?"))
    async with running.hub.database.sessions() as s, s.begin():
        inquiry = await s.get(Inquiry, res.inquiry_id)
        inquiry.owner_id, inquiry.department_id = running.agency.users[owner], running.agency.sales
    return res


async def wait_for(predicate, limit_s=5.0):
    """Poll what the user would see (the mailbox, the database) until it is true."""
    async with asyncio.timeout(limit_s):
        while not await predicate():  # noqa: ASYNC110 - polling outside state, no event to wait on
            await asyncio.sleep(0.05)


async def test_agent_reply_reaches_the_client_threaded_under_the_question(running, mailbox):
    res = await email_inquiry(running)
    anna = await running.browser("anna")
    _, page = await anna.get(f"/inquiries/{res.inquiry_id}")
    assert 'id="reply"' in page
    resp, _ = await anna.post(f"/inquiries/{res.inquiry_id}/reply", {"text": "Да, продаётся. Когда удобно посмотреть?"})
    assert resp.status == 303 and "reply_queued" in resp.headers["Location"]

    async def delivered():
        return len(mailbox.received) == 1
    await wait_for(delivered)
    mail = mailbox.received[0]
    assert mail["To"] == "ivan@mail.ru" and mail["Subject"] == "Re: Квартира на Соколе"
    assert mail["In-Reply-To"] == "<question-1@mail.ru>" and "<question-1@mail.ru>" in mail["References"]
    assert mail.get_content().strip() == "Да, продаётся. Когда удобно посмотреть?"

    async def marked_sent():
        async with running.hub.database.sessions() as s:
            return (await s.execute(select(Message.delivery).where(Message.direction == "out"))).scalar() == "sent"
    await wait_for(marked_sent)
    _, page = await anna.get(f"/inquiries/{res.inquiry_id}")
    assert "отправлено" in page and "Да, продаётся" in page


async def test_a_temporary_refusal_is_retried_and_the_reply_arrives_once(running, mailbox):
    mailbox.defer_first = 1
    res = await email_inquiry(running)
    anna = await running.browser("anna")
    await anna.get(f"/inquiries/{res.inquiry_id}")
    await anna.post(f"/inquiries/{res.inquiry_id}/reply", {"text": "Перезвоню завтра"})

    async def delivered():
        return len(mailbox.received) == 1
    await wait_for(delivered, limit_s=10)
    async with running.hub.database.sessions() as s:
        m = (await s.execute(select(Message).where(Message.direction == "out"))).scalar_one()
    assert m.attempts == 2
    await asyncio.sleep(0.5)
    assert len(mailbox.received) == 1


async def test_reply_without_client_email_or_empty_is_refused_with_a_reason(running, mailbox):
    res = await running.hub.intake.accept(IntakeRequest(channel=Channel.WEBFORM, external_id="f-1",
                                                        phone="+79161234567", text="Перезвоните"))
    async with running.hub.database.sessions() as s, s.begin():
        (await s.get(Inquiry, res.inquiry_id)).owner_id = running.agency.users["anna"]
    anna = await running.browser("anna")
    await anna.get(f"/inquiries/{res.inquiry_id}")
    resp, page = await anna.post(f"/inquiries/{res.inquiry_id}/reply", {"text": "Здравствуйте"})
    assert resp.status == 422 and "нет email" in page
    resp, page = await anna.post(f"/inquiries/{res.inquiry_id}/reply", {"text": "   "})
    assert resp.status == 422 and "пустой" in page


async def test_a_colleague_cannot_reply_on_someone_elses_inquiry(running, mailbox):
    res = await email_inquiry(running)
    oleg = await running.browser("oleg")
    await oleg.get("/inbox")
    resp, _ = await oleg.post(f"/inquiries/{res.inquiry_id}/reply", {"text": "чужой ответ"})
    assert resp.status == 404
    await asyncio.sleep(0.3)
    assert mailbox.received == []


async def test_header_injection_through_the_subject_is_impossible(mailbox):
    sender = SmtpSender(EmailSettings(smtp_port=mailbox.port, from_address="a@agency.ru"))
    with pytest.raises(PermanentSendError):
        await sender.send(OutgoingEmail(to="ivan@mail.ru", subject="Привет\r\nBcc: all@evil.ru", text="x",
                                        message_id="<m1@agency.ru>"))
    with pytest.raises(PermanentSendError):
        await sender.send(OutgoingEmail(to="ivan@mail.ru\nBcc: all@evil.ru", subject="x", text="x",
                                        message_id="<m2@agency.ru>"))
    assert mailbox.received == []


async def test_a_server_that_accepts_tcp_and_never_answers_times_out():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        sender = SmtpSender(EmailSettings(smtp_port=silent.getsockname()[1], smtp_timeout_s=0.5))
        with pytest.raises(TemporarySendError):
            async with asyncio.timeout(5):
                await sender.send(OutgoingEmail(to="a@b.ru", subject="x", text="x", message_id="<m3@agency.ru>"))
    finally:
        silent.close()
