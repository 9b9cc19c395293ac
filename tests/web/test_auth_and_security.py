"""Login, sessions, CSRF, rate limits and headers, as a person at the browser meets them."""

from aiohttp import ClientSession
from yarl import URL

from tests.web.conftest import PASSWORD


async def test_pages_need_a_login_and_the_api_says_401(running):
    b = await running.browser()
    resp, _ = await b.get("/inbox")
    assert resp.status == 303 and resp.headers["Location"] == "/login"
    resp, text = await b.get("/api/inquiries")
    assert resp.status == 401


async def test_wrong_password_is_refused_and_the_right_one_lets_in(running):
    b = await running.browser()
    resp, text = await b.login("anna", "wrong-password")
    assert resp.status == 401 and "Неверный логин или пароль" in text
    resp, _ = await b.login("anna")
    assert resp.status == 303
    resp, text = await b.get("/inbox")
    assert resp.status == 200 and "Anna" in text


async def test_session_id_changes_at_login(running):
    b = await running.browser()
    await b.get("/login")
    before = b.http.cookie_jar.filter_cookies(URL(running.base))["hub_sid"].value
    await b.post("/login", {"login": "anna", "password": PASSWORD})
    after = b.http.cookie_jar.filter_cookies(URL(running.base))["hub_sid"].value
    assert before != after
    # the pre-login session id is dead: presenting it again gives no access
    async with ClientSession(cookies={"hub_sid": before}) as stale:
        resp = await stale.get(running.base + "/inbox", allow_redirects=False)
        assert resp.status == 303


async def test_too_many_failed_logins_are_slowed_down(running):
    b = await running.browser()
    for _ in range(5):
        resp, _ = await b.login("oleg", "nope-nope")
        assert resp.status == 401
    resp, text = await b.login("oleg")  # even the right password waits out the window
    assert resp.status == 429 and "Слишком много попыток" in text


async def test_form_post_without_csrf_token_is_refused(running):
    b = await running.browser("root")
    resp, _ = await b.post("/admin/departments", {"name": "Офис на Арбате"}, csrf=False)
    assert resp.status == 403
    resp, _ = await b.post("/admin/departments", {"name": "Офис на Арбате", "_csrf": "forged"}, csrf=False)
    assert resp.status == 403
    resp, text = await b.post("/admin/departments", {"name": "Офис на Арбате"})
    assert resp.status == 200 and "Офис на Арбате" in text


async def test_login_form_itself_needs_csrf(running):
    b = await running.browser()
    await b.get("/login")
    resp, _ = await b.post("/login", {"login": "anna", "password": PASSWORD}, csrf=False)
    assert resp.status == 403


async def test_logout_ends_the_session(running):
    b = await running.browser("anna")
    resp, _ = await b.post("/logout")
    assert resp.status == 303
    resp, _ = await b.get("/inbox")
    assert resp.status == 303 and resp.headers["Location"] == "/login"


async def test_every_page_carries_security_headers(running):
    b = await running.browser("anna")
    for path in ("/login", "/inbox", "/api/me", "/healthz", "/no-such-page"):
        resp, _ = await b.get(path)
        csp = resp.headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert resp.headers.get("X-Content-Type-Options") == "nosniff", path
    cookie = [h for h in (await b.http.get(running.base + "/login")).headers.getall("Set-Cookie", [])]
    assert all("HttpOnly" in c and "SameSite=Lax" in c for c in cookie)


async def test_agents_cannot_open_admin_pages(running):
    b = await running.browser("anna")
    resp, _ = await b.get("/admin/users")
    assert resp.status == 403
    await b.get("/inbox")
    resp, _ = await b.post("/admin/users", {"login": "evil", "full_name": "x", "password": "12345678",
                                            "role": "admin"})
    assert resp.status == 403


async def test_admin_creates_a_user_with_field_errors_shown(running):
    b = await running.browser("root")
    await b.get("/admin/users")
    resp, text = await b.post("/admin/users", {"login": "bad login", "full_name": "", "password": "short",
                                               "role": "king"})
    assert resp.status == 422
    for name in ("login", "full_name", "password", "role"):
        assert f'data-field="{name}"' in text
    resp, text = await b.post("/admin/users", {"login": "vera", "full_name": "Вера Новикова",
                                               "password": "long-enough-pw", "role": "agent",
                                               "department_id": str(running.agency.sales)})
    assert resp.status == 200 and "Вера Новикова" in text
    assert "long-enough-pw" not in text
    fresh = await running.browser()
    resp, _ = await fresh.login("vera", "long-enough-pw")
    assert resp.status == 303
    resp, _ = await fresh.get("/api/me")
    assert (await resp.json())["role"] == "agent"


async def test_admin_gives_a_manager_departments_to_serve_and_agents_cannot(running):
    mgr = running.agency.users["mgr"]
    agent = await running.browser("anna")
    await agent.get("/inbox")
    resp, _ = await agent.post(f"/admin/users/{mgr}/served", {"department_id": str(running.agency.sales)})
    assert resp.status == 403
    root = await running.browser("root")
    await root.get("/admin/users")
    resp, _ = await root.post(f"/admin/users/{mgr}/served", {"department_id": "999999"})
    assert resp.status == 422
    resp, _ = await root.post(f"/admin/users/{running.agency.users['anna']}/served",
                              {"department_id": str(running.agency.sales)})
    assert resp.status == 404  # only department managers and heads serve departments
    resp, _ = await root.post(f"/admin/users/{mgr}/served", {"department_id": str(running.agency.sales)})
    assert resp.status == 303
    _, text = await root.get("/admin/users")
    assert f'<option value="{running.agency.sales}" selected>' in text
