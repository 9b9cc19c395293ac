"""Russian first: each role walks every page of its top navigation (and an inquiry and a client card) on a
demo-like agency in a Russian Chromium, and no Latin word shows outside a short list of names and what the
people or the demo typed (emails, logins). Also the inbox screenshots for an agent and a head."""

import asyncio
import re
from pathlib import Path

from sqlalchemy import select

from crm_core import audit
from crm_core.demo import load_demo_data
from crm_core.intake import IntakeRequest
from crm_core.models import Call, Channel, Client, Contact, Inquiry, MemorableDate, RoutingDecision, User, utcnow
from crm_core.models.callfeed import CallBin
from crm_core.models.notifications import DateReminder, GreetingSent, NoticeDelivery, Notification
from tests.browser.conftest import log_in
from tests.web.conftest import PASSWORD

SHOTS = Path("/tmp/shots")
# the brief's names and formats; e-mail as Russian writes it; TOML/XML: the formats of the rules and the calendar
# files; English: the language switch; VIP: a segment the demo typed
ALLOWED = {"Telegram", "Email", "E-mail", "e-mail", "CSV", "XLSX", "KPI", "DID", "UTM", "SLA", "ID", "API", "URL",
           "PDF", "WhatsApp", "VK", "Avito", "TOML", "XML", "English", "VIP", "amoCRM"}
ROLES = ("anna", "manager", "head", "director", "root")  # agent, dept_manager, dept_head, director, admin
PAGE_TIMEOUT_MS = 15_000
LATIN = re.compile(r"[A-Za-z][A-Za-z'-]*[A-Za-z]|[A-Za-z]")
TYPED = re.compile(r"\{\w+\}|[\w.+-]+@[\w-]+(\.[\w-]+)+|https?://\S+|\b[\w-]+\.(ru|com|org|net)\b")

VISIBLE_TEXT = """() => {
  // code the administrator edits (rules in TOML, scripts) is code, not interface text
  for (const el of document.querySelectorAll('pre, code, textarea, kbd')) el.style.display = 'none';
  const parts = [document.body.innerText, document.title];
  for (const el of document.querySelectorAll('[placeholder],[title],input[type=submit],input[type=button]')) {
    if (el.offsetParent === null) continue;
    parts.push(el.getAttribute('placeholder') || '', el.getAttribute('title') || '',
               el.type === 'submit' || el.type === 'button' ? el.value : '');
  }
  for (const el of document.querySelectorAll('select option')) parts.push(el.textContent);
  return parts.join('\\n');
}"""


async def demo_agency(running) -> tuple[set[str], list[str]]:
    """The demo agency in the running hub with what a working day adds (finished calls, a routed inquiry, a
    binned call, a wallboard action, a notice, a greeting queued on a switched-off channel); returns the words
    people and the demo typed, and the pages an administrator reaches from those records."""
    await load_demo_data(running.hub.database.sessions, password=PASSWORD)
    await demo_staff_in_demo_departments(running)
    routed = await running.hub.intake.accept(IntakeRequest(
        channel=Channel.WEBFORM, external_id="walk-1", name="Галина Новая", phone="+79165557777",
        text="Хочу купить квартиру", subject="Покупка квартиры", utm={"utm_source": "yandex", "utm_medium": "cpc"}))
    for _ in range(50):  # routing decides in the background
        async with running.hub.database.sessions() as s:
            if (await s.execute(select(RoutingDecision.id).where(RoutingDecision.inquiry_id == routed.inquiry_id))
                ).first():
                break
        await asyncio.sleep(0.1)
    async with running.hub.database.sessions() as s, s.begin():
        users = {u.login: u for u in (await s.execute(select(User))).scalars()}
        first = (await s.execute(select(Inquiry).order_by(Inquiry.id))).scalars().first()
        for n, outcome in enumerate(("answered", "abandoned", "transferred", "no_answer")):
            s.add(Call(uniqueid=f"demo-{n}", linkedid=f"demo-{n}", direction="inbound", caller="+79161234567",
                       callee="101", queue="sales", agent_id=users["anna"].id, outcome=outcome,
                       started_at=utcnow(), ended_at=utcnow(), wait_s=5.0,
                       talk_s=30.0 if outcome == "answered" else None, client_id=first.client_id))
        s.add(CallBin(linkedid="bin-1", number="+79990001122", queue="support", department_id=first.department_id,
                      reason="spam", binned_by=users["anna"].id))
        await audit.record(s, users["head"].id, "wallboard.pause", f"user:{users['anna'].id}", {"reason": "lunch"})
        s.add(Notification(user_id=users["anna"].id, kind="routing", text="Новое обращение №1", url="/inquiries/1",
                           dedup_key="walk-1"))
        when = (await s.execute(select(MemorableDate).order_by(MemorableDate.id))).scalars().first()
        s.add(DateReminder(date_id=when.id, lead_days=3, repeat_yearly=True, greet_by="email"))
        sent = GreetingSent(date_id=when.id, occurrence=when.on, channel="email")
        s.add(sent)
        await s.flush()
        s.add(NoticeDelivery(source=f"greeting:{sent.id}", channel="email", to="x@mail.ru", text="С днём рождения!",
                             status="queued", next_attempt_at=utcnow()))
        typed = set(users) | {u.full_name for u in users.values()}
        typed |= {c.value for c in (await s.execute(select(Contact))).scalars()}
        typed |= {c.name for c in (await s.execute(select(Client))).scalars()}
        typed |= {v for i in (await s.execute(select(Inquiry))).scalars() for v in (i.utm or {}).values()}
        pages = [f"/inquiries/{routed.inquiry_id}", f"/clients/{routed.client_id}", "/admin/routing/decisions",
                 f"/clients/{when.client_id}/dates", "/calls", "/reports/sources", "/reports/missed",
                 "/reports/funnel?group=source"]
    return {w for text in typed for w in LATIN.findall(str(text or ""))}, pages


def latin_words(text: str, typed: set[str]) -> set[str]:
    return {w for w in LATIN.findall(TYPED.sub(" ", text)) if w not in ALLOWED and w not in typed}


async def walk(browser, running, login: str, typed: set[str], extra: list[str]) -> dict[str, set[str]]:
    page = await log_in(browser, running.base, login, PASSWORD)
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    found: dict[str, set[str]] = {}
    hrefs = "els => els.map(e => e.getAttribute('href'))"
    paths = await page.eval_on_selector_all("header.top nav a", hrefs)
    first_inquiry = await page.eval_on_selector_all("a[href^='/inquiries/']", hrefs)
    first_client = await page.eval_on_selector_all("a[href^='/clients/']", hrefs)
    seen: set[str] = set()
    for path in [*paths, *first_inquiry[:1], *first_client[:1], *extra]:
        if path in seen:
            continue
        seen.add(path)
        resp = await page.goto(running.base + path, timeout=PAGE_TIMEOUT_MS, wait_until="load")
        if resp is None or resp.status >= 400:
            found[path] = {f"HTTP {resp.status if resp else '-'}"}
            continue
        await page.wait_for_timeout(200)  # the live pages fill in from their scripts
        words = latin_words(await page.evaluate(VISIBLE_TEXT), typed)
        if words:
            found[path] = words
    await page.context.close()
    return found


async def test_every_page_of_every_role_speaks_russian(running, browser):
    typed, admin_pages = await demo_agency(running)
    problems = {}
    for login in ROLES:  # "root" is the seeded administrator
        found = await asyncio.wait_for(walk(browser, running, login, typed, admin_pages if login == "root" else []), 90)
        if found:
            problems[login] = found
    assert problems == {}, "\n".join(f"{who} {path}: {sorted(words)}" for who, pages in problems.items()
                                        for path, words in pages.items())


async def demo_staff_in_demo_departments(running) -> None:
    """The seeded anna, oleg and maria work in the demo's departments, as in the demo itself."""
    async with running.hub.database.sessions() as s, s.begin():
        users = {u.login: u for u in (await s.execute(select(User))).scalars()}
        for agent, boss in (("anna", "head"), ("oleg", "head"), ("maria", "manager")):
            users[agent].department_id = users[boss].department_id


async def test_inbox_screenshots_for_an_agent_and_a_head(running, browser):
    await load_demo_data(running.hub.database.sessions, password=PASSWORD)
    await demo_staff_in_demo_departments(running)
    await asyncio.to_thread(SHOTS.mkdir, parents=True, exist_ok=True)
    for login in ("anna", "head"):
        page = await log_in(browser, running.base, login, PASSWORD)
        await page.set_viewport_size({"width": 1400, "height": 900})
        assert await page.locator("nav.tabs a.on").count() == 1
        await page.screenshot(path=str(SHOTS / f"inbox-{login}.png"), full_page=True)
        await page.context.close()
