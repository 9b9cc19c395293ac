"""Honest states: a reply on a switched-off channel is refused at once with the reason (never left «в очереди»),
a greeting queued on a switched-off channel shows as not sent, form problems and notice times read in Russian
and in the agency's time."""

from datetime import UTC, date, datetime

from sqlalchemy import select

from crm_core.models import Contact, ContactKind, MemorableDate, Message
from crm_core.models.notifications import DateReminder, GreetingSent, NoticeDelivery, Notification
from tests.web.test_workspace import new_inquiry


async def test_a_reply_on_a_switched_off_channel_is_refused_with_the_reason(running):
    ag = running.agency
    res = await new_inquiry(running, "r1", owner=ag.users["anna"], dept=ag.sales)
    async with running.hub.database.sessions() as s, s.begin():
        s.add_all([Contact(client_id=res.client_id, kind=ContactKind.EMAIL, value="ivan@mail.ru"),
                   Contact(client_id=res.client_id, kind=ContactKind.TELEGRAM, value="5120001")])
    anna = await running.browser("anna")
    _, page = await anna.get(f"/inquiries/{res.inquiry_id}")
    assert "Telegram (выключен)" in page and "Email (выключен)" in page
    for channel, name in (("telegram", "Telegram"), ("email", "Email")):
        resp, page = await anna.post(f"/inquiries/{res.inquiry_id}/reply", {"text": "Добрый день", "channel": channel})
        assert resp.status == 422 and f"Канал {name} выключен — ответ не отправлен" in page
        assert "Добрый день" in page, "the text stays in the form"
    async with running.hub.database.sessions() as s:
        assert (await s.execute(select(Message).where(Message.direction == "out"))).first() is None
    oleg = await running.browser("oleg")  # no write access: still no reply, and no page of someone else's
    await oleg.get("/inbox")
    resp, _ = await oleg.post(f"/inquiries/{res.inquiry_id}/reply", {"text": "чужой", "channel": "email"})
    assert resp.status in (403, 404)


async def test_a_greeting_queued_on_a_switched_off_channel_is_shown_as_not_sent(running):
    ag = running.agency
    res = await new_inquiry(running, "g1", owner=ag.users["anna"], dept=ag.sales)
    async with running.hub.database.sessions() as s, s.begin():
        s.add(Contact(client_id=res.client_id, kind=ContactKind.EMAIL, value="ivan@mail.ru"))
        when = MemorableDate(client_id=res.client_id, kind="birthday", on=date(1984, 3, 8), month=3, day=8)
        s.add(when)
        await s.flush()
        s.add(DateReminder(date_id=when.id, lead_days=3, repeat_yearly=True, greet_by="email"))
        sent = GreetingSent(date_id=when.id, occurrence=date(2026, 3, 8), channel="email")
        s.add(sent)
        await s.flush()
        s.add(NoticeDelivery(source=f"greeting:{sent.id}", channel="email", to="ivan@mail.ru", text="С днём рождения",
                             status="queued", next_attempt_at=datetime.now(UTC)))
    anna = await running.browser("anna")
    _, page = await anna.get(f"/clients/{res.client_id}/dates")
    assert "не отправлено: канал выключен" in page and "greeting-off" in page


async def test_form_problems_are_in_russian_and_notices_in_the_agencys_time(running):
    ag = running.agency
    res = await new_inquiry(running, "v1", owner=ag.users["anna"], dept=ag.sales)
    anna = await running.browser("anna")
    await anna.get(f"/inquiries/{res.inquiry_id}")
    resp, page = await anna.post(f"/inquiries/{res.inquiry_id}", {"planned_at": "завтра", "status": "archived"})
    assert resp.status == 422
    assert "Нужны дата и время" in page and "статус можно сменить только на «В работе» или «Закрыто»" in page
    assert "Input should be" not in page and "Value error" not in page
    async with running.hub.database.sessions() as s, s.begin():
        s.add(Notification(user_id=ag.users["anna"], kind="routing", text="Новое обращение", url="/inbox",
                           dedup_key="n1", created_at=datetime(2026, 12, 7, 9, 5, tzinfo=UTC)))
    _, page = await anna.get("/notices")
    assert "07.12.2026 12:05" in page  # Moscow, not UTC
