"""The inbox an agent works from: tabs fitting the role with counts, next action (red on its day and when late),
search, filters, sort and pages that keep the filters — always within what the person may see."""

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from crm_core.inbox import PAGE_SIZE
from crm_core.models import Channel, Inquiry, InquiryStatus, Pool, utcnow
from tests.web.test_workspace import new_inquiry


def row_ids(html: str) -> list[int]:
    return [int(m) for m in re.findall(r'<tr class="[^"]*" data-inquiry="(\d+)"', html)]


def row_of(html: str, inquiry_id: int) -> str:
    m = re.search(rf'<tr class="([^"]*)" data-inquiry="{inquiry_id}" data-plan="(\w+)">(.*?)</tr>', html, re.S)
    assert m, f"inquiry {inquiry_id} is not listed"
    return m.group(0)


def tab_count(html: str, box: str) -> int:
    m = re.search(rf'data-box="{box}"[^>]*>[^<]*<span class="count">(\d+)</span>', html)
    assert m, f"no tab {box}"
    return int(m.group(1))


async def plan(running, inquiry_id, delta, action="Перезвонить", status=InquiryStatus.IN_WORK):
    async with running.hub.database.sessions() as s, s.begin():
        inquiry = await s.get(Inquiry, inquiry_id)
        inquiry.planned_action, inquiry.planned_at, inquiry.status = action, utcnow() + delta, status


async def test_next_action_is_shown_and_the_row_is_red_when_late_or_due_today(running):
    ag = running.agency
    late = await new_inquiry(running, "late", owner=ag.users["anna"], dept=ag.sales)
    soon = await new_inquiry(running, "soon", name="Ольга Сегодня", phone="+79160000011", owner=ag.users["anna"],
                             dept=ag.sales)
    later = await new_inquiry(running, "later", name="Пётр Потом", phone="+79160000012", owner=ag.users["anna"],
                              dept=ag.sales)
    closed = await new_inquiry(running, "closed", name="Закрытое Давно", phone="+79160000013",
                               owner=ag.users["anna"], dept=ag.sales)
    await plan(running, late.inquiry_id, timedelta(hours=-3), "Отправить подборку")
    await plan(running, soon.inquiry_id, timedelta(minutes=5))
    await plan(running, later.inquiry_id, timedelta(days=5), "Показ квартиры")
    await plan(running, closed.inquiry_id, timedelta(days=-5), status=InquiryStatus.DONE)
    b = await running.browser("anna")
    _, html = await b.get("/inbox")
    late_row = row_of(html, late.inquiry_id)
    assert "late" in late_row.split('"')[1] and "Отправить подборку" in late_row and "Просрочено" in late_row
    soon_row = row_of(html, soon.inquiry_id)
    local = utcnow().astimezone(ZoneInfo(running.hub.settings.time_zone))
    if (local + timedelta(minutes=5)).date() == local.date():  # not in the last minutes before midnight
        assert "late" in soon_row.split('"')[1] and "Сегодня" in soon_row
    later_row = row_of(html, later.inquiry_id)
    assert "late" not in later_row.split('"')[1] and "Показ квартиры" in later_row
    assert "late" not in row_of(html, closed.inquiry_id).split('"')[1]
    _, html = await b.get("/inbox?sort=planned")
    assert row_ids(html) == [closed.inquiry_id, late.inquiry_id, soon.inquiry_id, later.inquiry_id]


async def test_search_by_name_phone_and_number_and_filters_narrow_the_list(running):
    ag = running.agency
    ivan = await new_inquiry(running, "i1", owner=ag.users["anna"], dept=ag.sales)
    olga = await new_inquiry(running, "o1", name="Ольга Смирнова", phone="+79035550101", owner=ag.users["anna"],
                             dept=ag.sales)
    b = await running.browser("anna")
    for q in ("Смирнова", "903 555-01-01", "89035550101", f"№{olga.inquiry_id}"):
        _, html = await b.get("/inbox", params={"q": q})
        assert row_ids(html) == [olga.inquiry_id], q
    async with running.hub.database.sessions() as s, s.begin():
        (await s.get(Inquiry, ivan.inquiry_id)).channel = Channel.TELEGRAM
        (await s.get(Inquiry, ivan.inquiry_id)).source = "Авито"
    _, html = await b.get("/inbox?channel=telegram")
    assert row_ids(html) == [ivan.inquiry_id]
    _, html = await b.get("/inbox", params={"source": "Авито"})
    assert row_ids(html) == [ivan.inquiry_id] and '<option value="Авито" selected>' in html
    _, html = await b.get("/inbox?status=done")
    assert row_ids(html) == [] and "Обращений нет" in html


async def test_pages_of_fifty_keep_the_filters(running):
    ag = running.agency
    for n in range(PAGE_SIZE + 3):
        await new_inquiry(running, f"n{n}", name=f"Клиент {n}", phone=f"+7916100{n:04d}", owner=ag.users["oleg"],
                          dept=ag.sales)
    b = await running.browser("oleg")
    _, first = await b.get("/inbox?channel=webform")
    assert len(row_ids(first)) == PAGE_SIZE and tab_count(first, "mine") == PAGE_SIZE + 3
    link = re.search(r'<a href="([^"]+)" rel="next">', first).group(1).replace("&amp;", "&")
    assert "channel=webform" in link and "page=2" in link
    _, second = await b.get(link)
    assert len(row_ids(second)) == 3 and not set(row_ids(second)) & set(row_ids(first))


async def test_each_role_lands_on_its_tab_and_sees_only_its_reach(running):
    ag = running.agency
    own = await new_inquiry(running, "a", owner=ag.users["anna"], dept=ag.sales)
    pool = await new_inquiry(running, "p", name="Пул Продаж", phone="+79160000001", pool=Pool.DEPARTMENT,
                             dept=ag.sales)
    rent = await new_inquiry(running, "r", name="Аренда Клиент", phone="+79160000002", owner=ag.users["maria"],
                             dept=ag.rent)
    north = await new_inquiry(running, "n", name="Северный Клиент", phone="+79160000003",
                              owner=ag.users["spbagent"], dept=ag.other_division_dept)
    anna = await running.browser("anna")
    _, html = await anna.get("/inbox")
    assert 'data-box="mine" class="on"' in html and row_ids(html) == [own.inquiry_id]
    assert tab_count(html, "department") == 1
    boss = await running.browser("boss")
    _, html = await boss.get("/inbox")
    assert 'data-box="team" class="on"' in html
    assert sorted(row_ids(html)) == sorted([own.inquiry_id, pool.inquiry_id]) and tab_count(html, "team") == 2
    _, html = await boss.get(f"/inbox?department={ag.rent}")  # a department out of reach shows nothing
    assert row_ids(html) == []
    director = await running.browser("director")
    _, html = await director.get("/inbox")
    assert 'data-box="all" class="on"' in html
    assert sorted(row_ids(html)) == sorted([own.inquiry_id, pool.inquiry_id, rent.inquiry_id])
    assert north.inquiry_id not in row_ids(html)
    _, html = await director.get(f"/inbox?department={ag.rent}")
    assert row_ids(html) == [rent.inquiry_id]
    root = await running.browser("root")
    _, html = await root.get("/inbox")
    assert 'data-box="mine" class="on"' in html
