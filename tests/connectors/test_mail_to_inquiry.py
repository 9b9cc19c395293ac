"""End to end: a client's mail lands in the agency's Dovecot mailbox and appears in the hub, once."""

import asyncio
from email.header import Header

import pytest
from sqlalchemy import func, select

from crm_core.models import Inquiry, Message
from tests.connectors.conftest import PASSWORD, USER

QUESTION = (
    f"From: {Header('Иван Петров', 'windows-1251').encode()} <ivan@mail.ru>\r\nTo: sales@agency.ru\r\n"
    f"Subject: {Header('Комната', 'koi8-r').encode()}\r\nMessage-ID: <q-1@mail.ru>\r\n"
    "Content-Type: text/plain; charset=windows-1251\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
).encode() + "Здравствуйте! Квартира ещё продаётся?\r\n".encode("cp1251")


@pytest.fixture
def hub_sections(dovecot):
    return {"email": {"enabled": True, "imap_port": dovecot.port, "imap_user": USER, "imap_password": PASSWORD}}


async def test_mail_in_the_mailbox_becomes_an_inquiry_with_cyrillic_intact(running, dovecot):
    dovecot.deliver(QUESTION)
    async with asyncio.timeout(15):
        while True:
            async with running.hub.database.sessions() as s:
                inquiry = (await s.execute(select(Inquiry))).scalar_one_or_none()
            if inquiry is not None:
                break
            await asyncio.sleep(0.1)
    assert inquiry.channel == "email" and inquiry.subject == "Комната"
    root = await running.browser("root")
    _, page = await root.get(f"/inquiries/{inquiry.id}")
    assert "Здравствуйте! Квартира ещё продаётся?" in page and "Иван Петров" in page
    _, health = await root.get("/healthz")
    assert '"email": "connected"' in health
    async with running.hub.database.sessions() as s:
        assert (await s.execute(select(func.count()).select_from(Message))).scalar_one() == 1
