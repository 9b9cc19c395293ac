"""Mail arriving in the agency's mailbox (a real Dovecot) reaches the hub once, across restarts and faults."""

import asyncio

from sqlalchemy import func, select

from connectors.email.imap import ImapConnector
from connectors.email.settings import EmailSettings
from crm_core.models import Inquiry, Message
from tests.conftest import FIXTURES
from tests.connectors.conftest import PASSWORD, USER

CORPUS = FIXTURES / "email"


def letter(n: int, subject: str = "Квартира") -> bytes:
    return (f"From: Клиент {n} <client{n}@mail.ru>\r\nTo: sales@agency.ru\r\nSubject: {subject} {n}\r\n"
            f"Message-ID: <msg-{n}@mail.ru>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"Здравствуйте, письмо {n}\r\n").encode()


class MemoryCheckpoint:
    def __init__(self):
        self.values = {}

    async def load(self, key):
        return self.values.get(key)

    async def save(self, key, value):
        self.values[key] = dict(value)


def connector(dovecot, inbox, checkpoint, password=PASSWORD, **kw):
    async def on_mail(raw, ref):
        inbox.append((ref.uid, raw))

    settings = EmailSettings(enabled=True, imap_port=dovecot.port, imap_user=USER, imap_password=password)
    return ImapConnector(settings, on_mail, checkpoint, push_timeout_s=kw.pop("push_timeout_s", 2),
                         backoff_cap_s=kw.pop("backoff_cap_s", 0.5), **kw)


async def until(predicate, limit_s=10.0):
    async with asyncio.timeout(limit_s):
        while not predicate():  # noqa: ASYNC110 - polling what the server delivered
            await asyncio.sleep(0.05)


async def test_waiting_mail_and_new_mail_during_idle_each_arrive_once(dovecot):
    for n in range(3):
        dovecot.deliver(letter(n))
    inbox, checkpoint = [], MemoryCheckpoint()
    imap = connector(dovecot, inbox, checkpoint)
    await imap.start()
    try:
        await until(lambda: len(inbox) == 3)
        assert imap.state == "connected"
        dovecot.deliver(letter(3))
        await until(lambda: len(inbox) == 4, limit_s=5)
        assert [uid for uid, _ in inbox] == [1, 2, 3, 4]
        assert b"<msg-3@mail.ru>" in inbox[3][1]
    finally:
        await imap.stop()
    assert next(iter(checkpoint.values.values()))["last_uid"] == 4


async def test_a_restart_neither_skips_nor_repeats(dovecot):
    inbox, checkpoint = [], MemoryCheckpoint()
    dovecot.deliver(letter(1))
    imap = connector(dovecot, inbox, checkpoint)
    await imap.start()
    await until(lambda: len(inbox) == 1)
    await imap.stop()
    dovecot.deliver(letter(2))  # arrives while the hub is down
    imap = connector(dovecot, inbox, checkpoint)
    await imap.start()
    try:
        await until(lambda: len(inbox) == 2)
        await asyncio.sleep(0.5)
        assert [uid for uid, _ in inbox] == [1, 2]
    finally:
        await imap.stop()


async def test_server_restart_mid_idle_is_survived(dovecot):
    inbox, checkpoint = [], MemoryCheckpoint()
    imap = connector(dovecot, inbox, checkpoint)
    await imap.start()
    try:
        await until(lambda: imap.state == "connected")
        dovecot.restart()
        dovecot.deliver(letter(7))
        await until(lambda: len(inbox) == 1, limit_s=15)
        assert imap.connects >= 2
    finally:
        await imap.stop()


async def test_a_wrong_password_shows_auth_failed_without_a_tight_loop(dovecot):
    imap = connector(dovecot, [], MemoryCheckpoint(), password="wrong-password", backoff_cap_s=1.0)
    await imap.start()
    try:
        await until(lambda: imap.state == "auth_failed", limit_s=10)
        await asyncio.sleep(1.5)
        assert imap.connects == 0
        log = (dovecot.root / "dovecot.log").read_text(errors="replace")
        assert log.count("auth failed") <= 5
    finally:
        await imap.stop()


async def test_a_renumbered_mailbox_is_rescanned_and_duplicates_dropped_by_the_hub(dovecot, db, bus):
    from channels.email.service import email_request
    from connectors.email.parse import parse_email
    from crm_core.intake import IntakeService

    intake = IntakeService(db.sessions, bus)
    uids = []

    async def on_mail(raw, ref):
        await intake.accept(email_request(parse_email(raw), []))
        uids.append(ref.uid)

    settings = EmailSettings(enabled=True, imap_port=dovecot.port, imap_user=USER, imap_password=PASSWORD)
    checkpoint = MemoryCheckpoint()
    for name in ("ru-cp1251-subject-body-b64.eml", "autoreply-vacation-autosubmitted.eml"):
        dovecot.deliver((CORPUS / name).read_bytes())
    imap = ImapConnector(settings, on_mail, checkpoint, push_timeout_s=2, backoff_cap_s=0.5)
    await imap.start()
    await until(lambda: len(uids) == 2)
    await imap.stop()
    dovecot.renumber()
    dovecot.deliver(letter(9))
    imap = ImapConnector(settings, on_mail, checkpoint, push_timeout_s=2, backoff_cap_s=0.5)
    await imap.start()
    try:
        await until(lambda: len(uids) == 5)  # all three read again after renumbering
    finally:
        await imap.stop()
    async with db.sessions() as s:
        assert (await s.execute(select(func.count()).select_from(Message))).scalar_one() == 3
        subjects = set((await s.execute(select(Inquiry.subject))).scalars())
    assert "Алфавит" in subjects


async def test_waiting_mail_is_taken_in_side_by_side_and_the_checkpoint_never_passes_a_failed_one(dovecot):
    """40 letters waiting, each taking 0.2 s to store (a busy hub's commit): one by one that was 8 s; side by
    side it is one read. The 7th fails once: the ones after it are stored, the checkpoint stays before it,
    and after the reconnect it is read again (the hub drops the repeats of the others by Message-ID)."""
    for n in range(1, 41):
        dovecot.deliver(letter(n))
    inbox, failed_once, most, at_once, saves = [], [], [0], [0], []

    class Recorded(MemoryCheckpoint):
        async def save(self, key, value):
            saves.append((value["last_uid"], 7 in inbox))
            await super().save(key, value)

    checkpoint = Recorded()

    async def on_mail(raw, ref):
        at_once[0] += 1
        most[0] = max(most[0], at_once[0])
        try:
            await asyncio.sleep(0.2)
            if ref.uid == 7 and not failed_once:
                failed_once.append(ref.uid)
                raise OSError("disk")
            inbox.append(ref.uid)
        finally:
            at_once[0] -= 1

    settings = EmailSettings(enabled=True, imap_port=dovecot.port, imap_user=USER, imap_password=PASSWORD)
    imap = ImapConnector(settings, on_mail, checkpoint, push_timeout_s=2, backoff_cap_s=0.2)
    began = asyncio.get_running_loop().time()
    await imap.start()
    try:
        await until(lambda: 7 in inbox and set(range(1, 41)) <= set(inbox), limit_s=15)
        took = asyncio.get_running_loop().time() - began
    finally:
        await imap.stop()
    assert 1 < most[0] <= imap.parallel
    assert took < 5, took
    assert inbox.count(7) == 1 and all(inbox.count(n) >= 1 for n in range(1, 41))
    assert inbox.index(7) > inbox.index(8)  # 8 was taken before 7, whose first try failed
    assert next(iter(checkpoint.values.values()))["last_uid"] == 40
    assert all(uid < 7 for uid, seven_taken in saves if not seven_taken), saves
    assert (6, False) in saves  # the point before the failure was kept
