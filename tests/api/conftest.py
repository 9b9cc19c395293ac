"""A running hub with the small agency (tests/web/conftest.py), plus API tokens made as an administrator would."""

from __future__ import annotations

import pytest

from api import queries
from api.tokens import ALL_SCOPES
from tests.web.conftest import RunningHub, hub_sections, running  # noqa: F401 - fixtures used by these tests


async def make_token(rh: RunningHub, login: str, scopes: tuple[str, ...] = ALL_SCOPES, **kw) -> str:  # noqa: ANN003
    async with rh.hub.database.sessions() as s, s.begin():
        made = await queries.create_token(
            s, name=kw.pop("name", f"{login} integration"), user_id=rh.agency.users[login], scopes=list(scopes),
            allowed_ips=kw.pop("allowed_ips", []), expires_at=kw.pop("expires_at", None),
            rate_per_minute=kw.pop("rate_per_minute", 600), created_by=rh.agency.users["root"])
    return made.text


@pytest.fixture
def bearer():  # noqa: ANN201
    def headers(token: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", **extra}
    return headers
