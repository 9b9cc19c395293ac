"""A small known agency week for the report tests: 2026-03-02 (Monday) to 2026-03-08 (Sunday), Moscow time.

The figures each report must show are worked out by hand in the tests from what is written here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from crm_core.models import Call, Client, Inquiry, InquiryStatus, Message, Pool, Property
from crm_core.models.agency import PropertyLink

MSK = timedelta(hours=3)
CLIENT_FORMULA_NAME = "=HYPERLINK(\"http://evil.example\",\"x\")"


def msk(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    """A Moscow wall-clock time in March 2026, as aware UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=UTC) - MSK


@dataclass
class World:
    inquiries: dict[str, int] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    properties: dict[str, int] = field(default_factory=dict)


async def seed_world(sessions, a) -> World:  # noqa: ANN001 - a: tests.web.conftest.Agency
    u, w = a.users, World()
    async with sessions() as s, s.begin():
        owned = Client(name="Анна клиент", owner_id=u["anna"], department_id=a.sales)
        nobody = Client(name=CLIENT_FORMULA_NAME)  # a number that called: not anybody's client yet
        sunday = Client(name="Воскресный")
        s.add_all([owned, nobody, sunday])
        await s.flush()
        p1 = Property(address="Тверская, 1", district="ЦАО", department_id=a.sales)
        p2 = Property(address="Лиговский, 5", district="Центральный")
        s.add_all([p1, p2])
        await s.flush()
        w.properties = {"p1": p1.id, "p2": p2.id}

        def inq(key: str, created: datetime, **kw: object) -> Inquiry:
            i = Inquiry(client_id=kw.pop("client_id", owned.id), external_id=key, created_at=created, **kw)
            s.add(i)
            return i

        i1 = inq("i1", msk(2, 9, 10), channel="call", did="+74950000001", source="+74950000001",
                 owner_id=u["anna"], department_id=a.sales, status=InquiryStatus.DONE, accepted_at=msk(2, 9, 11),
                 closed_at=msk(3, 12), property_id=p1.id)
        inq("i2", msk(3, 11), channel="webform", source="yandex", utm={"utm_source": "yandex"},
            owner_id=u["anna"], department_id=a.sales, status=InquiryStatus.IN_WORK, accepted_at=msk(3, 11, 30))
        i3 = inq("i3", msk(4, 10), channel="email", owner_id=u["oleg"], department_id=a.sales)
        inq("i4", msk(5, 10), channel="email", owner_id=u["oleg"], department_id=a.sales)
        inq("i5", msk(6, 10), channel="telegram", owner_id=u["maria"], department_id=a.rent,
            status=InquiryStatus.ARCHIVED, accepted_at=msk(6, 11))
        i6 = inq("i6", msk(2, 9, 20), channel="webform", source="site.ru", pool=Pool.DEPARTMENT,
                 department_id=a.sales, client_id=nobody.id)
        inq("i7", msk(7, 10), channel="visit", owner_id=u["spbagent"], department_id=a.other_division_dept,
            status=InquiryStatus.DONE, accepted_at=msk(7, 10), closed_at=msk(7, 12))
        inq("i8", msk(20, 10, month=2), channel="email", owner_id=u["anna"], department_id=a.sales,
            status=InquiryStatus.DONE, closed_at=msk(21, 10, month=2))  # before the week
        inq("i9", msk(9, 0, 10), channel="email", owner_id=u["anna"], department_id=a.sales)  # Monday after, 00:10
        inq("i10", msk(8, 23, 50), channel="email", owner_id=u["anna"], department_id=a.sales,
            status=InquiryStatus.DONE)  # Sunday 23:50, in the week
        await s.flush()
        s.add(Message(inquiry_id=i3.id, channel="email", external_id="reply-i3", direction="out", body="Ответ"))
        w.inquiries = {"i1": i1.id, "i3": i3.id, "i6": i6.id}

        def call(key: str, **kw: object) -> Call:
            c = Call(uniqueid=key, linkedid=key, **kw)
            s.add(c)
            return c

        c1 = call("c1", direction="inbound", caller="+79160000001", did="+74950000001", agent_id=u["anna"],
                  client_id=owned.id, inquiry_id=i1.id, started_at=msk(2, 9, 10), answered_at=msk(2, 9, 11),
                  ended_at=msk(2, 9, 16), wait_s=20, talk_s=300, outcome="answered")
        c2 = call("c2", direction="inbound", caller="+79160000002", caller_name=CLIENT_FORMULA_NAME,
                  did="+74950000001", client_id=nobody.id, inquiry_id=i6.id, started_at=msk(2, 9, 20),
                  ended_at=msk(2, 9, 21), wait_s=40, outcome="abandoned")
        call("c3", direction="outbound", caller="102", callee="+79160000002", agent_id=u["oleg"],
             started_at=msk(2, 9, 31), answered_at=msk(2, 9, 32), ended_at=msk(2, 9, 35), talk_s=180,
             outcome="answered")
        c4 = call("c4", direction="inbound", caller="+79160000003", did="+74950000002", started_at=msk(3, 23, 50),
                  ended_at=msk(3, 23, 51), wait_s=30, outcome="no_answer")
        c5 = call("c5", direction="inbound", caller="+79160000004", did="+74950000002", agent_id=u["maria"],
                  client_id=sunday.id, started_at=msk(8, 0, 30), answered_at=msk(8, 0, 31), ended_at=msk(8, 0, 33),
                  wait_s=10, talk_s=120, outcome="answered")
        c6 = call("c6", direction="inbound", caller="+79160000001", did="+74950000001", agent_id=u["anna"],
                  client_id=owned.id, started_at=msk(4, 14, 5), answered_at=msk(4, 14, 6), ended_at=msk(4, 14, 7),
                  wait_s=5, talk_s=60, outcome="answered")
        call("c0", direction="inbound", caller="+79160000009", agent_id=u["anna"], started_at=msk(20, 10, month=2),
             answered_at=msk(20, 10, month=2), talk_s=60, outcome="answered")  # before the week
        await s.flush()
        s.add_all([PropertyLink(property_id=p1.id, call_id=c6.id), PropertyLink(property_id=p2.id, call_id=c5.id),
                   PropertyLink(property_id=p1.id, call_id=c1.id)])  # c1 also through i1: counted once
        w.calls = {"c1": c1.id, "c2": c2.id, "c4": c4.id, "c5": c5.id, "c6": c6.id}
    return w
