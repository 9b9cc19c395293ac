"""The bot: an agent links their own chat with a one-time code; a client's /status shows their open
inquiries with the agent's name and contact, and their planned viewings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bus.bus import EventBus
from channels.telegram.service import TelegramService, issue_link_code
from connectors.telegram.events import TelegramInbound
from crm_core.intake import IntakeService
from crm_core.models import Channel, Inquiry, Property, User
from crm_core.models.agency import Deal, DealStep
from tests.notifications.helpers import Clock, seed

NOW = datetime(2025, 6, 4, 7, 0, tzinfo=UTC)


def text(chat: int, body: str, n: int = 1) -> TelegramInbound:
    return TelegramInbound(update_id=n, kind="status" if body == "/status" else "text", chat_id=chat, user_id=chat,
                           name="Кто-то", message_id=n, text=body)


def bot(db, clock: Clock) -> TelegramService:  # noqa: ANN001
    return TelegramService(db.sessions, IntakeService(db.sessions, EventBus()), clock=clock)


async def chat_of(sessions, user_id: int) -> str | None:  # noqa: ANN001
    async with sessions() as s:
        return (await s.get(User, user_id)).telegram_chat_id


async def inquiries(sessions) -> int:  # noqa: ANN001
    async with sessions() as s:
        return (await s.execute(select(func.count()).select_from(Inquiry))).scalar_one()


async def test_an_agent_links_their_chat_with_a_one_time_code(db):
    people = await seed(db.sessions)
    clock = Clock(NOW)
    service = bot(db, clock)
    code = await issue_link_code(db.sessions, people.oleg, timedelta(minutes=15), now=NOW)

    wrong = await service.handle(text(9001, "/link AAAA2222"))
    assert "не подошёл" in wrong[0].text and await chat_of(db.sessions, people.oleg) is None
    done = await service.handle(text(9001, f"/link {code.lower()}", 2))
    assert "Oleg" in done[0].text and await chat_of(db.sessions, people.oleg) == "9001"
    again = await service.handle(text(9002, f"/link {code}", 3))
    assert "не подошёл" in again[0].text, "the code works once"

    staff = await service.handle(text(9001, "Привет, это я", 4))
    assert "уведомлений сотрудника" in staff[0].text and await inquiries(db.sessions) == 0, \
        "an agent's own chat does not open client inquiries"

    late = await issue_link_code(db.sessions, people.boss, timedelta(minutes=15), now=NOW)
    clock.now = NOW + timedelta(minutes=16)
    expired = await service.handle(text(9003, f"/link {late}", 5))
    assert "устарел" in expired[0].text and await chat_of(db.sessions, people.boss) == "5003"

    gone = await service.handle(text(9001, "/unlink", 6))
    assert "отвязан" in gone[0].text and await chat_of(db.sessions, people.oleg) is None


async def test_status_shows_open_inquiries_the_agent_and_planned_viewings(db):
    people = await seed(db.sessions)  # client Иван: Telegram 777, owner Anna (anna@agency.ru)
    async with db.sessions() as s, s.begin():
        inquiry = Inquiry(client_id=people.client, channel=Channel.TELEGRAM, external_id="777:1",
                          subject="Ищу двушку", owner_id=people.anna, status="in_work")
        s.add(inquiry)
        flat = Property(address="ул. Ленина, 5, кв. 12")
        s.add(flat)
        await s.flush()
        deal = Deal(inquiry_id=inquiry.id, client_id=people.client, agent_id=people.anna)
        s.add(deal)
        await s.flush()
        s.add_all([
            DealStep(deal_id=deal.id, kind="viewing", status="planned", at=NOW + timedelta(days=1, hours=8),
                     agent_id=people.anna, property_id=flat.id),
            DealStep(deal_id=deal.id, kind="viewing", status="done", at=NOW - timedelta(days=2),
                     agent_id=people.anna, property_id=flat.id),
        ])
    replies = await bot(db, Clock(NOW)).handle(text(777, "/status"))
    body = replies[0].text
    assert "Ищу двушку" in body and "в работе" in body and "агент Anna, anna@agency.ru" in body
    assert "Запланированные просмотры:" in body and "05.06.2025 18:00, ул. Ленина, 5, кв. 12" in body
    assert body.count("ул. Ленина") == 1, "a past viewing is not listed"

    stranger = await bot(db, Clock(NOW)).handle(text(4242, "/status"))
    assert stranger[0].text.startswith("Открытых обращений нет")
