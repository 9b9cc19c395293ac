"""SMS to clients about their own affairs, through the SMS outbox (``channels.sms.service.queue_sms``: the
client's opt-out and the day's cap are checked there): a reminder before a planned viewing (a deal's planned
«просмотр» step) and «we will call you back» when a missed call became a callback task. They are service
messages, not marketing: privacy's ``marketing_needs_consent`` does not hold them back (docs/privacy.md).

Like the other notices, what is due is computed from the stored rows at every pass. Each SMS is claimed once
by its key in ``notice_deliveries`` (channel ``sms``; source ``sms:viewing:<step>:<time>``, so a viewing moved
to another time is reminded again, or ``sms:callback:<task>``): a second pass or a second instance sends
nothing twice. The claim keeps what became of it: ``sent`` (handed to the SMS outbox; ``note`` names the
message, whose delivery and cost SMS.ru reports) or ``failed`` with the reason (opted out, the day's cap)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.sms.service import SmsRefused, queue_sms
from crm_core.models import Contact, ContactKind, Property, Task, utcnow
from crm_core.models.agency import Deal, DealStep
from crm_core.models.notifications import NoticeDelivery
from notifications.notifier import insert_ignoring_duplicates

log = logging.getLogger("hub.notifications.sms")
CALLBACK_FRESH = timedelta(hours=12)  # an older callback gets no «we will call you back» (switched on later…)
SOON = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class SmsRules:
    """What the pass may send now (None from the rules' getter: SMS is not configured)."""

    agency: str
    zone: ZoneInfo
    daily_cap: int
    max_text: int = 670
    viewings: bool = True
    lead: timedelta = timedelta(hours=24)
    callbacks: bool = True
    day_start: int = 9
    day_end: int = 21


@dataclass(frozen=True, slots=True)
class Due:
    key: str
    inquiry_id: int
    kind: str  # reminder | callback
    text: str


def viewing_text(agency: str, at: datetime, address: str | None) -> str:
    where = f", {address[:120]}" if address else ""
    return f"{agency}: напоминаем о просмотре {at:%d.%m} в {at:%H:%M}{where}."


def callback_text(agency: str, due: datetime, now: datetime) -> str:
    when = "в ближайшее время" if due <= now + SOON else f"{due:%d.%m} в {due:%H:%M}"
    return f"{agency}: вы нам звонили — перезвоним вам {when}."


def _has_phone(client_id):  # noqa: ANN001, ANN202 - a column
    return exists(select(Contact.id).where(Contact.client_id == client_id, Contact.kind == ContactKind.PHONE))


class ClientSms:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], rules: Callable[[], SmsRules | None],
                 wake: Callable[[], None], clock: Callable[[], datetime] = utcnow) -> None:
        self.sessions = sessions
        self.rules = rules
        self.wake = wake
        self.clock = clock
        self.sent = 0
        self.refused = 0

    async def run_once(self) -> int:
        """One pass: how many SMS were handed to the outbox."""
        rules = self.rules()
        now = self.clock()
        if rules is None or not rules.day_start <= now.astimezone(rules.zone).hour < rules.day_end:
            return 0  # SMS is off, or it is night for the clients
        sent = 0
        for due in await self._due(rules, now):
            sent += await self._send(rules, due, now)
        if sent:
            self.wake()
        self.sent += sent
        return sent

    async def _due(self, rules: SmsRules, now: datetime) -> list[Due]:
        found: list[Due] = []
        async with self.sessions() as s:
            if rules.viewings:
                rows = (await s.execute(
                    select(DealStep.id, DealStep.at, Deal.inquiry_id, Property.address)
                    .join(Deal, Deal.id == DealStep.deal_id).outerjoin(Property, Property.id == DealStep.property_id)
                    .where(DealStep.kind == "viewing", DealStep.status == "planned", DealStep.at > now,
                           DealStep.at <= now + rules.lead, _has_phone(Deal.client_id))
                    .order_by(DealStep.at).limit(200))).all()
                found += [Due(f"sms:viewing:{step}:{at:%Y%m%dT%H%M}", inquiry, "reminder",
                              viewing_text(rules.agency, at.astimezone(rules.zone), address))
                          for step, at, inquiry, address in rows]
            if rules.callbacks:
                tasks = (await s.execute(
                    select(Task.id, Task.inquiry_id, Task.due_at).where(
                        Task.kind == "callback", Task.status == "open", Task.attempts == 0,
                        Task.inquiry_id.is_not(None), Task.created_at >= now - CALLBACK_FRESH,
                        _has_phone(Task.client_id))
                    .order_by(Task.id).limit(200))).all()
                found += [Due(f"sms:callback:{task}", inquiry, "callback",
                              callback_text(rules.agency, max(due or now, now).astimezone(rules.zone),
                                            now.astimezone(rules.zone)))
                          for task, inquiry, due in tasks if inquiry is not None]
        return found

    async def _send(self, rules: SmsRules, due: Due, now: datetime) -> int:
        table = NoticeDelivery.__table__
        async with self.sessions() as s, s.begin():
            claim = (await s.execute(insert_ignoring_duplicates(s, table, ["source", "channel"]).values(
                source=due.key, channel="sms", to="", subject=due.kind, text=due.text, status="sending",
                attempts=1, created_at=now).returning(table.c.id))).scalar()
        if claim is None:
            return 0  # told already (this pass, an earlier one, or another instance)
        try:
            message_id = await queue_sms(self.sessions, due.inquiry_id, due.text, kind=due.kind,
                                         daily_cap=rules.daily_cap, max_text=rules.max_text)
        except SmsRefused as exc:
            self.refused += 1
            log.info("client sms %s not sent: %s", due.key, exc)
            values: dict = {"status": "failed", "note": str(exc)[:1000]}
        except Exception:
            async with self.sessions() as s, s.begin():  # not sent: the next pass tries again
                await s.execute(delete(NoticeDelivery).where(NoticeDelivery.id == claim))
            raise
        else:
            values = {"status": "sent", "sent_at": now, "note": f"message:{message_id}"}
        async with self.sessions() as s, s.begin():
            await s.execute(update(NoticeDelivery).where(NoticeDelivery.id == claim).values(**values)
                            .execution_options(synchronize_session=False))
        return 1 if values["status"] == "sent" else 0
