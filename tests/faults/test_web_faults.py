"""The web shell at its edges: ids no row can have, unknown paths and wrong methods, and login throttling that
cannot lock a right password out (per login and address; behind a trusted proxy, per forwarded client)."""

import logging
import re
import time
from datetime import UTC, datetime, timedelta

import pytest

from config.loader import SettingsError, load_settings
from crm_core.models.cluster import LoginFailure
from tests.web.conftest import PASSWORD, running  # noqa: F401 - the running hub
from web.guard import ROW_ID_MAX, is_row_id, row_id
from web.keys import LIMITER
from web.ratelimit import MAX_DELAY_S, DbStore, LoginLimiter, MemoryStore, client_address

PROXY = ["127.0.0.1"]  # the tests' client is the reverse proxy: it writes X-Forwarded-For itself
A, B = "203.0.113.5", "198.51.100.7"
BIG = ["9223372036854775808", "22619944887071807635456", str(ROW_ID_MAX + 1), "9" * 3000]
NOT_IDS = ["-1", "abc", "1e3", "0x1f", "٣", "²", " 1"]


@pytest.fixture
def hub_sections():
    return {"web": {"port": 0, "trusted_proxies": PROXY}}


def no_errors(caplog):
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]


def routes_with_ids(app):
    """Every route of the running app that has a row id in its path: (methods, formatter, pattern, id names)."""
    found = []
    for resource in app.router.resources():
        info = resource.get_info()
        formatter = info.get("formatter")
        if not formatter:
            continue
        names = re.findall(r"\{([^}:]+)\}", formatter)
        ids = [n for n in names if is_row_id(n)]
        if ids:
            methods = sorted({r.method for r in resource} - {"HEAD", "OPTIONS"})
            found.append((methods, formatter, info["pattern"], ids, [n for n in names if n not in ids]))
    return found


def fill(formatter, pattern, ids, others, id_value):
    """The path with ``id_value`` for each id and, for every other parameter, a value the route accepts."""
    for choice in ("x", "listen", "csv", "new"):
        path = formatter.format(**dict.fromkeys(ids, "1"), **dict.fromkeys(others, choice))
        if pattern.fullmatch(path):
            return formatter.format(**dict.fromkeys(ids, id_value), **dict.fromkeys(others, choice))
    raise AssertionError(f"no value fits the other parameters of {formatter}")


async def test_ids_no_row_can_have_answer_404_on_every_route_without_a_traceback(running, caplog):  # noqa: F811
    routes = routes_with_ids(running.server.app)
    assert len(routes) >= 22, [f for _, f, *_ in routes]  # the shell's and every capability's
    root = await running.browser("root")
    await root.get("/inbox")
    answers = {}
    for methods, formatter, pattern, ids, others in routes:
        for value in BIG + NOT_IDS:
            path = fill(formatter, pattern, ids, others, value)
            for method in methods:
                if method == "GET":
                    resp, _ = await root.get(path)
                elif method == "POST":
                    resp, _ = await root.post(path, {"text": "x"})
                else:  # the API's PATCH and PUT
                    resp = await root.http.request(method, running.base + path, json={},
                                                   headers={"X-CSRF-Token": root.csrf})
                answers[(method, formatter, value[:30])] = resp.status
    wrong = {k: v for k, v in answers.items() if v != 404}
    assert not wrong, wrong
    assert no_errors(caplog) == []
    resp, _ = await root.get("/api/inquiries/22619944887071807635456")  # the API answers RFC 9457 problems
    assert resp.status == 404 and resp.content_type == "application/problem+json"
    assert (await resp.json())["detail"] == "Не найдено"


async def test_an_id_in_range_still_reaches_the_handler(running):  # noqa: F811
    root = await running.browser("root")
    resp, _ = await root.get(f"/api/inquiries/{ROW_ID_MAX}")  # a number the column holds: the handler says 404
    assert resp.status == 404
    resp, _ = await root.get(f"/api/clients/{ROW_ID_MAX}")
    assert resp.status == 404
    agent = running.agency.users["anna"]
    resp, page = await root.get(f"/admin/routing/agents/{agent}")
    assert resp.status == 200 and "Anna" in page


def test_the_row_id_rule():
    assert [row_id(v) for v in ("1", "007", str(ROW_ID_MAX))] == [1, 7, ROW_ID_MAX]
    assert all(row_id(v) is None for v in BIG + NOT_IDS + ["", "1.0", "１"])  # a full-width digit too
    assert is_row_id("id") and is_row_id("date_id") and is_row_id("rec") and not is_row_id("linkedid")


async def test_every_route_with_a_parameter_answers_a_huge_value_without_a_server_error(running, caplog):  # noqa: F811
    """Not only ids: each parameter of each route gets a huge number; no 5xx, no ERROR line."""
    root = await running.browser("root")
    await root.get("/inbox")
    failures = {}
    for resource in running.server.app.router.resources():
        formatter = resource.get_info().get("formatter")
        if not formatter:
            continue
        names = re.findall(r"\{([^}:]+)\}", formatter)
        path = formatter.format(**dict.fromkeys(names, "9" * 40))
        for method in sorted({r.method for r in resource} - {"HEAD", "OPTIONS"}):
            resp, _ = await (root.get(path) if method == "GET" else root.post(path, {"text": "x"}))
            if resp.status >= 500:
                failures[(method, path[:60])] = resp.status
    assert failures == {} and no_errors(caplog) == []


async def test_unknown_paths_are_404_and_wrong_methods_405_without_error_lines(running, caplog):  # noqa: F811
    anonymous, agent = await running.browser(), await running.browser("anna")
    for browser in (anonymous, agent):
        resp, page = await browser.get("/no-such-page")
        assert resp.status == 404 and "Не найдено" in page and resp.content_type == "text/html"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        resp, _ = await browser.get("/api/no-such")
        assert resp.status == 404 and (await resp.json())["detail"] == "Не найдено"
        resp, _ = await browser.get("/wp-login.php")
        assert resp.status == 404
        resp, _ = await browser.post("/inbox", {})
        assert resp.status == 405 and set(resp.headers["Allow"].split(", ")) == {"GET", "HEAD"}
        resp, _ = await browser.get("/logout")
        assert resp.status == 405 and resp.headers["Allow"] == "POST"
        resp = await browser.http.delete(running.base + "/api/me")
        assert resp.status == 405 and (await resp.json())["detail"] and resp.headers["Allow"] == "GET"
    assert no_errors(caplog) == []
    assert not [r for r in caplog.records if "declares no role check" in r.getMessage()]


async def test_the_favicon_is_served_and_linked(running, caplog):  # noqa: F811
    browser = await running.browser()
    resp, page = await browser.get("/login")
    assert '<link rel="icon" href="/static/favicon.svg"' in page
    for path in ("/favicon.ico", "/static/favicon.svg"):
        resp, body = await browser.get(path)
        assert resp.status == 200 and resp.content_type == "image/svg+xml" and body.startswith("<svg"), path
    assert no_errors(caplog) == []


async def login_from(browser, address, login, password=PASSWORD, forwarded=None):
    """A login through the trusted proxy for a client at ``address`` (``forwarded``: what the client itself
    wrote into X-Forwarded-For; the proxy appends the address it saw)."""
    header = {"X-Forwarded-For": f"{forwarded}, {address}" if forwarded else address}
    await browser.get("/login", headers=header)
    return await browser.post("/login", {"login": login, "password": password}, headers=header)


async def test_five_bad_passwords_from_one_address_do_not_stop_the_right_one_from_another(running):  # noqa: F811
    attacker = await running.browser()
    for _ in range(5):
        resp, _ = await login_from(attacker, A, "oleg", "guess-guess")
        assert resp.status == 401
    resp, page = await login_from(attacker, A, "oleg")  # this pair waits out its window, right password or not
    assert resp.status == 429 and "Слишком много попыток" in page and int(resp.headers["Retry-After"]) > 250
    owner = await running.browser()
    resp, _ = await login_from(owner, B, "oleg")
    assert resp.status == 303  # the owner, elsewhere, gets in (a little slowed down)


async def test_behind_a_trusted_proxy_users_are_limited_apart_and_cannot_pick_their_address(running):  # noqa: F811
    one, two = await running.browser(), await running.browser()
    for _ in range(5):
        resp, _ = await login_from(one, A, "anna", "not-her-password")
        assert resp.status == 401
    resp, _ = await login_from(one, A, "anna", forwarded=B)  # claims to be B: the proxy saw A
    assert resp.status == 429
    resp, _ = await login_from(two, B, "anna")
    assert resp.status == 303
    resp, _ = await login_from(await running.browser(), A, "maria")  # another login from A (one office NAT)
    assert resp.status == 303


async def test_without_a_trusted_proxy_the_forwarded_header_is_not_believed(running):  # noqa: F811
    running.server.app[LIMITER].trusted = ()  # the same hub, configured with no proxy
    browser = await running.browser()
    for n in range(5):
        resp, _ = await login_from(browser, f"192.0.2.{n}", "boss", "wrong-one")
        assert resp.status == 401
    resp, _ = await login_from(browser, "192.0.2.99", "boss")  # a new X-Forwarded-For changes nothing
    assert resp.status == 429


async def test_failures_of_one_login_from_everywhere_only_slow_it_down(running):  # noqa: F811
    browser = await running.browser()
    for n in range(8):  # a guesser with many addresses
        resp, page = await login_from(browser, f"192.0.2.{n + 1}", "director", "guess")
        assert resp.status == 401, n
    assert "замедлен" in page
    started = time.monotonic()
    resp, _ = await login_from(await running.browser(), "192.0.2.200", "director")
    took = time.monotonic() - started
    assert resp.status == 303
    assert 2.0 <= took < MAX_DELAY_S + 5  # 8 failures: 0.25 s doubled three times; capped at MAX_DELAY_S


def test_the_client_address_is_the_right_most_untrusted_hop():
    import ipaddress

    trusted = [ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8")]
    assert client_address("127.0.0.1", ["198.51.100.7"], []) == "127.0.0.1"  # no proxy configured
    assert client_address("192.0.2.1", ["198.51.100.7"], trusted) == "192.0.2.1"  # the peer is no proxy
    assert client_address("127.0.0.1", ["6.6.6.6, 198.51.100.7, 10.1.2.3"], trusted) == "198.51.100.7"
    assert client_address("127.0.0.1", ["6.6.6.6", "198.51.100.7:5123"], trusted) == "198.51.100.7"
    assert client_address("127.0.0.1", ["[2001:db8::7]:443"], trusted) == "2001:db8::7"
    assert client_address("127.0.0.1", ["10.0.0.9"], trusted) == "10.0.0.9"  # all trusted: the left-most
    assert client_address("127.0.0.1", [], trusted) == "127.0.0.1"
    assert client_address("::ffff:127.0.0.1", ["198.51.100.7"], trusted) == "198.51.100.7"
    assert client_address("127.0.0.1", ["198.51.100.7, garbage, 10.0.0.2"], trusted) == "10.0.0.2"


def test_trusted_proxies_are_checked_at_start(tmp_path):
    cfg = tmp_path / "hub.toml"
    cfg.write_text('[web]\ntrusted_proxies = ["127.0.0.1", "10.0.0.0/8"]\n', encoding="utf-8")
    assert load_settings(cfg, environ={}).web.trusted_proxies == ("127.0.0.1/32", "10.0.0.0/8")
    cfg.write_text('[web]\ntrusted_proxies = ["nginx.local"]\n', encoding="utf-8")
    with pytest.raises(SettingsError, match="trusted_proxies"):
        load_settings(cfg, environ={})
    assert load_settings(None, environ={}).web.trusted_proxies == ()


async def test_the_limits_in_the_database(db):
    """The store several instances share (on PostgreSQL in production; the same code on SQLite)."""
    limiter = LoginLimiter(5, 300, store=DbStore(db.sessions))
    async with db.sessions() as s, s.begin():  # a row of the old per-address key, long past its window
        s.add(LoginFailure(key="ip:10.0.0.1", at=datetime.now(UTC) - timedelta(hours=2)))
    for _ in range(5):
        assert await limiter.check(A, "Anna") == 0
        await limiter.record_failure(A, "Anna")
    assert 290 < await limiter.check(A, "anna") <= 301  # the pair is held (logins compare case-blind)
    assert await limiter.check(B, "anna") == 0 and await limiter.check(A, "maria") == 0
    assert await limiter.delay("anna") == 0.25 and await limiter.delay("maria") == 0
    for _ in range(5):
        await limiter.record_failure(B, "anna")
    assert await limiter.delay("anna") == MAX_DELAY_S  # ten failures: capped, never a ban
    await limiter.record_success(B, "anna")
    assert await limiter.check(B, "anna") == 0 and await limiter.check(A, "anna") > 0
    async with db.sessions() as s:
        keys = {k for (k,) in (await s.execute(LoginFailure.__table__.select().with_only_columns(
            LoginFailure.key))).all()}
    assert "ip:10.0.0.1" not in keys  # swept with the first new failure


async def test_the_limits_run_out_with_the_window():
    now = [1000.0]
    limiter = LoginLimiter(3, 60, store=MemoryStore(clock=lambda: now[0]))
    for _ in range(3):
        await limiter.record_failure(A, "oleg")
    assert await limiter.check(A, "oleg") == 61 and await limiter.delay("oleg") == 0.25
    now[0] += 30
    assert await limiter.check(A, "oleg") == 31
    now[0] += 31
    assert await limiter.check(A, "oleg") == 0 and await limiter.delay("oleg") == 0
