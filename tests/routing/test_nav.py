"""The top bar by role: the six menus in order, only what the role may open, the current place marked; the
search box opens an inquiry by its number (only one the reader may see) or searches the clients."""

from __future__ import annotations

import re

from crm_core.intake import IntakeRequest
from crm_core.models import Channel, Inquiry, Pool
from tests.browser.conftest import db  # noqa: F401 - SQLite only
from tests.web.conftest import hub_sections, running  # noqa: F401 - fixtures
from web.features import GROUPS, features

MENU = re.compile(r'<li class="menu( on)?" data-group="(\w+)">')


def menus(page: str) -> list[str]:
    return [m.group(2) for m in MENU.finditer(page)]


async def test_each_role_sees_its_menus_and_the_current_place(running):  # noqa: F811
    admin = await running.browser("root")
    _, page = await admin.get("/admin/routing/versions")
    assert menus(page) == list(GROUPS)
    assert '<li class="menu on" data-group="settings">' in page  # the versions page belongs to the rules editor
    assert 'href="/admin/routing/editor" class="on" aria-current="page"' in page
    agent = await running.browser("anna")
    _, page = await agent.get("/inbox")
    assert "settings" not in menus(page) and menus(page)[0] == "work"
    assert 'href="/inbox" class="on" aria-current="page"' in page
    assert "/admin/users" not in page and "/admin/routing/editor" not in page
    head = await running.browser("boss")
    _, page = await head.get("/inbox")
    assert 'href="/admin/routing/editor"' in page  # a head edits their department's rules
    for module in features():  # every page module's links name one of the menus
        for item in getattr(module, "NAV", ()):
            assert item.group in GROUPS, (module.__name__, item.href)


async def test_the_search_box_opens_an_inquiry_or_searches_clients(running):  # noqa: F811
    a = running.agency
    res = await running.hub.intake.accept(IntakeRequest(channel=Channel.WEBFORM, external_id="s1", name="Пётр",
                                                        phone="+79161112233", text="Квартира"))
    async with running.hub.database.sessions() as s, s.begin():
        inquiry = await s.get(Inquiry, res.inquiry_id)
        inquiry.department_id, inquiry.owner_id, inquiry.pool = a.rent, a.users["maria"], Pool.NONE
    admin = await running.browser("root")
    resp, _ = await admin.get(f"/search?q=№{res.inquiry_id}")
    assert resp.status == 303 and resp.headers["Location"] == f"/inquiries/{res.inquiry_id}"
    resp, _ = await admin.get("/search?q=8 (916) 111-22-33")
    assert resp.headers["Location"].startswith("/clients?q=")
    _, page = await admin.get(resp.headers["Location"])
    assert "Пётр" in page
    anna = await running.browser("anna")  # another department's inquiry is not opened by its number
    resp, _ = await anna.get(f"/search?q={res.inquiry_id}")
    assert resp.headers["Location"] == f"/clients?q={res.inquiry_id}"
