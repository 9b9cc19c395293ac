"""The running hub (real aiohttp server) over each database, with the small agency of tests/web."""

from __future__ import annotations

from crm_core.models import Role, User
from tests.web.conftest import _password_hash, hub_sections, running  # noqa: F401 - fixtures used here


async def add_user(hub_running, login: str, role: Role, department_id: int | None = None) -> int:  # noqa: ANN001
    async with hub_running.hub.database.sessions() as s, s.begin():
        user = User(login=login, password_hash=_password_hash(), full_name=login.title(), role=role,
                    department_id=department_id)
        s.add(user)
        await s.flush()
        hub_running.agency.users[login] = user.id
        return user.id
