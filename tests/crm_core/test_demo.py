"""The demo agency a newcomer looks at."""

from sqlalchemy import func, select

from crm_core.demo import load_demo_data
from crm_core.models import Client, Contact, Inquiry, Pool, User
from crm_core.users import authenticate


async def test_demo_agency_loads_once_with_the_trace_agents_and_callers(db):
    first = await load_demo_data(db.sessions, password="demo-password-1")
    second = await load_demo_data(db.sessions, password="demo-password-1")
    assert first.created and not second.created
    assert (first.users, first.clients, first.inquiries) == (second.users, second.clients, second.inquiries)
    async with db.sessions() as s:
        ext = dict((await s.execute(select(User.extension, User.full_name).where(User.extension.is_not(None)))).all())
        assert ext == {"101": "Анна Смирнова", "102": "Олег Иванов", "103": "Мария Козлова"}
        ivan = (await s.execute(select(Client.name).join(Contact).where(Contact.value == "+79161234567"))).scalar()
        assert ivan == "Иван Петров"
        pools = dict((await s.execute(select(Inquiry.pool, func.count()).group_by(Inquiry.pool))).all())
        assert pools[Pool.DEPARTMENT] > 0 and pools[Pool.COMMON] > 0 and pools[Pool.NONE] > 0
        assert await authenticate(s, "anna", "demo-password-1") is not None
