"""Agency workflow tests: a small agency on each database (two divisions, three departments, every role)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from crm_core.access import Actor, actor_for
from crm_core.intake import IntakeRequest, IntakeService
from crm_core.models import Channel, Department, Division, Inquiry, Role, User


@dataclass
class World:
    db: object
    intake: IntakeService
    departments: dict[str, int] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    actors: dict[str, Actor] = field(default_factory=dict)

    @property
    def sessions(self):  # noqa: ANN201
        return self.db.sessions

    async def inquiry(self, owner: str | None, *, phone: str, name: str = "Клиент", ext: str | None = None) -> int:
        """An inquiry from a call, given to ``owner`` (in their department) as routing would."""
        result = await self.intake.accept(IntakeRequest(channel=Channel.CALL, external_id=ext or f"call-{phone}",
                                                        phone=phone, name=name, text="Звонок"))
        if owner is not None:
            async with self.sessions() as s, s.begin():
                inquiry = await s.get(Inquiry, result.inquiry_id)
                inquiry.owner_id = self.users[owner]
                inquiry.department_id = self.actors[owner].department_id
                inquiry.status = "in_work"
        return result.inquiry_id


PEOPLE = [
    ("root", Role.ADMIN, None), ("anna", Role.AGENT, "sales"), ("oleg", Role.AGENT, "sales"),
    ("maria", Role.AGENT, "rent"), ("boss", Role.DEPT_HEAD, "sales"), ("mgr", Role.DEPT_MANAGER, "rent"),
    ("director", Role.DIRECTOR, "sales"), ("spbagent", Role.AGENT, "north"), ("spbhead", Role.DEPT_HEAD, "north"),
    ("caller", Role.AGENT, "cc"),
]


@pytest.fixture
async def world(db, bus) -> World:  # noqa: ANN001
    w = World(db, IntakeService(db.sessions, bus))
    async with db.sessions() as s, s.begin():
        moscow, spb = Division(name="Москва"), Division(name="Петербург")
        s.add_all([moscow, spb])
        await s.flush()
        for key, name, division in (("sales", "Продажи", moscow), ("rent", "Аренда", moscow),
                                    ("north", "Север", spb), ("cc", "Колл-центр", None)):
            d = Department(name=name, division_id=division.id if division else None)
            s.add(d)
            await s.flush()
            w.departments[key] = d.id
        for login, role, dept in PEOPLE:
            u = User(login=login, password_hash="x", full_name=login.title(), role=role,
                     department_id=w.departments.get(dept) if dept else None)
            s.add(u)
            await s.flush()
            w.users[login] = u.id
    async with db.sessions() as s:
        for login, uid in w.users.items():
            w.actors[login] = await actor_for(s, uid)
    return w
