"""``bench.day`` at a tiny scale, on both databases: every outside id (call, form, mail, Telegram update)
becomes exactly one record, and every kind of traffic reaches the hub and the agents' screens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_ADMIN_URL, missing_part

ROOT = Path(__file__).resolve().parents[2]
DOVECOT = "/usr/sbin/dovecot"


def day(*extra: str) -> dict:
    args = [sys.executable, "-m", "bench.day", "--agents", "20", "--clients", "2000", "--seconds", "2",
            "--load", "0.1", "--peer-seconds", "0", *extra]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_tiny_day_loses_nothing_and_every_kind_arrives(backend):
    if not os.path.exists(DOVECOT):
        missing_part("Dovecot is not installed (scripts/install-test-parts.sh installs dovecot-imapd)")
    extra = ("--database", PG_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://")) \
        if backend == "postgres" else ()
    try:
        result = day(*extra)
    except AssertionError as exc:
        if backend == "postgres" and "connect" in str(exc).lower() and "5432" in str(exc):
            missing_part(f"PostgreSQL is not reachable: {str(exc)[-300:]}")
        raise
    assert result["database"] == ("postgresql" if backend == "postgres" else "sqlite")
    assert result["sockets"] == result["agents"] == 20
    assert result["calls"] == 10 and result["forms"] == 20 and result["emails"] == 2 and result["telegram"] == 2
    assert result["lost"] == 0, result["lost_by_kind"]
    assert result["forms_refused"] == 0 and result["telegram_refused"] == 0
    assert result["popups"] == result["calls"] and result["popup_p99_ms"] is not None  # every call popped up
    assert result["emails_on_screen"] >= 1 and result["email_to_screen_p99_ms"] is not None  # mail reached a screen
    assert result["form_p99_ms"] is not None and result["telegram_answers"] >= 1  # the bot answered the clients
    assert result["rss_mb"] > 0
