"""A failed start names its real cause, each with its own exit status (main.py's EXIT_* values)."""

import socket

import pytest

from main import EXIT_CANNOT_LISTEN, EXIT_CONFIG, EXIT_DATABASE, EXIT_MISSING_FILE
from tests.app.test_settings_and_cli import run_hub


def sqlite_env(tmp_path, **more):
    return {"HUB_STORAGE__VAR_DIR": str(tmp_path / "var"),
            "HUB_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}", **more}


def test_a_web_port_in_use_is_named_as_such(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_hub("run", env=sqlite_env(tmp_path, HUB_WEB__PORT=str(port)), cwd=tmp_path)
    assert result.returncode == EXIT_CANNOT_LISTEN
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_demo_trace_is_named_not_blamed_on_the_port(tmp_path):
    cfg = tmp_path / "hub.toml"
    cfg.write_text('[asterisk]\ndemo_traces = ["answered.txt", "no-such-trace.txt"]\n', encoding="utf-8")
    result = run_hub("--config", str(cfg), "run", "--demo", env=sqlite_env(tmp_path, HUB_WEB__PORT="0"),
                     cwd=tmp_path)
    assert result.returncode == EXIT_MISSING_FILE
    assert "missing" in result.stderr and "no-such-trace.txt" in result.stderr
    assert "cannot listen" not in result.stderr and "Traceback" not in result.stderr


def test_a_database_that_stays_unreachable_ends_the_start_with_its_reason(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"HUB_WEB__PORT": "0", "HUB_STORAGE__VAR_DIR": str(tmp_path / "var"),
           "HUB_DATABASE__URL": f"postgresql+asyncpg://postgres@127.0.0.1:{port}/hub",
           "HUB_DATABASE__CONNECT_RETRIES": "1", "HUB_DATABASE__RETRY_DELAY_S": "0.1"}
    result = run_hub("run", env=env, cwd=tmp_path)
    assert result.returncode == EXIT_DATABASE
    assert "database unreachable after 2 attempts" in result.stderr and "HUB_DATABASE__URL" in result.stderr
    assert "postgres@" not in result.stderr.split("hub: ")[-1]  # the address with its user stays out of the reason


@pytest.mark.parametrize("env", [{"HUB_WEB__PORT": "eighty"}, {"HUB_DATABASE__URL": "mysql://x"}])
def test_a_bad_setting_is_named_with_its_key(tmp_path, env):
    result = run_hub("run", env={**sqlite_env(tmp_path), **env}, cwd=tmp_path)
    key = next(iter(env)).removeprefix("HUB_").lower().replace("__", ".")
    assert result.returncode == EXIT_CONFIG and key in result.stderr
