"""The caller-ID lookup: any everyday format finds the one client; unknown or garbage numbers find nobody."""

from crm_core.lookup import ClientCard, find_client_by_phone
from crm_core.models import Client, Contact, ContactKind


async def _client_with_phone(db, e164: str, name: str, company: str | None = None) -> int:
    async with db.sessions() as s, s.begin():
        client = Client(name=name, company_name=company)
        s.add(client)
        await s.flush()
        s.add(Contact(client_id=client.id, kind=ContactKind.PHONE, value=e164))
    return client.id


async def test_all_four_formats_find_the_same_client(db):
    wanted = await _client_with_phone(db, "+79161234567", "Иван Петров", "ООО Ромашка")
    await _client_with_phone(db, "+79161234568", "Сосед по номеру")
    async with db.sessions() as s:
        cards = {raw: await find_client_by_phone(s, raw)
                 for raw in ("8 916 123-45-67", "+7 (916) 123 45 67", "79161234567", "9161234567")}
    expected = ClientCard(client_id=wanted, name="Иван Петров", company_name="ООО Ромашка", owner_id=None)
    assert cards == dict.fromkeys(cards, expected)


async def test_unknown_and_garbage_numbers_give_none(db):
    await _client_with_phone(db, "+79161234567", "Иван Петров")
    async with db.sessions() as s:
        for raw in ("+7 916 000-00-00", "89160000000", "", "   ", "12", "anonymous", "<unknown>", "+7 916 123"):
            assert await find_client_by_phone(s, raw) is None, raw


async def test_an_email_with_the_same_text_is_not_a_phone(db):
    client_id = await _client_with_phone(db, "+79161234567", "Иван Петров")
    async with db.sessions() as s, s.begin():
        s.add(Contact(client_id=client_id, kind=ContactKind.EMAIL, value="+79990000000"))
    async with db.sessions() as s:
        assert await find_client_by_phone(s, "+7 999 000-00-00") is None


async def test_the_pop_ups_own_sqlite_connection_finds_what_the_pool_finds_and_falls_back_when_it_cannot(tmp_path):
    """``SqliteCallerLookup``: the same card as the pooled lookup in every format, a client stored after
    its connection opened is found at once, and a failing read goes through the pool instead."""
    import sqlite3

    from config.settings import DatabaseSettings
    from crm_core.db import create_engine, session_factory
    from crm_core.lookup import SqliteCallerLookup
    from crm_core.migrate import migrate

    path = tmp_path / "hub.sqlite3"
    engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{path}"))
    await migrate(engine)

    class Db:
        sessions = session_factory(engine)

    pooled_calls: list[str] = []

    async def pooled(raw: str) -> ClientCard | None:
        pooled_calls.append(raw)
        async with Db.sessions() as s:
            return await find_client_by_phone(s, raw)

    try:
        lookup = SqliteCallerLookup(str(path), "RU", pooled)
        assert await lookup("+7 916 123-45-67") is None  # opens its connection on an empty database
        wanted = await _client_with_phone(Db, "+79161234567", "Иван Петров", "ООО Ромашка")
        expected = ClientCard(client_id=wanted, name="Иван Петров", company_name="ООО Ромашка", owner_id=None)
        for raw in ("8 916 123-45-67", "+7 (916) 123 45 67", "79161234567", "9161234567"):
            assert await lookup(raw) == expected == await pooled(raw), raw
        assert await lookup("anonymous") is None and await lookup("+7 916 000-00-00") is None
        assert lookup.direct == 6 and lookup.fallbacks == 0

        def locked(e164: str) -> tuple | None:
            raise sqlite3.OperationalError("database is locked")

        lookup._read = locked  # noqa: SLF001 - as if another connection held the file exclusively
        pooled_calls.clear()
        assert await lookup("89161234567") == expected
        assert pooled_calls == ["89161234567"] and lookup.fallbacks == 1
        lookup.close()
    finally:
        await engine.dispose()


async def test_the_pop_ups_own_postgresql_connection_finds_the_caller_and_survives_losing_it(pg_url):
    """``PgCallerLookup``: every format finds the client on a connection of its own (not the pool), an unknown
    number finds nobody, and when its connection is killed the pool answers and the next read reconnects."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from config.settings import DatabaseSettings
    from crm_core.db import create_engine, session_factory
    from crm_core.lookup import PgCallerLookup

    if pg_url is None:
        from tests.conftest import missing_part

        missing_part("PostgreSQL unreachable")
    engine = create_engine(DatabaseSettings(url=pg_url))

    class Db:
        sessions = session_factory(engine)

    pooled: list[str] = []

    async def through_pool(raw: str) -> ClientCard | None:
        pooled.append(raw)
        async with Db.sessions() as s:
            return await find_client_by_phone(s, raw)

    dsn = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    lookup = PgCallerLookup(dsn, "RU", through_pool)
    try:
        async with Db.sessions() as s, s.begin():
            await s.execute(text("DELETE FROM contacts WHERE value = '+79165550101'"))
        wanted = await _client_with_phone(Db, "+79165550101", "Ольга Звонкова")
        for raw in ("8 916 555-01-01", "+7 (916) 555 01 01", "9165550101"):
            card = await lookup(raw)
            assert card is not None and (card.client_id, card.name) == (wanted, "Ольга Звонкова")
        assert await lookup("+7 916 000-00-00") is None
        assert (lookup.direct, pooled) == (4, [])
        async with Db.sessions() as s, s.begin():  # its connection is killed, and the server cannot be reached
            await s.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": lookup._conn.get_server_pid()})
        lookup._dsn = dsn.replace(f":{make_url(pg_url).port or 5432}/", ":1/")
        card = await lookup("89165550101")  # the pool answers, nothing is lost
        assert card is not None and card.client_id == wanted
        assert (lookup.fallbacks, pooled) == (1, ["89165550101"])
        lookup._dsn = dsn  # the server is back: the next read is its own again, on a new connection
        card = await lookup("89165550101")
        assert card is not None and card.client_id == wanted and lookup.direct == 5
    finally:
        await lookup.close()
        await engine.dispose()
