"""Failed logins count across instances: five wrong passwords spread over two instances hold that login from
that address on both, and slow the login down on both (the limiter in PostgreSQL, or in Redis when Redis is
the broker) — never lock it for the right password from elsewhere."""

import uuid

import pytest

from config.settings import DatabaseSettings
from crm_core.db import create_engine, session_factory
from tests.conftest import missing_part
from web.ratelimit import DbStore, LoginLimiter, RedisStore


@pytest.fixture(params=["postgres", "redis"])
async def two_instances(request, pg_url):
    if request.param == "redis":
        prefix = f"hub-test:{uuid.uuid4().hex}:"
        stores = [RedisStore("redis://127.0.0.1:6379/0", prefix=prefix) for _ in range(2)]
        yield [LoginLimiter(5, 300, store=s) for s in stores]
        for s in stores:
            await s.redis.aclose()
        return
    if pg_url is None:
        missing_part("PostgreSQL unreachable")
    engines = [create_engine(DatabaseSettings(url=pg_url)) for _ in range(2)]
    yield [LoginLimiter(5, 300, store=DbStore(session_factory(e))) for e in engines]
    for e in engines:
        await e.dispose()


async def test_five_failures_over_two_instances_hold_the_pair_and_slow_the_login_on_both(two_instances):
    a, b = two_instances
    login = f"anna-{uuid.uuid4().hex[:6]}"
    for n in range(5):
        assert await (a if n % 2 else b).check("10.0.0.1", login) == 0
        await (a if n % 2 else b).record_failure("10.0.0.1", login)
    for limiter in (a, b):
        wait = await limiter.check("10.0.0.1", login)  # this login from this address waits out the window
        assert 290 < wait <= 301
        assert await limiter.check("10.0.0.9", login) == 0  # from another address it is only slowed down
        assert await limiter.delay(login) == 0.25
    assert await a.check("10.0.0.1", "someone-else") == 0 and await a.delay("someone-else") == 0
    await b.record_success("10.0.0.9", login)
    assert await a.check("10.0.0.1", login) > 0  # a right password elsewhere does not free the guessing pair
    await b.record_success("10.0.0.1", login)
    assert await a.check("10.0.0.1", login) == 0
