"""A small agency in the database for routing-service tests: departments, agents, inquiries, a fake clock."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from crm_core.intake import IntakeRequest, IntakeService
from crm_core.models import AgentStatus, Channel, Department, Inquiry, Role, RoutingDecision, User
from routing.calendar import WorkCalendar
from routing.queries import save_rule_data
from routing.service import RoutingService
from tests.routing.world import MSK

_ids = itertools.count(1)


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@dataclass
class Agency:
    sales: int = 0
    rent: int = 0
    users: dict[str, int] = field(default_factory=dict)


async def seed(db, agents: dict[str, tuple[str, str]] | None = None) -> Agency:  # noqa: ANN001
    """``agents``: login → (department "sales"/"rent", status). Adds a department head "boss" in sales."""
    agents = agents or {"anna": ("sales", "available"), "oleg": ("sales", "available"),
                        "ivan": ("sales", "offline"), "maria": ("rent", "available")}
    a = Agency()
    async with db.sessions() as s, s.begin():
        sales, rent = Department(name="Продажи"), Department(name="Аренда")
        s.add_all([sales, rent])
        await s.flush()
        a.sales, a.rent = sales.id, rent.id
        people = [(login, Role.AGENT, dept, status) for login, (dept, status) in agents.items()]
        people.append(("boss", Role.DEPT_HEAD, "sales", "available"))
        for login, role, dept, status in people:
            u = User(login=login, full_name=login.title(), password_hash="x", role=role,
                     department_id=a.sales if dept == "sales" else a.rent, status=AgentStatus(status))
            s.add(u)
            await s.flush()
            a.users[login] = u.id
    return a


async def set_rules(db, rules: list[dict], default: dict | None = None) -> None:  # noqa: ANN001
    data: dict = {"rules": rules}
    if default is not None:
        data["default"] = default
    await save_rule_data(db.sessions, data)


async def open_inquiry(intake: IntakeService, channel: Channel = Channel.WEBFORM, **kw) -> int:  # noqa: ANN003
    n = next(_ids)
    kw.setdefault("phone", f"+7999{n:07d}")
    result = await intake.accept(IntakeRequest(channel=channel, external_id=f"ext-{n}", text="Хочу квартиру", **kw))
    return result.inquiry_id


async def inquiry(db, inquiry_id: int) -> Inquiry:  # noqa: ANN001
    async with db.sessions() as s:
        return (await s.execute(select(Inquiry).where(Inquiry.id == inquiry_id))).scalar_one()


async def decisions(db, inquiry_id: int) -> list[RoutingDecision]:  # noqa: ANN001
    async with db.sessions() as s:
        return list((await s.execute(select(RoutingDecision).where(RoutingDecision.inquiry_id == inquiry_id)
                                     .order_by(RoutingDecision.id))).scalars())


WEDNESDAY_10 = datetime(2025, 3, 5, 10, 0, tzinfo=MSK)


def service(db, bus, clock: FakeClock, work: WorkCalendar | None = None) -> RoutingService:  # noqa: ANN001
    return RoutingService(db.sessions, bus, work=work, clock=clock)
