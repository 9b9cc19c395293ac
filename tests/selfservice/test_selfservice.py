"""Client self-service in a running hub: the one-time sign-in link an agent sends from the client card, the
client's page with only their own records, and what a used, expired or guessed link gets."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from aiohttp import ClientSession, CookieJar
from sqlalchemy import update

from crm_core.models import Client, Contact, ContactKind, Inquiry, InquiryStatus, Property, utcnow
from crm_core.models.agency import Deal, DealStep
from crm_core.models.selfservice import SelfServiceLink, SelfServiceSession
from notifications.wiring import service_of as notifications_of
from selfservice import links
from selfservice.wiring import service_of
from tests.web.conftest import Browser, hub_sections, running  # noqa: F401 - the running hub, on both databases

LINK = re.compile(r"https?://[^/\s]+(/my/in/[A-Za-z0-9_-]+)")


@dataclass
class Outbox:
    sent: list[tuple[str, str, str]] = field(default_factory=list)

    async def deliver(self, to: str, subject: str, text: str) -> None:
        self.sent.append((to, subject, text))


@dataclass
class People:
    ivan: int
    olga: int


async def seed(rh) -> People:  # noqa: ANN001
    users, agency = rh.agency.users, rh.agency
    async with rh.hub.database.sessions() as s, s.begin():
        ivan = Client(name="Иван <b>Петров</b>", owner_id=users["anna"], department_id=agency.sales)
        olga = Client(name="Ольга Чужая", owner_id=users["oleg"], department_id=agency.sales)
        s.add_all([ivan, olga])
        await s.flush()
        s.add_all([Contact(client_id=ivan.id, kind=ContactKind.EMAIL, value="ivan@example.ru"),
                   Contact(client_id=ivan.id, kind=ContactKind.TELEGRAM, value="555001"),
                   Contact(client_id=olga.id, kind=ContactKind.EMAIL, value="olga@example.ru")])
        mine = Inquiry(client_id=ivan.id, channel="email", external_id="i1", subject="Двушка у метро",
                       status=InquiryStatus.IN_WORK, owner_id=users["anna"], department_id=agency.sales)
        theirs = Inquiry(client_id=olga.id, channel="email", external_id="o1", subject="Секретный офис Ольги",
                         status=InquiryStatus.IN_WORK, owner_id=users["oleg"], department_id=agency.sales)
        flat, office = Property(address="ул. Ленина, 5"), Property(address="Тайная ул., 13")
        s.add_all([mine, theirs, flat, office])
        await s.flush()
        d1 = Deal(inquiry_id=mine.id, client_id=ivan.id, agent_id=users["anna"])
        d2 = Deal(inquiry_id=theirs.id, client_id=olga.id, agent_id=users["oleg"])
        s.add_all([d1, d2])
        await s.flush()
        soon = utcnow() + timedelta(days=2)
        s.add_all([DealStep(deal_id=d1.id, kind="viewing", status="planned", at=soon, property_id=flat.id,
                            agent_id=users["anna"]),
                   DealStep(deal_id=d2.id, kind="viewing", status="planned", at=soon, property_id=office.id,
                            agent_id=users["oleg"])])
        return People(ivan.id, olga.id)


async def stranger(rh) -> Browser:  # noqa: ANN001
    """A client's browser: nobody logged in."""
    http = ClientSession(cookie_jar=CookieJar(unsafe=True))
    rh._sessions.append(http)
    return Browser(rh.base, http)


async def send(rh, who: str, client_id: int, channel: str = "email"):  # noqa: ANN001, ANN201
    agent = await rh.browser(who)
    await agent.get(f"/clients/{client_id}")
    return await agent.post(f"/clients/{client_id}/selfservice-link", {"channel": channel},
                            headers={"Accept": "application/json"})


async def sign_in(client: Browser, path: str):  # noqa: ANN201
    resp, page = await client.get(path)
    if resp.status != 200:
        return resp, page
    return await client.post("/my/in", {"token": path.rsplit("/", 1)[1]})


async def test_the_emailed_link_opens_only_that_clients_page_once(running):  # noqa: F811
    people = await seed(running)
    outbox = Outbox()
    notifier = notifications_of(running.hub).notifier
    notifier.senders["email"] = outbox

    resp, body = await send(running, "anna", people.ivan)
    assert resp.status == 200 and '"ok": true' in body and "на e-mail" in body
    await notifier.deliver_due()
    [(to, subject, text)] = outbox.sent
    assert to == "ivan@example.ru" and subject == "Ваш личный кабинет" and "30 мин" in text
    path = LINK.search(text)[1]

    ivan = await stranger(running)
    resp, page = await ivan.get("/my")
    assert resp.status == 401 and "Ссылка недействительна" in page
    resp, page = await ivan.get(path)
    assert resp.status == 200 and "Войти в личный кабинет" in page
    assert "Петров" not in page, "the link alone shows nothing before it is used"
    resp, _ = await ivan.post("/my/in", {"token": path.rsplit("/", 1)[1]})
    assert resp.status == 303 and resp.headers["Location"] == "/my"
    cookie = resp.headers["Set-Cookie"]
    assert "hub_my=" in cookie and "HttpOnly" in cookie and "Path=/my" in cookie and "SameSite=Strict" in cookie
    resp, page = await ivan.get("/my")
    assert resp.status == 200
    assert "Иван &lt;b&gt;Петров&lt;/b&gt;" in page, "the client's own text is escaped"
    assert "Двушка у метро" in page and "ул. Ленина, 5" in page and "Anna" in page
    for other in ("Ольга", "Секретный офис", "Тайная ул.", "Oleg", "olga@example.ru"):
        assert other not in page, other
    assert "/static/app.js" not in page and "/logout" not in page, "no staff workspace on the client's page"

    again = await stranger(running)
    resp, page = await sign_in(again, path)
    assert resp.status == 404 and "Ссылка недействительна" in page, "a used link does not open the page again"
    resp, page = await again.get("/my")
    assert resp.status == 401 and "Двушка" not in page

    resp, page = await ivan.post("/my/out")
    assert resp.status == 200 and "Вы вышли" in page
    resp, page = await ivan.get("/my")
    assert resp.status == 401 and "Двушка" not in page


async def test_an_expired_link_and_an_expired_session_show_nothing(running):  # noqa: F811
    people = await seed(running)
    service = service_of(running.hub)
    async with running.hub.database.sessions() as s, s.begin():
        old, _ = await links.issue(s, people.ivan, "email", requested_by=None, minutes=30, per_hour=5,
                                   now=utcnow() - timedelta(minutes=31))
        fresh, _ = await links.issue(s, people.ivan, "email", requested_by=None, minutes=30, per_hour=5)
    client = await stranger(running)
    resp, page = await client.get(f"/my/in/{old}")
    assert resp.status == 404 and "устарела" in page
    resp, page = await client.post("/my/in", {"token": old})
    assert resp.status in (403, 404) and "Двушка" not in page

    resp, _ = await sign_in(client, f"/my/in/{fresh}")
    assert resp.status == 303
    resp, page = await client.get("/my")
    assert resp.status == 200 and "Двушка у метро" in page
    async with running.hub.database.sessions() as s, s.begin():
        await s.execute(update(SelfServiceSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    resp, page = await client.get("/my")
    assert resp.status == 401 and "Двушка" not in page
    assert service.settings.session_minutes == 60


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_agents_send_links_only_to_clients_they_may_see_and_guessing_is_limited(running):  # noqa: F811
    people = await seed(running)
    notifications_of(running.hub).notifier.senders["email"] = Outbox()
    resp, _ = await send(running, "maria", people.ivan)
    assert resp.status == 404, "another department's client is not there for her"
    resp, body = await send(running, "anna", people.ivan, "telegram")
    assert resp.status == 409 and "не подключён" in body, "no bot in this hub: said so, nothing queued"
    async with running.hub.database.sessions() as s:
        assert (await s.execute(SelfServiceLink.__table__.select())).all() == []

    guesser = await stranger(running)
    statuses = [(await guesser.get(f"/my/in/guess{i}"))[0].status for i in range(21)]
    assert statuses[:20] == [404] * 20 and statuses[20] == 429


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_the_bot_gets_a_link_for_the_client_tied_to_its_chat(running):  # noqa: F811
    people = await seed(running)
    service = service_of(running.hub)
    assert await service.bot_link("999999") is None, "a chat tied to nobody gets no link"
    text = await service.bot_link(555001)
    path = LINK.search(text)[1]
    client = await stranger(running)
    resp, _ = await sign_in(client, path)
    assert resp.status == 303
    _, page = await client.get("/my")
    assert "Двушка у метро" in page and "Секретный" not in page
    assert people.olga != people.ivan
