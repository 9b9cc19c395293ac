"""A notice is stored once per person, reaches their browser, their own Telegram chat and email as they
chose, and a failed Telegram/email delivery is retried, then given up with the reason."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from config.settings import DatabaseSettings
from crm_core.db import create_engine, session_factory
from crm_core.models.notifications import NoticeDelivery, Notification
from notifications.prefs import save_prefs
from tests.notifications.helpers import (
    Clock,
    FakeSender,
    PermanentSendError,
    Pushes,
    TemporarySendError,
    notifier,
    seed,
)


async def count(sessions, model) -> int:  # noqa: ANN001
    async with sessions() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


async def test_a_notice_reaches_browser_telegram_and_email_once(db):
    people = await seed(db.sessions)
    clock, pushes, tg, mail = Clock(), Pushes(), FakeSender(), FakeSender()
    n = notifier(db.sessions, clock, pushes, tg, mail)
    async with db.sessions() as s, s.begin():  # anna wants SLA notices by email too
        await save_prefs(s, people.anna, {"sla": ["browser", "telegram", "email"]})

    new = await n.notify("sla", [people.anna, people.oleg], "SLA: обращение №7 — не принято вовремя",
                         "/inquiries/7", dedup_key="sla:7:1")
    again = await n.notify("sla", [people.anna, people.oleg], "SLA: обращение №7 — не принято вовремя",
                           "/inquiries/7", dedup_key="sla:7:1")
    await n.deliver_due()

    assert sorted(x.user_id for x in new) == sorted([people.anna, people.oleg]) and again == []
    assert [sorted(p.user_ids) for p in pushes.frames] == [sorted([people.anna, people.oleg])], "one toast each"
    assert pushes.frames[0].kind == "notice" and pushes.frames[0].payload["url"] == "/inquiries/7"
    assert [to for to, _, _ in tg.sent] == ["5001"], "oleg has no Telegram linked"
    assert [to for to, _, _ in mail.sent] == ["anna@agency.ru"]
    assert "обращение №7" in tg.sent[0][2]
    assert await count(db.sessions, Notification) == 2


async def test_preferences_turn_channels_off(db):
    people = await seed(db.sessions)
    clock, pushes, tg, mail = Clock(), Pushes(), FakeSender(), FakeSender()
    n = notifier(db.sessions, clock, pushes, tg, mail)
    async with db.sessions() as s, s.begin():
        await save_prefs(s, people.anna, {"routing": []})  # nothing at all for offers
    await n.notify("routing", [people.anna], "Предложено обращение №3", "/routing/offers", dedup_key="offer:3")
    await n.deliver_due()
    assert pushes.frames == [] and tg.sent == [] and mail.sent == []
    assert await count(db.sessions, Notification) == 1, "the notice list still has it"


async def test_two_hub_instances_store_and_send_a_notice_once(db):
    people = await seed(db.sessions)
    other_engine = create_engine(DatabaseSettings(url=db.url))
    try:
        other = session_factory(other_engine)
        tg = FakeSender()
        a = notifier(db.sessions, Clock(), Pushes(), tg, FakeSender())
        b = notifier(other, Clock(), Pushes(), tg, FakeSender())
        await asyncio.gather(*(x.notify("dates", [people.anna, people.boss], "Памятная дата", None,
                                        dedup_key="date:1:2025-06-05") for x in (a, b, a, b)))
        await asyncio.gather(a.deliver_due(), b.deliver_due())
    finally:
        await other_engine.dispose()
    assert await count(db.sessions, Notification) == 2
    assert sorted(to for to, _, _ in tg.sent) == ["5001", "5003"], "each person's Telegram got it once"


async def test_a_failed_delivery_is_retried_then_given_up_with_the_reason(db):
    people = await seed(db.sessions)
    clock, tg = Clock(), FakeSender()
    n = notifier(db.sessions, clock, Pushes(), tg, FakeSender())
    async with db.sessions() as s, s.begin():
        await save_prefs(s, people.anna, {"callback": ["telegram"]})
        await save_prefs(s, people.boss, {"callback": ["telegram"]})
    tg.fail = [TemporarySendError("network down")]
    await n.notify("callback", [people.anna], "Перезвонить: +79161234567", None, dedup_key="callback:1:0")
    await n.deliver_due()
    assert tg.sent == []
    clock.now += timedelta(seconds=30)
    assert await n.deliver_due() == 0, "not before the retry delay"
    clock.now += timedelta(seconds=31)
    await n.deliver_due()
    assert [to for to, _, _ in tg.sent] == ["5001"]

    tg.fail = [PermanentSendError("бот заблокирован")]
    await n.notify("callback", [people.boss], "Перезвонить: +79160000000", None, dedup_key="callback:2:0")
    await n.deliver_due()
    clock.now += timedelta(days=1)
    await n.deliver_due()
    async with db.sessions() as s:
        rows = (await s.execute(select(NoticeDelivery.to, NoticeDelivery.status, NoticeDelivery.note)
                                .order_by(NoticeDelivery.id))).all()
    assert [(r.to, r.status) for r in rows] == [("5001", "sent"), ("5003", "failed")]
    assert "заблокирован" in rows[1].note


async def test_notices_that_come_together_share_a_commit_and_each_is_stored_once(db):
    people = await seed(db.sessions)
    pushes = Pushes()
    n = notifier(db.sessions, Clock(), pushes, FakeSender(), FakeSender())
    texts = [f"Вам назначено обращение №{i}" for i in range(30)]
    results = await asyncio.gather(*(n.notify("routing", [people.anna], t, f"/inquiries/{i}",
                                              dedup_key=f"assigned:{i}:d{i}") for i, t in enumerate(texts)),
                                   *(n.notify("routing", [people.anna], "повтор", None, dedup_key="assigned:0:d0")
                                     for _ in range(2)))
    assert [len(r) for r in results[:30]] == [1] * 30
    assert results[30] == [] and results[31] == [], "the same happening again in the same group: not new"
    assert n._group.commits < 10 and n._group.largest > 1  # noqa: SLF001 - shared transactions
    assert await count(db.sessions, Notification) == 30
    assert sorted(p.payload["text"] for p in pushes.frames) == sorted(texts), "one toast per new notice"
