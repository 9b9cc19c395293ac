"""Deliveries to a real receiver on 127.0.0.1, on both databases: signed bodies, a retry after a 500 with the
same delivery id, one inquiry's events in order, a hanging receiver that holds up neither the others nor the
intake, giving up after the retry window, and due tasks told once."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from bus.events import InquiryStatusChanged
from crm_core.intake import IntakeRequest
from crm_core.models import Channel, Task, utcnow
from crm_core.models.webhooks import WebhookDelivery
from webhooks import queries
from webhooks.core import SIGNATURE_HEADER, verify


async def subscribe(wired, receiver, path: str, events: list[str]) -> int:  # noqa: ANN001
    async with wired.hub.database.sessions() as s, s.begin():
        sub = await queries.create_subscription(s, name=path, url=receiver.url(path), events=events, created_by=None)
    receiver.secrets[path] = sub.secret
    wired.recorder.invalidate()
    return sub.id


def form(n: int, text: str = "Нужна двушка") -> IntakeRequest:
    return IntakeRequest(channel=Channel.WEBFORM, external_id=f"wh-{n}", name=f"Клиент {n}",
                         email=f"c{n}@example.ru", text=text, subject=f"Заявка {n}")


async def rows(wired, settle: bool = True) -> list[WebhookDelivery]:  # noqa: ANN001
    """The outbox, once the posts in flight have their outcome recorded."""
    for _ in range(200):
        if not settle or wired.sender.in_flight == 0:
            break
        await asyncio.sleep(0.01)
    async with wired.hub.database.sessions() as s:
        return list((await s.execute(select(WebhookDelivery).order_by(WebhookDelivery.id))).scalars())


async def test_signed_retried_deduplicated_in_order_given_up_resent_and_tasks_told_once(wired, receiver):  # noqa: ANN001, PLR0915
    crm = await subscribe(wired, receiver, "/crm", ["inquiry.opened", "message.received", "inquiry.status_changed",
                                                    "inquiry.closed"])
    await subscribe(wired, receiver, "/tasks", ["task.due"])
    a = await wired.intake.accept(form(1))
    refusals = [0]

    def refuse_a_until_b_passed(path: str, body: dict) -> int:
        """Inquiry A's opening is refused at least three times, and until inquiry B's opening went through."""
        if body["type"] == "inquiry.opened" and body["data"]["inquiry_id"] == a.inquiry_id:
            b_passed = any(h.body["type"] == "inquiry.opened" and h.body["data"]["inquiry_id"] != a.inquiry_id
                           for h in receiver.ok("/crm"))
            if refusals[0] < 3 or not b_passed:
                refusals[0] += 1
                return 500
        return 200

    receiver.decide = refuse_a_until_b_passed
    await wired.hub.bus.publish(InquiryStatusChanged(a.inquiry_id, "done", "in_work", None))
    await receiver.wait_for(lambda: len(receiver.hits) >= 1)
    b = await wired.intake.accept(form(2, "Сниму студию"))
    async with wired.hub.database.sessions() as s, s.begin():
        s.add_all([Task(kind="callback", inquiry_id=b.inquiry_id, client_id=b.client_id,
                        due_at=utcnow() + timedelta(seconds=0.2), phone="+79161234567"),
                   Task(kind="callback", due_at=utcnow() + timedelta(days=1))])
    await receiver.wait_for(lambda: len(receiver.ok("/crm")) == 6 and len(receiver.ok("/tasks")) == 1, timeout=8)

    # signed, and the same delivery id at every attempt
    failed = receiver.hits[0]
    taken = next(h for h in receiver.ok("/crm") if h.body["id"] == failed.body["id"])
    statuses = [h.status for h in receiver.hits if h.body["id"] == failed.body["id"]]
    assert statuses[-1] == 200 and set(statuses[:-1]) == {500} and len(statuses) == refusals[0] + 1 >= 4
    assert taken.body["id"] == failed.body["id"] == failed.headers["X-Hub-Delivery"]
    assert all(h.signed_ok for h in receiver.hits), "every body's signature checks with the subscription's secret"
    wrong = failed.raw.replace("c1@example.ru", "c9@example.ru")
    assert wrong != failed.raw and not verify(receiver.secrets["/crm"], failed.headers[SIGNATURE_HEADER], wrong,
                                              int(time.time()))
    opened = taken.body
    assert opened["type"] == "inquiry.opened" and opened["data"]["inquiry_id"] == a.inquiry_id
    assert opened["data"]["client"]["emails"] == ["c1@example.ru"] and opened["occurred_at"]

    # one inquiry's events in order; the other inquiry's went meanwhile
    order = [(h.body["data"].get("inquiry_id"), h.body["type"]) for h in receiver.ok("/crm")]
    assert [t for i, t in order if i == a.inquiry_id] == [
        "inquiry.opened", "message.received", "inquiry.status_changed", "inquiry.closed"]
    assert [t for i, t in order if i == b.inquiry_id] == ["inquiry.opened", "message.received"]
    first_ok = taken.at
    assert all(h.at >= first_ok for h in receiver.hits if h.body["data"].get("inquiry_id") == a.inquiry_id
               and h.body["type"] != "inquiry.opened"), "nothing of inquiry A before its opening succeeded"
    assert any(h.at < first_ok for h in receiver.ok("/crm") if h.body["data"].get("inquiry_id") == b.inquiry_id)
    message = next(h.body for h in receiver.ok("/crm") if h.body["type"] == "message.received"
                   and h.body["data"]["inquiry_id"] == b.inquiry_id)
    assert message["data"]["text"] == "Сниму студию"
    closed = next(h.body for h in receiver.ok("/crm") if h.body["type"] == "inquiry.closed")
    assert closed["data"]["status"] == "done" and closed["data"]["previous_status"] == "in_work"

    # the log keeps each delivery's last answer
    log = [r for r in await rows(wired) if r.subscription_id == crm]
    first = next(r for r in log if r.delivery_id == failed.body["id"])
    assert (first.status, first.attempts, first.response_status, first.response_excerpt) == (
        "delivered", refusals[0] + 1, 200, "принято")
    assert all(r.status == "delivered" for r in log) and len(log) == 6

    # a due task is told once, however many scans pass
    await asyncio.sleep(0.3)
    tasks = receiver.ok("/tasks")
    assert len(tasks) == 1 and tasks[0].body["type"] == "task.due"
    assert tasks[0].body["data"]["inquiry_id"] == b.inquiry_id and tasks[0].body["data"]["kind"] == "callback"

    # past the retry window a delivery fails with the answer kept; a re-send delivers it, same id
    receiver.fail["/crm"] = 10**6
    c = await wired.intake.accept(form(3))
    await wired.recorder.flush()
    async with wired.hub.database.sessions() as s, s.begin():  # as if it had failed since yesterday
        row = (await s.execute(select(WebhookDelivery).where(WebhookDelivery.event_type == "inquiry.opened")
                               .order_by(WebhookDelivery.id.desc()).limit(1))).scalar_one()
        row.retry_since = utcnow() - timedelta(hours=23, minutes=59, seconds=59)
    for _ in range(200):
        gone = next(r for r in await rows(wired, settle=False) if r.id == row.id)
        if gone.status == "failed":
            break
        await asyncio.sleep(0.02)
    assert gone.status == "failed" and gone.response_status == 500 and gone.next_attempt_at is None
    assert "Internal <b>Error</b>" in gone.response_excerpt and "\x00" not in gone.response_excerpt
    async with wired.hub.database.sessions() as s, s.begin():
        assert await queries.resend(s, gone.id)  # back in line, before the inquiry's later events again
    receiver.fail["/crm"] = 0
    wired.recorder.wake_sender()
    await receiver.wait_for(lambda: any(h.body["id"] == gone.delivery_id for h in receiver.ok("/crm")))
    resent = next(h for h in receiver.ok("/crm") if h.body["id"] == gone.delivery_id)
    assert resent.body["type"] == "inquiry.opened" and resent.body["data"]["inquiry_id"] == c.inquiry_id
    assert resent.raw == gone.body, "a re-send posts the same body (its id, its data)"

@pytest.fixture
def webhook_settings() -> dict:
    from tests.webhooks.conftest import FAST

    return {**FAST, "per_subscription": 2, "timeout_s": 1.5}


async def test_a_hanging_receiver_holds_up_neither_other_receivers_nor_the_intake(wired, receiver):  # noqa: ANN001
    dead = await subscribe(wired, receiver, "/dead", ["inquiry.opened"])
    await subscribe(wired, receiver, "/live", ["inquiry.opened"])
    receiver.hang.add("/dead")
    took = []
    for n in range(6):
        started = time.monotonic()
        await wired.intake.accept(form(100 + n))
        took.append(time.monotonic() - started)
    await receiver.wait_for(lambda: len(receiver.ok("/live")) == 6, timeout=3)
    assert max(took) < 1.0, f"the intake waited on the webhooks (a post hangs 1.5 s): {took}"
    assert 1 <= wired.sender.in_flight_to(dead) <= 2, "a hanging receiver holds its own slots only (per_subscription=2)"
    for _ in range(250):  # the first posts reach their 1.5 s deadline
        log = await rows(wired, settle=False)
        hung = [r for r in log if r.subscription_id == dead]
        if any(r.status == "retry" and (r.error or "").startswith("timeout") for r in hung):
            break
        await asyncio.sleep(0.02)
    assert any(r.status == "retry" and (r.error or "").startswith("timeout") for r in hung), \
        [(r.status, r.error) for r in hung]
    assert all(r.status == "delivered" for r in log if r.subscription_id != dead)
