"""Moderation: requests from the chosen sources wait for a moderator; accept sends them to routing, reject keeps
them (archived, searchable); each role sees only what it must."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bus.events import Push
from crm_core.intake import IntakeRequest
from crm_core.models import (
    Channel,
    Inquiry,
    InquiryEvent,
    InquiryStatus,
    Role,
    RoutingDecision,
    TimelineEntry,
)
from crm_core.models.workflow import ModerationDecision
from tests.workflow.conftest import add_user


async def _form(running, n: int, *, site: str, text: str, source: str | None = None) -> int:  # noqa: ANN001
    """A web form exactly as bootstrap's web-forms connector hands it to the intake."""
    result = await running.hub.intake.accept(IntakeRequest(
        channel=Channel.WEBFORM, external_id=f"form-{n}", name=f"Отправитель {n}", phone=f"+7916555000{n}",
        text=text, subject=text[:120], source=source or site, meta={"site": site, "page_url": f"https://{site}/"}))
    return result.inquiry_id


async def _inquiry(running, inquiry_id: int) -> Inquiry:  # noqa: ANN001
    async with running.hub.database.sessions() as s:
        return await s.get(Inquiry, inquiry_id)


async def test_requests_from_a_moderated_site_wait_and_reject_keeps_them_searchable(running):
    root = await running.browser("root")
    await root.get("/moderation/settings")
    resp, _ = await root.post("/moderation/settings", {"sites": "promo-site.ru\n", "sources": ""})
    assert resp.status == 303
    _, page = await root.get("/moderation/settings")
    assert "promo-site.ru" in page

    pushes: list[Push] = []

    async def heard(event: Push) -> None:
        if event.kind == "moderation":
            pushes.append(event)

    running.hub.bus.subscribe(Push, heard)
    spam = await _form(running, 1, site="promo-site.ru", text="Лучшее казино онлайн, бонус 1000%")
    real = await _form(running, 2, site="promo-site.ru", text="Хочу посмотреть квартиру на Арбате")
    other = await _form(running, 3, site="agency.ru", text="Продаю дачу")
    assert (await _inquiry(running, spam)).status == InquiryStatus.MODERATION
    assert (await _inquiry(running, real)).status == InquiryStatus.MODERATION
    assert (await _inquiry(running, other)).status != InquiryStatus.MODERATION, "only the chosen site waits"
    users = running.agency.users
    assert [p.payload["inquiry_id"] for p in pushes] == [spam, real], "moderators hear of waiting requests at once"
    heard_by = set(pushes[0].user_ids)
    assert {users["root"], users["boss"], users["mgr"]} <= heard_by, "administrators, managers and heads"
    assert not heard_by & {users[x] for x in ("anna", "oleg", "maria", "spbagent", "director")}
    async with running.hub.database.sessions() as s:
        routed = set((await s.execute(select(RoutingDecision.inquiry_id))).scalars())
    assert spam not in routed and real not in routed and other in routed, "routing leaves waiting requests alone"

    mgr = await running.browser("mgr")  # a department manager: the secretary who moderates
    _, page = await mgr.get("/moderation")
    assert "Лучшее казино онлайн" in page and "Хочу посмотреть квартиру" in page and "Продаю дачу" not in page
    resp, _ = await mgr.post(f"/moderation/{spam}/reject", {"reason": "реклама казино"})
    assert resp.status == 303 and resp.headers["Location"] == f"/moderation?done=rejected&id={spam}"
    resp, _ = await mgr.post(f"/moderation/{real}/accept")
    assert resp.status == 303

    rejected = await _inquiry(running, spam)
    assert rejected is not None and rejected.status == InquiryStatus.ARCHIVED, "kept, never deleted"
    accepted = await _inquiry(running, real)
    assert accepted.status != InquiryStatus.MODERATION
    async with running.hub.database.sessions() as s:
        decisions = (await s.execute(select(RoutingDecision.inquiry_id))).scalars().all()
        kinds = set((await s.execute(select(TimelineEntry.kind).where(TimelineEntry.inquiry_id == spam))).scalars())
        events = set((await s.execute(select(InquiryEvent.kind).where(InquiryEvent.inquiry_id == real))).scalars())
        [decision] = (await s.execute(select(ModerationDecision).where(ModerationDecision.inquiry_id == spam))
                      ).scalars().all()
    assert real in decisions and spam not in decisions, "accepted goes to routing, rejected does not"
    assert "moderation_rejected" in kinds and "moderation_accepted" in events
    assert (decision.decision, decision.reason) == ("rejected", "реклама казино")

    _, page = await mgr.get("/moderation")
    assert "Лучшее казино онлайн" not in page and "Хочу посмотреть квартиру" not in page
    _, page = await mgr.get("/moderation/rejected?q=казино")
    assert f'data-inquiry="{spam}"' in page and "реклама казино" in page
    for q in ("%2B79165550001", "8+916+555-00-01", "лучшее+ОНЛАЙН", "promo-site"):  # phone as typed, any case
        _, page = await mgr.get(f"/moderation/rejected?q={q}")
        assert f'data-inquiry="{spam}"' in page, q
    _, page = await mgr.get("/moderation/rejected?q=Арбат")
    assert f'data-inquiry="{spam}"' not in page

    # The client's timeline shows the rejection.
    _, page = await root.get(f"/clients/{rejected.client_id}")
    assert "Отклонена модератором" in page and "реклама казино" in page

    # A second click on a decided request changes nothing.
    resp, _ = await mgr.post(f"/moderation/{spam}/reject", {"reason": "ещё раз"})
    assert resp.headers["Location"] == f"/moderation?done=taken&id={spam}"
    # A rejected request may be restored: it goes to routing after all.
    resp, _ = await mgr.post(f"/moderation/{spam}/accept")
    assert resp.headers["Location"] == f"/moderation?done=accepted&id={spam}"
    assert (await _inquiry(running, spam)).status != InquiryStatus.ARCHIVED


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # access rules: storage is checked on both
async def test_each_role_sees_moderation_as_it_must(running):
    await add_user(running, "engineer", Role.SERVICE_ENGINEER)
    running.hub.connectors["workflow"].gate.rules = running.hub.connectors["workflow"].gate.rules.model_copy(
        update={"channels": ("webform",)})
    waiting = await _form(running, 4, site="agency.ru", text="Сдам комнату")
    north = await _form(running, 5, site="agency.ru", text="Питерская заявка")
    async with running.hub.database.sessions() as s, s.begin():
        (await s.get(Inquiry, north)).department_id = running.agency.other_division_dept

    for login in ("anna", "engineer"):
        b = await running.browser(login)
        for path in ("/moderation", "/moderation/rejected", "/moderation/settings"):
            resp, _ = await b.get(path)
            assert resp.status == 403, (login, path)
        resp, _ = await b.post(f"/moderation/{waiting}/accept")
        assert resp.status == 403
    director = await running.browser("director")
    _, page = await director.get("/moderation")
    assert "Сдам комнату" in page and "Питерская заявка" not in page, "a Moscow director reads Moscow's"
    assert "/accept" not in page, "a director reads, does not decide"
    resp, _ = await director.post(f"/moderation/{waiting}/reject", {"reason": "x"})
    assert resp.status == 403
    mgr = await running.browser("mgr")
    resp, _ = await mgr.get("/moderation/settings")
    assert resp.status == 403, "only the administrator chooses what is moderated"
    resp, _ = await mgr.post(f"/moderation/{north}/reject", {"reason": "x"})
    assert resp.status == 404, "another division's request is out of a Moscow manager's reach"
    assert (await _inquiry(running, north)).status == InquiryStatus.MODERATION
    root = await running.browser("root")
    _, page = await root.get("/moderation")
    assert "Питерская заявка" in page and "Сдам комнату" in page
    resp, _ = await root.post(f"/moderation/{north}/reject", {"reason": "дубль"})
    assert resp.status == 303
    _, page = await root.get("/moderation/rejected")
    assert "Питерская заявка" in page
    _, page = await mgr.get("/moderation/rejected")
    assert "Питерская заявка" not in page
