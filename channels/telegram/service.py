"""What a client's Telegram message means for the CRM, and what the bot answers."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.telegram.events import Reply, TelegramInbound
from crm_core.intake import OPEN_STATUSES, IntakeRequest, IntakeService
from crm_core.models import (
    Channel,
    Client,
    Contact,
    ContactKind,
    Inquiry,
    InquiryEvent,
    Message,
    TimelineEntry,
    User,
    utcnow,
)
from crm_core.models.agency import Deal, DealStep
from crm_core.models.notifications import TelegramLinkCode
from crm_core.models.work import Property
from crm_core.phones import try_normalize_phone

log = logging.getLogger("hub.telegram")
GREETING = ("Здравствуйте! Напишите, что вы ищете или продаёте, — агент ответит здесь же. "
            "Поделитесь номером телефона, чтобы мы узнали вас. /status — ваши обращения, "
            "/cabinet — ссылка в личный кабинет.")
CABINET_OFF = "Личный кабинет сейчас недоступен. /status — ваши обращения."
CABINET_WHO = "Чтобы открыть личный кабинет, поделитесь номером телефона: так мы узнаем вас."
CABINET_TOO_MANY = "Ссылок за последний час было уже много. Попробуйте позже или воспользуйтесь прежней."
STATUS_RU = {"new": "новое", "offered": "передано агенту", "in_work": "в работе", "done": "закрыто",
             "archived": "в архиве"}
LINK_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a screen and typed
LINK_CODE_LEN = 8
CONSENT_COMMANDS = {"/agree": True, "/stop": False}  # the bot menu's buttons: marketing consent (privacy/)
CONSENT_YES = "Спасибо! Будем присылать вам новости и поздравления. /stop — отписаться."
CONSENT_NO = "Вы отписались: рекламных сообщений и поздравлений больше не будет. /agree — подписаться снова."
CONSENT_WHO = "Чтобы мы записали ваш выбор, поделитесь номером телефона: так мы узнаем вас."
STAFF_CHAT = ("Это чат уведомлений сотрудника: сюда приходят ваши уведомления из хаба. "
              "/unlink — отвязать этот чат.")


def link_code_hash(code: str) -> str:
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


async def issue_link_code(sessions: async_sessionmaker[AsyncSession], user_id: int, ttl: timedelta,
                          now: datetime | None = None) -> str:
    """A one-time code for ``/link CODE`` (only its hash is stored; an older code of the user is dropped)."""
    now = now or utcnow()
    code = "".join(secrets.choice(LINK_ALPHABET) for _ in range(LINK_CODE_LEN))
    async with sessions() as s, s.begin():
        await s.execute(delete(TelegramLinkCode).where(
            (TelegramLinkCode.user_id == user_id) | (TelegramLinkCode.expires_at <= now)))
        s.add(TelegramLinkCode(code_hash=link_code_hash(code), user_id=user_id, expires_at=now + ttl))
    return code


class TelegramService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], intake: IntakeService, region: str = "RU",
                 clock=utcnow, time_zone: str = "Europe/Moscow") -> None:  # noqa: ANN001 - () -> aware datetime
        self._zone = ZoneInfo(time_zone)
        self._sessions = sessions
        self._intake = intake
        self._region = region
        self._clock = clock
        self.consent: Callable[[str, bool], Awaitable[bool]] | None = None
        """Set by the hub (privacy/): record the client's marketing consent from the bot's button, by the chat's
        Telegram id; False when the chat is tied to no client."""
        self.cabinet_link: Callable[[int], Awaitable[str | None]] | None = None
        """Set by the hub: the text with a one-time sign-in link to the client's personal page for this chat
        (None: the chat is tied to no client); may raise ValueError with reason "too_many"."""

    async def handle(self, event: TelegramInbound) -> list[Reply]:
        handler = {"start": self._start, "contact": self._contact, "text": self._message, "media": self._message,
                   "status": self._status, "edited": self._edited, "blocked": self._membership,
                   "unblocked": self._membership}.get(event.kind)
        if handler is None:
            return []
        return await handler(event)

    async def _cabinet(self, event: TelegramInbound) -> list[Reply]:
        """The client's personal page: a one-time sign-in link, sent only to the chat tied to that client."""
        if self.cabinet_link is None:
            return [Reply(event.chat_id, CABINET_OFF)]
        try:
            text = await self.cabinet_link(event.chat_id)
        except ValueError as exc:
            if getattr(exc, "reason", "") == "too_many":
                return [Reply(event.chat_id, CABINET_TOO_MANY)]
            raise
        if text is None:
            return [Reply(event.chat_id, CABINET_WHO, ask_contact=True)]
        return [Reply(event.chat_id, text)]

    async def _start(self, event: TelegramInbound) -> list[Reply]:
        return [Reply(event.chat_id, GREETING, ask_contact=True)]

    async def _message(self, event: TelegramInbound) -> list[Reply]:
        words = event.text.strip().split()
        command = words[0].split("@")[0].lower() if words and words[0].startswith("/") else ""
        if command == "/link":
            return await self._link(event, words[1] if len(words) > 1 else "")
        if command == "/unlink":
            return await self._unlink(event)
        if command == "/cabinet":
            return await self._cabinet(event)
        if command in CONSENT_COMMANDS and self.consent is not None:
            granted = CONSENT_COMMANDS[command]
            if not await self.consent(str(event.user_id or event.chat_id), granted):
                return [Reply(event.chat_id, CONSENT_WHO, ask_contact=True)]
            return [Reply(event.chat_id, CONSENT_YES if granted else CONSENT_NO)]
        if await self._staff_user(event.chat_id) is not None:
            return [Reply(event.chat_id, STAFF_CHAT)]  # an agent's own chat is not a client's inquiry
        thread = f"tg:{event.chat_id}"
        result = await self._intake.accept(IntakeRequest(
            channel=Channel.TELEGRAM, external_id=f"{event.chat_id}:{event.message_id}", name=event.name,
            telegram_id=str(event.user_id or event.chat_id), text=event.text, thread_key=thread, reply_to=(thread,),
            source="telegram", meta={"chat_id": event.chat_id, "files": list(event.files),
                                     "attachments": [{"filename": Path(path).name, "kept": True, "path": path}
                                                     for path in event.saved],
                                     **({"notes": list(event.notes)} if event.notes else {})},
            notes=event.notes,  # on the inquiry's history too (a text cut to Telegram's limit, a file not kept)
        ))
        if result.new_inquiry and not result.duplicate:
            return [Reply(event.chat_id, f"Спасибо! Ваше обращение №{result.inquiry_id} принято, агент скоро ответит.")]
        return []

    async def _contact(self, event: TelegramInbound) -> list[Reply]:
        phone = try_normalize_phone(event.phone, self._region)
        if phone is None:
            return [Reply(event.chat_id, "Не удалось распознать номер. Напишите его сообщением, пожалуйста.")]
        tg = str(event.user_id or event.chat_id)
        async with self._sessions() as s, s.begin():
            by_phone = await _contact(s, ContactKind.PHONE, phone)
            by_tg = await _contact(s, ContactKind.TELEGRAM, tg)
            if by_phone is not None:
                client_id = by_phone.client_id
                if by_tg is None:
                    s.add(Contact(client_id=client_id, kind=ContactKind.TELEGRAM, value=tg))
                elif by_tg.client_id != client_id:  # the phone proves who this is: the chat moves to that client
                    by_tg.client_id = client_id
            elif by_tg is not None:
                client_id = by_tg.client_id
                s.add(Contact(client_id=client_id, kind=ContactKind.PHONE, value=phone))
            else:
                client = Client(name=event.name)
                s.add(client)
                await s.flush()
                client_id = client.id
                s.add_all([Contact(client_id=client_id, kind=ContactKind.PHONE, value=phone),
                           Contact(client_id=client_id, kind=ContactKind.TELEGRAM, value=tg)])
            s.add(TimelineEntry(client_id=client_id, at=utcnow(), kind="telegram_linked", channel=Channel.TELEGRAM,
                                summary=phone))
        log.info("telegram chat=%s linked to client=%s by phone", event.chat_id, client_id)
        return [Reply(event.chat_id, "Спасибо, мы вас узнали. Напишите ваш вопрос.")]

    async def _status(self, event: TelegramInbound) -> list[Reply]:
        """The client's open inquiries (with their agent and how to reach them) and planned viewings."""
        tg = str(event.user_id or event.chat_id)
        now = self._clock()
        async with self._sessions() as s:
            client_id = (await s.execute(select(Contact.client_id).where(
                Contact.kind == ContactKind.TELEGRAM, Contact.value == tg))).scalar()
            if client_id is None:
                return [Reply(event.chat_id, "Открытых обращений нет. Напишите, чем помочь.")]
            rows = (await s.execute(
                select(Inquiry.id, Inquiry.status, Inquiry.subject, User.full_name, User.email)
                .outerjoin(User, User.id == Inquiry.owner_id)
                .where(Inquiry.client_id == client_id, Inquiry.status.in_(OPEN_STATUSES)).order_by(Inquiry.id)
            )).all()
            viewings = (await s.execute(
                select(DealStep.at, Property.address, User.full_name, User.email)
                .join(Deal, Deal.id == DealStep.deal_id)
                .outerjoin(Property, Property.id == DealStep.property_id)
                .outerjoin(User, User.id == DealStep.agent_id)
                .where(Deal.client_id == client_id, DealStep.kind == "viewing", DealStep.status == "planned",
                       DealStep.at >= now).order_by(DealStep.at).limit(10)
            )).all()
        parts = []
        if rows:
            lines = [f"№{r.id}: {STATUS_RU.get(r.status, r.status)}" + (f", {r.subject}" if r.subject else "")
                     + _agent(r.full_name, r.email) for r in rows]
            parts.append("Ваши обращения:\n" + "\n".join(lines))
        if viewings:
            lines = [f"{v.at.astimezone(self._zone):%d.%m.%Y %H:%M}" + (f", {v.address}" if v.address else "")
                     + _agent(v.full_name, v.email) for v in viewings]
            parts.append("Запланированные просмотры:\n" + "\n".join(lines))
        if not parts:
            return [Reply(event.chat_id, "Открытых обращений нет. Напишите, чем помочь.")]
        return [Reply(event.chat_id, "\n\n".join(parts))]

    async def _staff_user(self, chat_id: int) -> int | None:
        async with self._sessions() as s:
            return (await s.execute(select(User.id).where(User.telegram_chat_id == str(chat_id)))).scalar()

    async def _link(self, event: TelegramInbound, code: str) -> list[Reply]:
        """An agent links this chat for their notices with the one-time code from their settings page."""
        now = self._clock()
        async with self._sessions() as s, s.begin():
            row = await s.get(TelegramLinkCode, link_code_hash(code)) if code else None
            if row is None or row.expires_at <= now:
                return [Reply(event.chat_id, "Код не подошёл или устарел. Получите новый на странице "
                                             "«Уведомления» в хабе.")]
            await s.delete(row)
            await s.execute(update(User).where(User.telegram_chat_id == str(event.chat_id))
                            .values(telegram_chat_id=None).execution_options(synchronize_session=False))
            user = await s.get(User, row.user_id)
            assert user is not None
            user.telegram_chat_id = str(event.chat_id)
            name = user.full_name
        log.info("telegram chat=%s linked to user=%s for notices", event.chat_id, row.user_id)
        return [Reply(event.chat_id, f"Готово, {name}: уведомления хаба будут приходить сюда. /unlink — отвязать.")]

    async def _unlink(self, event: TelegramInbound) -> list[Reply]:
        async with self._sessions() as s, s.begin():
            done = await s.execute(update(User).where(User.telegram_chat_id == str(event.chat_id))
                                   .values(telegram_chat_id=None).execution_options(synchronize_session=False))
        if done.rowcount:
            log.info("telegram chat=%s unlinked from notices", event.chat_id)
            return [Reply(event.chat_id, "Чат отвязан: уведомления сюда больше не придут.")]
        return [Reply(event.chat_id, "Этот чат не привязан к сотруднику.")]

    async def _edited(self, event: TelegramInbound) -> list[Reply]:
        external_id = f"{event.chat_id}:{event.message_id}"
        async with self._sessions() as s, s.begin():
            message = (await s.execute(select(Message).where(Message.channel == Channel.TELEGRAM,
                                                             Message.external_id == external_id))).scalar()
            if message is None:
                return []
            await s.execute(update(Message).where(Message.id == message.id).values(body=event.text)
                            .execution_options(synchronize_session=False))
            s.add(InquiryEvent(inquiry_id=message.inquiry_id, at=utcnow(), kind="message_edited",
                               note="; ".join([f"было / was: {message.body[:500]}", *event.notes])))
        return []

    async def _membership(self, event: TelegramInbound) -> list[Reply]:
        tg = str(event.user_id or event.chat_id)
        async with self._sessions() as s, s.begin():
            contact = await _contact(s, ContactKind.TELEGRAM, tg)
            if contact is not None:
                contact.label = "blocked" if event.kind == "blocked" else None
                s.add(TimelineEntry(client_id=contact.client_id, at=utcnow(), kind=f"telegram_{event.kind}",
                                    channel=Channel.TELEGRAM))
        log.info("telegram chat=%s %s the bot", event.chat_id, event.kind)
        return []


def _agent(name: str | None, email: str | None) -> str:
    if not name:
        return ""
    return f" — агент {name}" + (f", {email}" if email else "")


async def _contact(s: AsyncSession, kind: ContactKind, value: str) -> Contact | None:
    return (await s.execute(select(Contact).where(Contact.kind == kind, Contact.value == value))).scalar()
