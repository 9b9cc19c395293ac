"""What becomes a notice, for whom: routing offers and assignments, SLA steps, speech-analytics flags (from
the live pushes their producers already publish on the bus) and due callback tasks (from the stored
tasks, looked at every pass). Each notice's dedup key names a stored row, so it is sent once."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bus.events import Push
from crm_core.models import InquiryEvent, Role, Task, User
from notifications.notifier import Notifier

log = logging.getLogger("hub.notifications")
ACTION_RU = {"to_department_pool": "передано в пул отдела", "to_common_pool": "передано в общий пул",
             "to_archive": "отправлено в архив"}
REASON_RU = {"not_accepted": "не принято вовремя", "planned_day_missed": "пропущен запланированный день",
             "idle_limit": "слишком долго без действий", "department_pool_expired": "истёк срок в пуле отдела",
             "common_pool_expired": "истёк срок в общем пуле", "refusals": "слишком много отказов"}
CALLBACK_LOOKBACK = timedelta(days=1)
CALLBACK_ESCALATE = timedelta(hours=1)  # a callback still open this long after it was due: the heads hear of it


async def _last_event(s: AsyncSession, inquiry_id: int, kind: str | None = None) -> int:
    q = select(func.max(InquiryEvent.id)).where(InquiryEvent.inquiry_id == inquiry_id)
    if kind is not None:
        q = q.where(InquiryEvent.kind == kind)
    return int((await s.execute(q)).scalar() or 0)


class PushNotices:
    """Turns the producers' live pushes into stored notices (the browser frame they already send is a
    pop-up for the page in front of the user; the notice is what stays and what goes to Telegram/email)."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    async def on_push(self, event: Push) -> None:
        handler = {"routing.offer": self._offer, "routing.assigned": self._assigned, "routing.sla": self._sla,
                   "speech_flag": self._speech}.get(event.kind)
        if handler is not None and event.user_ids:
            await handler(event)

    async def _offer(self, event: Push) -> None:
        p = event.payload
        subject = str(p.get("subject") or "").strip()
        text = f"Предложено обращение №{p.get('inquiry_id')}" + (f": {subject}" if subject else "") + \
            " — возьмёт первый, кто нажмёт «Беру»"
        await self.notifier.notify("routing", event.user_ids, text, "/routing/offers",
                                   dedup_key=f"offer:{p.get('offer_id')}", toast=False)  # routing.js shows it

    async def _assigned(self, event: Push) -> None:
        inquiry_id = int(event.payload.get("inquiry_id") or 0)
        decision_id = event.payload.get("decision_id")  # routing names its decision: no need to look
        if decision_id:
            step = f"d{decision_id}"
        else:
            async with self.notifier.sessions() as s:
                step = str(await _last_event(s, inquiry_id))
        await self.notifier.notify("routing", event.user_ids, f"Вам назначено обращение №{inquiry_id}",
                                   f"/inquiries/{inquiry_id}", dedup_key=f"assigned:{inquiry_id}:{step}")

    async def _sla(self, event: Push) -> None:
        p = event.payload
        inquiry_id = int(p.get("inquiry_id") or 0)
        async with self.notifier.sessions() as s:
            step = await _last_event(s, inquiry_id, "sla")
        action = ACTION_RU.get(str(p.get("action")), str(p.get("action")))
        reason = REASON_RU.get(str(p.get("reason")), str(p.get("reason")))
        text = f"SLA: обращение №{inquiry_id} — {reason}; {action}"
        await self.notifier.notify("sla", event.user_ids, text, f"/inquiries/{inquiry_id}",
                                   dedup_key=f"sla:{inquiry_id}:{step}")

    async def _speech(self, event: Push) -> None:
        p = event.payload
        categories = sorted(str(c) for c in p.get("categories") or ())
        text = f"Речевая аналитика: звонок №{p.get('call_id')} отмечен — {', '.join(categories)}"
        await self.notifier.notify("analytics", event.user_ids, text, f"/calls/{p.get('call_id')}/transcript",
                                   dedup_key=f"speech:{p.get('call_id')}:{','.join(categories)}"[:200])


async def callback_notices(notifier: Notifier) -> int:
    """Open callback tasks that are due: to their assignee, else to the agents of their department; an hour
    later, still open, also to the department's heads. A task re-scheduled after a failed attempt is due
    again, and noticed again (the attempt is in the key)."""
    now = notifier.clock()
    async with notifier.sessions() as s:
        tasks = (await s.execute(select(Task).where(
            Task.kind == "callback", Task.status == "open", Task.due_at <= now,
            Task.due_at > now - CALLBACK_LOOKBACK).order_by(Task.id).limit(500))).scalars().all()
        plan = []
        for t in tasks:
            if t.assignee_id is not None:
                who = [t.assignee_id]
            elif t.department_id is not None:
                who = list((await s.execute(select(User.id).where(
                    User.department_id == t.department_id, User.is_active.is_(True),
                    User.role == Role.AGENT))).scalars())
            else:
                who = []
            heads: list[int] = []
            if t.due_at is not None and t.due_at <= now - CALLBACK_ESCALATE:
                dept = t.department_id
                if dept is None and t.assignee_id is not None:
                    dept = (await s.execute(select(User.department_id).where(User.id == t.assignee_id))).scalar()
                if dept is not None:
                    heads = list((await s.execute(select(User.id).where(
                        User.department_id == dept, User.is_active.is_(True),
                        User.role.in_([Role.DEPT_HEAD, Role.DEPT_MANAGER])))).scalars())
            plan.append((t.id, t.attempts, t.phone, t.note, t.client_id, who, heads))
    stored = 0
    for task_id, attempts, phone, note, client_id, who, heads in plan:
        text = f"Перезвонить: {phone or 'клиент'}" + (f" — {note}" if note else "") + \
            (f" (попытка {attempts + 1})" if attempts else "")
        url = f"/clients/{client_id}" if client_id else None
        stored += len(await notifier.notify("callback", who, text, url, dedup_key=f"callback:{task_id}:{attempts}"))
        if heads:
            stored += len(await notifier.notify("callback", heads, f"Перезвон не сделан больше часа: {text}", url,
                                                dedup_key=f"callback-late:{task_id}:{attempts}"))
    return stored
