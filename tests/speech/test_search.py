"""Full-text search over transcripts on both databases: Russian word forms, filters, highlights, who sees what."""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from crm_core.access import actor_for
from crm_core.models import Department, Division, Recording, Role, Transcript, User
from speech import search
from tests.speech.conftest import ANSWERED, add_call

DAY1 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
TEXTS = {
    "anna": "Здравствуйте, агентство недвижимости. Договор аренды подпишем в пятницу.",
    "oleg": "Мы обсудили договором купли квартиры на Профсоюзной <script>alert(1)</script>",
    "maria": "Клиент спрашивал про ипотеку и первый взнос",
}


async def seed(db) -> dict[str, int]:  # noqa: ANN001
    search.install(db.engine)
    ids: dict[str, int] = {}
    async with db.sessions() as s, s.begin():
        div = Division(name="Москва")
        s.add(div)
        await s.flush()
        sales, rent = Department(name="Продажи", division_id=div.id), Department(name="Аренда", division_id=div.id)
        s.add_all([sales, rent])
        await s.flush()
        for login, role, dept in [("anna", Role.AGENT, sales), ("oleg", Role.AGENT, sales),
                                  ("maria", Role.AGENT, rent), ("boss", Role.DEPT_HEAD, sales),
                                  ("root", Role.ADMIN, None)]:
            u = User(login=login, password_hash="x", full_name=login.title(), role=role,
                     department_id=dept.id if dept else None)
            s.add(u)
            await s.flush()
            ids[login] = u.id
        for n, (login, body) in enumerate(TEXTS.items()):
            call_id, rec_id = await add_call(s, ANSWERED, agent_id=ids[login], started_at=DAY1 + timedelta(days=n))
            t = Transcript(recording_id=rec_id, status="done", text=body)
            s.add(t)
            await s.flush()
            await search.index_document(s, t.id, call_id, body)
            ids[f"call:{login}"] = call_id
    return ids


async def find(db, who: int, query: str, **kw) -> list[search.Hit]:  # noqa: ANN001
    async with db.sessions() as s:
        return await search.search(s, await actor_for(s, who), query, **kw)


async def test_any_form_of_a_word_finds_the_call_with_the_match_highlighted(db):
    ids = await seed(db)
    hits = await find(db, ids["root"], "договоры")
    assert {h.call_id for h in hits} == {ids["call:anna"], ids["call:oleg"]}
    anna = next(h for h in hits if h.call_id == ids["call:anna"])
    assert "<mark>Договор</mark>" in anna.snippet and anna.agent_name == "Anna"
    assert [h.call_id for h in await find(db, ids["root"], "ипотеки взносом")] == [ids["call:maria"]]
    assert await find(db, ids["root"], "ипотека пятница") == []  # every word must be there
    assert await find(db, ids["root"], "  !!! ") == []


async def test_client_text_in_a_hit_is_escaped(db):
    ids = await seed(db)
    [hit] = await find(db, ids["root"], "квартира")
    assert "<script>" not in hit.snippet
    assert "<mark>квартиры</mark>" in hit.snippet


async def test_filters_by_agent_and_date(db):
    ids = await seed(db)
    assert [h.call_id for h in await find(db, ids["root"], "договор", agent_id=ids["oleg"])] == [ids["call:oleg"]]
    day2 = DAY1 + timedelta(days=1)
    assert [h.call_id for h in await find(db, ids["root"], "договор", date_from=day2)] == [ids["call:oleg"]]
    assert [h.call_id for h in await find(db, ids["root"], "договор", date_to=day2)] == [ids["call:anna"]]


async def test_agents_find_only_their_calls_and_heads_their_department(db):
    ids = await seed(db)
    assert [h.call_id for h in await find(db, ids["anna"], "договор")] == [ids["call:anna"]]
    assert await find(db, ids["maria"], "договор") == []
    assert {h.call_id for h in await find(db, ids["boss"], "договор")} == {ids["call:anna"], ids["call:oleg"]}
    assert await find(db, ids["boss"], "ипотека") == []  # another department's call


async def test_sqlite_index_file_lost_is_rebuilt_from_the_database(db, tmp_path):
    ids = await seed(db)
    if db.backend != "sqlite":
        async with db.sessions() as s:  # PostgreSQL keeps the vector beside the text: nothing to rebuild
            assert await search.reindex_missing(s) == 0
        return
    await db.engine.dispose()
    for extra in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(search.fts_file(db.engine) + extra)
    assert await find(db, ids["root"], "договор") == []
    async with db.sessions() as s, s.begin():
        assert await search.reindex_missing(s) == 3
    assert len(await find(db, ids["root"], "договор")) == 2
    async with db.sessions() as s:
        assert (await s.execute(select(Recording.id))).all()
