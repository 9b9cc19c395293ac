"""The outside world of ``bench.day``: the fake PBX's calls, the websites' forms, the mail delivered into a
real Dovecot's mailbox, and Telegram's webhook posts — each at its own steady rate, open loop (a slow hub
does not slow the world down), each outside id kept with the time it left.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import aiohttp

from bench.day_world import extension_of, phone_of
from connectors.asterisk.fake_pbx import FakePbx, shift_ids
from connectors.asterisk.traces import read_trace

CHATS = 5_000  # Telegram clients writing in
ATTEMPTS = 8  # posts of one form or update before it counts as lost
FORM_SITE = "bench"


@dataclass
class Sent:
    """What left for the hub, by outside id: the time it left (monotonic), and what the hub answered."""

    calls: dict[str, float] = field(default_factory=dict)  # Linkedid → AgentCalled written
    forms: dict[str, float] = field(default_factory=dict)  # the form's external id → posted
    form_ms: list[float] = field(default_factory=list)  # post → 2xx answer
    form_failed: dict[str, int] = field(default_factory=dict)  # not 2xx after the retries: status
    form_retries: dict[int, int] = field(default_factory=dict)  # answers that made the site post again, by status
    mails: dict[str, float] = field(default_factory=dict)  # Message-ID → delivered into the mailbox
    updates: dict[str, float] = field(default_factory=dict)  # "chat:message_id" → posted
    update_failed: dict[str, int] = field(default_factory=dict)


async def paced(rate: float, seconds: float, one) -> None:  # noqa: ANN001 - async (n) -> None
    """Start ``one(n)`` at n / rate seconds, for ``seconds``; wait for them all."""
    tasks = []
    began = time.monotonic()
    for n in range(int(rate * seconds)):
        delay = n / rate - (time.monotonic() - began)
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n)))
    await asyncio.gather(*tasks)


# --- calls ---------------------------------------------------------------------------------------------
def call_template() -> list[tuple[float, bytes]]:
    """answered.txt's events with times from its first one: a call queued, an agent called, answered, hung up."""
    frames = [(t, data) for t, d, data in read_trace("answered.txt") if d == "<<<" and data.startswith(b"Event:")]
    return [(t - frames[0][0], data) for t, data in frames]


def call_frames(template: list[tuple[float, bytes]], n: int, run: int, extension: str,
                client: int) -> list[tuple[float, bytes]]:
    """The template as call ``n``: its own ids, the agent's extension, the client's number and name."""
    phone, name = phone_of(client).encode(), f"Клиент {client}".encode()
    out = []
    for t, data in template:
        data = data.replace(b"Local/101@agents", f"Local/{extension}@agents".encode())
        data = data.replace(b"+79161234567", phone).replace("Иван Петров".encode(), name)
        out.append((t, shift_ids(data, run * 10_000_000 + n * 10)))
    return out


async def calls(pbx: FakePbx, rate: float, seconds: float, agents: int, clients: int, sent: Sent,
                run: int, seed: int = 7) -> None:
    template = call_template()
    rnd = random.Random(seed)

    async def one(n: int) -> None:
        frames = call_frames(template, n, run, extension_of(rnd.randrange(agents)), rnd.randint(1, clients))
        began = time.monotonic()
        for t, data in frames:
            delay = t - (time.monotonic() - began)
            if delay > 0:
                await asyncio.sleep(delay)
            if data.startswith(b"Event: AgentCalled\r\n"):
                linkedid = data.split(b"\r\nLinkedid: ", 1)[1].split(b"\r\n", 1)[0].decode()
                sent.calls[linkedid] = time.monotonic()
            pbx.broadcast(data)

    await paced(rate, seconds, one)


# --- web forms -----------------------------------------------------------------------------------------
async def forms(http: aiohttp.ClientSession, base: str, rate: float, seconds: float, clients: int, sent: Sent,
                run: int) -> None:
    rnd = random.Random(11)

    async def one(n: int) -> None:
        key = f"day-{run}-{n:06d}"
        client = rnd.randint(1, clients)
        body = {"name": f"Клиент {client}", "phone": phone_of(client), "idempotency_key": key,
                "message": "Хочу посмотреть двухкомнатную квартиру у метро", "utm_source": "yandex"}
        external = f"{FORM_SITE}:{key}"
        began = sent.forms[external] = time.monotonic()
        status = 0
        for _ in range(ATTEMPTS):  # a site posts again after a 503, when Retry-After says
            wait = 1.0
            try:
                async with http.post(f"{base}/forms/{FORM_SITE}", json=body) as resp:
                    status = resp.status
                    wait = float(resp.headers.get("Retry-After", "1"))
                    await resp.read()
            except (aiohttp.ClientError, TimeoutError):  # no answer in time: posted again
                status = -1
            if 200 <= status < 300:
                sent.form_ms.append((time.monotonic() - began) * 1000)
                return
            if 400 <= status < 500 and status != 429:  # refused for good: posting it again would not help
                break
            sent.form_retries[status] = sent.form_retries.get(status, 0) + 1
            await asyncio.sleep(wait)
        sent.form_failed[external] = status

    await paced(rate, seconds, one)


# --- mail, through a real Dovecot ----------------------------------------------------------------------
class Mailbox:
    """A Dovecot on a loopback port with one mailbox (the tests' configuration, tests/connectors/conftest.py);
    ``deliver`` puts a message in as a delivery agent does (Maildir tmp/ → new/)."""

    def __init__(self) -> None:
        from tests.connectors.conftest import CONFIG, PASSWORD, USER, Dovecot, free_port

        self.user, self.password = USER, PASSWORD
        self.root = Path(tempfile.mkdtemp(prefix="bench-day-dovecot-"))
        self.root.chmod(0o755)
        for sub in ("run", "state", "mail", f"mail/{USER}", f"mail/{USER}/new", f"mail/{USER}/tmp",
                    f"mail/{USER}/cur"):
            (self.root / sub).mkdir(exist_ok=True)
        for sub in ("mail", f"mail/{USER}", f"mail/{USER}/new", f"mail/{USER}/tmp", f"mail/{USER}/cur"):
            shutil.chown(self.root / sub, "dovecot", "dovecot")
        port = free_port()
        (self.root / "dovecot.conf").write_text(CONFIG.format(root=self.root, port=port), encoding="utf-8")
        (self.root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n", encoding="utf-8")
        self.server = Dovecot(self.root, port)
        self.port = port
        self._n = 0

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def deliver(self, raw: bytes) -> None:
        self._n += 1
        name = f"{time.time_ns()}.M{self._n}.bench"
        box = self.root / "mail" / self.user
        tmp = box / "tmp" / name
        tmp.write_bytes(raw)
        os.chown(tmp, *_dovecot_ids())
        tmp.rename(box / "new" / name)


def _dovecot_ids() -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam("dovecot")
    return entry.pw_uid, entry.pw_gid


def mail_of(n: int, run: int, client: int) -> tuple[str, bytes]:
    msg = EmailMessage()
    message_id = f"<day-{run}-{n}@bench.example>"
    msg["Message-ID"] = message_id
    msg["From"] = f"Клиент {client} <client{client}@mail.example>"
    msg["To"] = "hub@test"
    msg["Subject"] = f"Квартира на Профсоюзной, запрос {n}"
    msg["Date"] = "Mon, 07 Dec 2026 12:00:00 +0300"
    msg.set_content(f"Здравствуйте! Интересует двухкомнатная квартира. Мой телефон {phone_of(client)}.\n")
    return message_id, msg.as_bytes()


async def mails(box: Mailbox, rate: float, seconds: float, clients: int, sent: Sent, run: int) -> None:
    rnd = random.Random(13)

    async def one(n: int) -> None:
        message_id, raw = mail_of(n, run, rnd.randint(1, clients))
        box.deliver(raw)
        sent.mails[message_id] = time.monotonic()

    await paced(rate, seconds, one)


# --- Telegram, through the webhook ---------------------------------------------------------------------
async def updates(http: aiohttp.ClientSession, base: str, secret: str, rate: float, seconds: float, sent: Sent,
                  run: int) -> None:
    rnd = random.Random(17)

    async def one(n: int) -> None:
        chat = 700_000_000 + run % 1000 * 10_000 + rnd.randrange(CHATS)
        message_id = run % 100_000 * 100_000 + n
        update = {"update_id": run % 100_000 * 100_000 + n, "message": {
            "message_id": message_id, "date": int(time.time()), "text": "Добрый день, ищу квартиру в аренду",
            "chat": {"id": chat, "type": "private"},
            "from": {"id": chat, "is_bot": False, "first_name": "Ирина", "last_name": f"Клиент {chat}"}}}
        external = f"{chat}:{message_id}"
        sent.updates[external] = time.monotonic()
        status = 0
        for attempt in range(ATTEMPTS):  # Telegram posts an update again until it is answered 200
            try:
                async with http.post(f"{base}/telegram/webhook", json=update,
                                     headers={"X-Telegram-Bot-Api-Secret-Token": secret}) as resp:
                    status = resp.status
                    await resp.read()
            except (aiohttp.ClientError, TimeoutError):  # no answer in time: posted again
                status = -1
            if status == 200:
                return
            await asyncio.sleep(0.5 * (attempt + 1))
        sent.update_failed[external] = status

    await paced(rate, seconds, one)
