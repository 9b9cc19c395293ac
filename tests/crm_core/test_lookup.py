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
