"""Start-up as an operator meets it: settings errors, secrets, CLI commands, clean stop, database down."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from config import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def run_hub(*args, env=None, input=None, timeout=60, cwd=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True,
                          env=full_env, input=input, timeout=timeout, cwd=cwd)


def test_defaults_give_sqlite_under_var_and_web_on_8080():
    s = load_settings(environ={})
    assert s.database.url.startswith("sqlite+aiosqlite:///./var/")
    assert (s.web.host, s.web.port) == ("127.0.0.1", 8080)


def test_environment_overrides_the_file(tmp_path):
    cfg = tmp_path / "hub.toml"
    cfg.write_text('[web]\nport = 9000\nhost = "0.0.0.0"\n', encoding="utf-8")
    s = load_settings(cfg, environ={"HUB_WEB__PORT": "9100"})
    assert (s.web.host, s.web.port) == ("0.0.0.0", 9100)


@pytest.mark.parametrize(("toml", "named"), [
    ('[web]\nport = "eighty"\n', "web.port"),
    ('[web]\nprot = 80\n', "web.prot: unknown key"),
    ('[database]\nurl = "mysql://x"\n', "database.url"),
    ("[web\n", "not valid TOML"),
])
def test_a_bad_setting_stops_start_up_naming_the_key(tmp_path, toml, named):
    cfg = tmp_path / "hub.toml"
    cfg.write_text(toml, encoding="utf-8")
    with pytest.raises(SettingsError, match=named.replace("[", r"\[")):
        load_settings(cfg, environ={})
    result = run_hub("--config", str(cfg), "migrate", cwd=tmp_path)
    assert result.returncode == 2
    assert named.split(":")[0] in result.stderr and result.stderr.count("\n") == 1


def test_a_wrong_secret_is_never_echoed(tmp_path):
    result = run_hub("migrate", env={"HUB_ASTERISK__SECRET": "[1,2]", "HUB_TELEGRAM__TOKEN": "s3cr3t-token",
                                     "HUB_ASTERISK__PORT": "99999"}, cwd=tmp_path)
    assert result.returncode == 2 and "asterisk.port" in result.stderr
    assert "s3cr3t-token" not in result.stderr + result.stdout


def test_secrets_are_masked_in_the_settings_object():
    s = load_settings(environ={"HUB_DATABASE__PASSWORD": "pg-pass", "HUB_TELEGRAM__TOKEN": "123:abc"})
    text = repr(s) + str(s.model_dump())
    assert "pg-pass" not in text and "123:abc" not in text
    assert s.database.password.get_secret_value() == "pg-pass"


def test_create_user_reads_the_password_from_stdin_and_it_logs_in(tmp_path):
    env = {"HUB_STORAGE__VAR_DIR": str(tmp_path / "var"),
           "HUB_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}"}
    result = run_hub("create-user", "petr", "--name", "Пётр", "--role", "dept_head", "--department", "Продажи",
                     "--password-stdin", env=env, input="very-secret-pw\n", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "very-secret-pw" not in result.stdout + result.stderr
    again = run_hub("create-user", "petr", "--password-stdin", env=env, input="very-secret-pw\n", cwd=tmp_path)
    assert again.returncode == 1 and "taken" in again.stderr
    bad_role = run_hub("create-user", "ivan", "--role", "king", "--password-stdin", env=env,
                       input="very-secret-pw\n", cwd=tmp_path)
    assert bad_role.returncode == 1 and "unknown role" in bad_role.stderr


def test_there_is_no_way_to_pass_a_password_on_the_command_line(tmp_path):
    result = run_hub("create-user", "x", "--password", "secret123", cwd=tmp_path)
    assert result.returncode == 2 and "unrecognized arguments" in result.stderr


def test_the_hub_starts_prints_where_to_log_in_and_stops_on_sigterm_within_5s(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update({"HUB_WEB__PORT": "0", "HUB_STORAGE__VAR_DIR": str(tmp_path / "var"),
                "HUB_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}"})
    proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "run"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        first = proc.stdout.readline()
        assert first.startswith("Hub running at http://127.0.0.1:")
        url = first.split(" at ")[1].strip()
        assert "first-login.txt" in proc.stdout.readline()
        deadline = time.monotonic() + 20
        login_file = tmp_path / "var" / "first-login.txt"
        while not login_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert oct(login_file.stat().st_mode & 0o777) == "0o600"
        password = login_file.read_text(encoding="utf-8").split("password: ")[1].strip()
        assert asyncio.run(_can_log_in(url, "admin", password))
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        assert time.monotonic() - started < 5
        assert proc.returncode == 0
        stderr = proc.stderr.read()
        assert password not in stderr and "stopped" in stderr
    finally:
        if proc.poll() is None:
            proc.kill()


async def _can_log_in(url: str, login: str, password: str) -> bool:
    import re

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        page = await (await http.get(url + "login")).text()
        csrf = re.search(r'name="_csrf" value="([^"]+)"', page).group(1)
        resp = await http.post(url + "login", data={"login": login, "password": password, "_csrf": csrf},
                               allow_redirects=False)
        return resp.status == 303


async def test_database_down_at_start_is_reported_and_retried(tmp_path, unused_tcp_port):
    from aiohttp.test_utils import TestServer

    from bootstrap import build_hub
    from tests.web.conftest import settings_for
    from web.app import create_app

    settings = settings_for(f"postgresql+asyncpg://postgres@127.0.0.1:{unused_tcp_port}/nope", tmp_path)
    settings = settings.model_copy(update={"database": settings.database.model_copy(
        update={"connect_retries": 100, "retry_delay_s": 0.2})})
    hub = build_hub(settings)
    server = TestServer(create_app(hub), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(50):
                resp = await http.get(server.make_url("/healthz"))
                body = await resp.json()
                if body["database"]["state"] == "down":
                    break
                await asyncio.sleep(0.1)
            assert resp.status == 503 and body["status"] == "degraded"
            assert "Connect" in body["database"]["error"] or "refused" in body["database"]["error"].lower()
            page = await http.get(server.make_url("/login"))
            assert page.status == 503 and page.headers["Retry-After"] == "5"
        # still retrying, not crashed (the pages' loaders of queue names and word lists wait for the start too)
        assert "hub-start" in hub.tasks.names and set(hub.tasks.names) <= {"hub-start", "queue-names",
                                                                              "speech-word-lists"}
    finally:
        await server.close()
    assert hub.tasks.names == []  # the stop awaited the retry loop


def test_migrate_command_on_a_fresh_file(tmp_path):
    env = {"HUB_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'x' / 'hub.sqlite3'}"}
    result = run_hub("migrate", env=env, cwd=tmp_path)
    assert result.returncode == 0 and "up to date" in result.stdout
    assert (tmp_path / "x" / "hub.sqlite3").exists()


def test_migrate_with_database_down_says_so(tmp_path, unused_tcp_port):
    result = run_hub("migrate", env={"HUB_DATABASE__URL": f"postgresql+asyncpg://u@127.0.0.1:{unused_tcp_port}/d",
                                     "HUB_DATABASE__PASSWORD": "hunter2-secret"}, cwd=tmp_path)
    assert result.returncode == 1 and "database unreachable" in result.stderr
    assert "hunter2-secret" not in result.stderr


def test_the_speech_commands_say_what_they_need_when_it_is_missing(capsys):
    from main import cli

    assert cli(["speech-eval"]) == 2
    assert cli(["speech-worker"]) == 2
    err = capsys.readouterr().err
    assert "--model and --manifest are needed" in err and "set [speech] model_path" in err


def test_the_agency_section_is_read_from_the_environment(monkeypatch):
    from config.loader import load_settings

    monkeypatch.setenv("HUB_AGENCY__RETRY_AFTER_MINUTES", "15")
    assert load_settings(None).agency.retry_after_minutes == 15
