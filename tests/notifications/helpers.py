"""A small agency, a clock the test moves, and senders that record what would leave."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from bus.events import Push
from connectors.email.errors import PermanentSendError, TemporarySendError
from crm_core.models import Client, Contact, ContactKind, Department, Role, User
from notifications.notifier import Notifier
from routing.calendar import WorkCalendar


@dataclass
class Clock:
    now: datetime = datetime(2025, 6, 4, 7, 0, tzinfo=UTC)  # Wednesday 10:00 in Moscow

    def __call__(self) -> datetime:
        return self.now


@dataclass
class FakeSender:
    """Records deliveries; ``fail`` holds exceptions to raise on the next attempts."""

    sent: list[tuple[str, str, str]] = field(default_factory=list)
    fail: list[Exception] = field(default_factory=list)

    async def deliver(self, to: str, subject: str, text: str) -> None:
        if self.fail:
            raise self.fail.pop(0)
        self.sent.append((to, subject, text))


@dataclass
class Pushes:
    frames: list[Push] = field(default_factory=list)

    async def __call__(self, push: Push) -> None:
        self.frames.append(push)


@dataclass
class Seeded:
    dept: int
    anna: int  # agent, Telegram linked, has email
    oleg: int  # agent, no Telegram, no email
    boss: int  # department head
    client: int  # anna's client, reachable by Telegram and email


async def seed(sessions) -> Seeded:  # noqa: ANN001
    async with sessions() as s, s.begin():
        dept = Department(name="Продажи")
        s.add(dept)
        await s.flush()
        people = {}
        for login, role, chat, email in (("anna", Role.AGENT, "5001", "anna@agency.ru"),
                                         ("oleg", Role.AGENT, None, None),
                                         ("boss", Role.DEPT_HEAD, "5003", "boss@agency.ru")):
            u = User(login=login, full_name=login.title(), password_hash="x", role=role, department_id=dept.id,
                     telegram_chat_id=chat, email=email)
            s.add(u)
            await s.flush()
            people[login] = u.id
        client = Client(name="Иван Петров", owner_id=people["anna"], department_id=dept.id)
        s.add(client)
        await s.flush()
        s.add_all([Contact(client_id=client.id, kind=ContactKind.TELEGRAM, value="777"),
                   Contact(client_id=client.id, kind=ContactKind.EMAIL, value="ivan@example.ru")])
    return Seeded(dept.id, people["anna"], people["oleg"], people["boss"], client.id)


def notifier(sessions, clock: Clock, pushes: Pushes, telegram: FakeSender, email: FakeSender,  # noqa: ANN001
             work: WorkCalendar | None = None) -> Notifier:
    return Notifier(sessions, pushes, senders={"telegram": telegram, "email": email}, retry_delays=(60, 300),
                    clock=clock, work=work)


__all__ = ["Clock", "FakeSender", "PermanentSendError", "Pushes", "Seeded", "TemporarySendError", "notifier", "seed"]
