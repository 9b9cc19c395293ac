"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright against a running hub on SQLite."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from config.settings import DatabaseSettings
from crm_core.db import create_engine, session_factory
from crm_core.migrate import migrate
from tests.conftest import Db, missing_part
from tests.web.conftest import hub_sections, running  # noqa: F401 - the running hub, over the db below

CHROMIUM = os.environ.get("HUB_TEST_CHROMIUM", "/usr/bin/chromium")
HAVE_CHROMIUM = Path(CHROMIUM).exists()
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Db]:
    """Pages are checked on SQLite only; storage is checked on both backends elsewhere."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}"
    engine = create_engine(DatabaseSettings(url=url))
    await migrate(engine)
    yield Db(url, engine, session_factory(engine))
    await engine.dispose()


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    if not HAVE_CHROMIUM:
        missing_part(f"Chromium not installed at {CHROMIUM} (scripts/install-test-parts.sh installs it)")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        missing_part("playwright is not installed (pip install -e '.[test]')")
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield b
        finally:
            await b.close()


async def log_in(browser, base: str, login: str, password: str):  # noqa: ANN001, ANN201
    context = await browser.new_context(locale="ru-RU")
    page = await context.new_page()
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    await page.goto(base + "/login")
    await page.fill("input[name=login]", login)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_url(base + "/inbox")
    return page
