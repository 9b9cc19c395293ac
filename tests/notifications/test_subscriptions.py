"""What becomes a notice: a team offer (every offered agent, in the browser and their Telegram), an SLA step
(the agent and the supervisors the step names), a speech-analytics flag, a due callback."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bus.bus import EventBus
from bus.events import Push
from crm_core.models import Channel, Inquiry, InquiryEvent, Task
from crm_core.models.notifications import Notification
from notifications.subscriptions import PushNotices, callback_notices
from tests.notifications.helpers import Clock, FakeSender, Pushes, notifier, seed


async def stored(sessions) -> list[tuple[int, str, str]]:  # noqa: ANN001
    async with sessions() as s:
        return [tuple(r) for r in (await s.execute(select(Notification.user_id, Notification.kind, Notification.text)
                                                   .order_by(Notification.id))).all()]


async def test_offers_and_sla_steps_become_notices_once(db):
    people = await seed(db.sessions)
    clock, pushes, tg = Clock(), Pushes(), FakeSender()
    n = notifier(db.sessions, clock, pushes, tg, FakeSender())
    bus = EventBus()
    bus.subscribe(Push, PushNotices(n).on_push)
    offer = Push((people.anna, people.oleg), "routing.offer", {
        "inquiry_id": 41, "offer_id": 9, "channel": "manual", "subject": "Собственник: ул. Мира, 1"})
    await bus.publish(offer)
    await bus.publish(offer)  # the same offer again (e.g. a page reload re-announcing): no second notice
    await n.deliver_due()
    got = await stored(db.sessions)
    assert [(u, k) for u, k, _ in got] == [(people.anna, "routing"), (people.oleg, "routing")]
    assert "№41" in got[0][2] and "ул. Мира" in got[0][2]
    assert [to for to, _, _ in tg.sent] == ["5001"], "anna's linked Telegram; oleg has none"
    assert [p.kind for p in pushes.frames] == ["notice"] and pushes.frames[0].payload["toast"] is False, \
        "routing.js already shows the offer card: no second pop-up"

    async with db.sessions() as s, s.begin():
        inquiry = Inquiry(client_id=people.client, channel=Channel.EMAIL, external_id="<x@y>", owner_id=people.anna)
        s.add(inquiry)
        await s.flush()
        s.add(InquiryEvent(inquiry_id=inquiry.id, at=clock.now, kind="sla", note="not_accepted: to_department_pool"))
        inquiry_id = inquiry.id
    sla = Push((people.anna, people.boss), "routing.sla", {"inquiry_id": inquiry_id, "action": "to_department_pool",
                                                           "reason": "not_accepted", "pool": "department"})
    await bus.publish(sla)
    await bus.publish(sla)
    sla_rows = [r for r in await stored(db.sessions) if r[1] == "sla"]
    assert [u for u, _, _ in sla_rows] == [people.anna, people.boss]
    assert "не принято вовремя" in sla_rows[0][2] and "пул отдела" in sla_rows[0][2]

    await bus.publish(Push((people.boss,), "speech_flag", {"call_id": 5, "categories": ["грубость"]}))
    assert [(u, k) for u, k, _ in await stored(db.sessions) if k == "analytics"] == [(people.boss, "analytics")]


async def test_a_due_callback_is_noticed_once_per_attempt(db):
    people = await seed(db.sessions)
    clock = Clock()
    n = notifier(db.sessions, clock, Pushes(), FakeSender(), FakeSender())
    async with db.sessions() as s, s.begin():
        mine = Task(kind="callback", status="open", client_id=people.client, assignee_id=people.anna,
                    phone="+79161234567", note="Пропущенный звонок", due_at=clock.now - timedelta(minutes=1))
        queue = Task(kind="callback", status="open", department_id=people.dept, phone="+79035550000",
                     due_at=clock.now - timedelta(minutes=2))
        later = Task(kind="callback", status="open", assignee_id=people.oleg, phone="+79990000000",
                     due_at=clock.now + timedelta(hours=1))
        s.add_all([mine, queue, later])
        await s.flush()
        mine_id = mine.id
    await callback_notices(n)
    await callback_notices(n)
    got = await stored(db.sessions)
    assert sorted(u for u, _, _ in got) == sorted([people.anna, people.anna, people.oleg]), \
        "anna's own callback, and the department's agents for the unassigned one; oleg's is not due yet"
    assert any("+79161234567" in t for _, _, t in got)

    async with db.sessions() as s, s.begin():  # the first attempt failed: due again in 15 minutes
        task = await s.get(Task, mine_id)
        task.attempts, task.due_at = 1, clock.now + timedelta(minutes=15)
    clock.now += timedelta(minutes=16)
    await callback_notices(n)
    again = [t for u, _, t in await stored(db.sessions) if u == people.anna and "+79161234567" in t]
    assert len(again) == 2 and "попытка 2" in again[1]
    assert [u for u, _, _ in await stored(db.sessions) if u == people.boss] == []

    clock.now += timedelta(hours=1)  # still not called back an hour after it was due: the head hears of it
    await callback_notices(n)
    await callback_notices(n)
    late = sorted(t for u, _, t in await stored(db.sessions) if u == people.boss)
    assert len(late) == 2 and all("больше часа" in t for t in late), "anna's callback and the queue's one, once"
    assert "+79035550000" in late[0] and "+79161234567" in late[1]
