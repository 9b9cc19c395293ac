"""What a client's Telegram message means for the CRM, and what the bot answers."""

from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.telegram.connector import Reply
from connectors.telegram.events import TelegramInbound
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
    utcnow,
)
from crm_core.phones import try_normalize_phone

log = logging.getLogger("hub.telegram")
GREETING = ("Здравствуйте! Напишите, что вы ищете или продаёте, — агент ответит здесь же. "
            "Поделитесь номером телефона, чтобы мы узнали вас. /status — ваши обращения.")
STATUS_RU = {"new": "новое", "offered": "передано агенту", "in_work": "в работе", "done": "закрыто",
             "archived": "в архиве"}


class TelegramService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], intake: IntakeService, region: str = "RU") -> None:
        self._sessions = sessions
        self._intake = intake
        self._region = region

    async def handle(self, event: TelegramInbound) -> list[Reply]:
        handler = {"start": self._start, "contact": self._contact, "text": self._message, "media": self._message,
                   "status": self._status, "edited": self._edited, "blocked": self._membership,
                   "unblocked": self._membership}.get(event.kind)
        if handler is None:
            return []
        return await handler(event)

    async def _start(self, event: TelegramInbound) -> list[Reply]:
        return [Reply(event.chat_id, GREETING, ask_contact=True)]

    async def _message(self, event: TelegramInbound) -> list[Reply]:
        thread = f"tg:{event.chat_id}"
        result = await self._intake.accept(IntakeRequest(
            channel=Channel.TELEGRAM, external_id=f"{event.chat_id}:{event.message_id}", name=event.name,
            telegram_id=str(event.user_id or event.chat_id), text=event.text, thread_key=thread, reply_to=(thread,),
            source="telegram", meta={"chat_id": event.chat_id, "files": list(event.files)},
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
        tg = str(event.user_id or event.chat_id)
        async with self._sessions() as s:
            rows = (await s.execute(
                select(Inquiry.id, Inquiry.status, Inquiry.subject)
                .join(Contact, (Contact.client_id == Inquiry.client_id) & (Contact.kind == ContactKind.TELEGRAM))
                .where(Contact.value == tg, Inquiry.status.in_(OPEN_STATUSES)).order_by(Inquiry.id)
            )).all()
        if not rows:
            return [Reply(event.chat_id, "Открытых обращений нет. Напишите, чем помочь.")]
        lines = [f"№{r.id}: {STATUS_RU.get(r.status, r.status)}" for r in rows]
        return [Reply(event.chat_id, "Ваши обращения:\n" + "\n".join(lines))]

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
                               note=f"было / was: {message.body[:500]}"))
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


async def _contact(s: AsyncSession, kind: ContactKind, value: str) -> Contact | None:
    return (await s.execute(select(Contact).where(Contact.kind == kind, Contact.value == value))).scalar()
