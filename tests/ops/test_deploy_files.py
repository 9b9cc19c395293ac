"""The shipped service files: systemd accepts the units without a warning, the container files set valid
settings, the example settings file loads."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

from config import load_settings
from tests.conftest import missing_part

DEPLOY = Path(__file__).parents[2] / "deploy"
UNITS = ("contact-hub.service", "contact-hub-backup.service", "contact-hub-backup.timer")


def test_systemd_verifies_the_units_without_a_warning(tmp_path):
    analyze = shutil.which("systemd-analyze")
    hub = shutil.which("hub")
    if analyze is None or hub is None:
        missing_part("systemd-analyze (Debian: systemd) and the installed `hub` command")
    for name in UNITS:  # where the hub is installed here instead of /opt/contact-hub/venv
        text = (DEPLOY / name).read_text(encoding="utf-8").replace("/opt/contact-hub/venv/bin/hub", hub)
        (tmp_path / name).write_text(text, encoding="utf-8")
    result = subprocess.run([analyze, "verify", *(str(tmp_path / n) for n in UNITS)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr
    unit = (DEPLOY / "contact-hub.service").read_text(encoding="utf-8")
    for line in ("Restart=on-failure", "Type=notify", "WatchdogSec=30", "User=contact-hub", "ProtectSystem=strict",
                 "PrivateTmp=yes"):
        assert line in unit.splitlines()
    assert "/var/lib/contact-hub" in next(x for x in unit.splitlines() if x.startswith("ReadWritePaths="))


def test_a_broken_unit_is_caught_by_the_same_check(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        missing_part("systemd-analyze (Debian: systemd)")
    text = (DEPLOY / "contact-hub.service").read_text(encoding="utf-8").replace("ProtectSystem=strict",
                                                                                 "ProtectSystem=strictly")
    (tmp_path / "contact-hub.service").write_text(text.replace("/opt/contact-hub/venv/bin/hub", "/bin/true"))
    result = subprocess.run([analyze, "verify", str(tmp_path / "contact-hub.service")], capture_output=True,
                            text=True, timeout=60)
    assert "protect system" in result.stderr.lower()


def _expand(value: str) -> str:
    """Compose's ${NAME:-default} and ${NAME:?message}, as with nothing set but the password."""
    return re.sub(r"\$\{([A-Z_]+)(?::-([^}]*)|:\?[^}]*)?\}",
                  lambda m: "secret-from-dotenv" if m.group(1) == "HUB_DATABASE__PASSWORD" else (m.group(2) or ""),
                  value)


def test_the_container_files_give_valid_settings():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    env = {k: _expand(str(v)) for k, v in compose["services"]["hub"]["environment"].items()}
    settings = load_settings(environ=env)
    assert settings.database.url.startswith("postgresql+asyncpg://hub@db")
    assert settings.web.secure_cookies and settings.web.trusted_proxies
    assert compose["services"]["hub"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert compose["services"]["db"]["environment"]["POSTGRES_DB"] == "hub"
    docker = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    block = docker.split("ENV ", 1)[1].split("\nEXPOSE", 1)[0]
    docker_env = dict(pair.split("=", 1) for pair in re.findall(r"(HUB_[A-Z_]+=\S+)", block))
    docker_settings = load_settings(environ=docker_env)
    assert docker_settings.web.port == 8080 and docker_settings.log.format == "json"
    assert 'CMD ["hub", "run"]' in docker and "postgresql-client" in docker


def test_the_example_settings_file_loads():
    settings = load_settings(DEPLOY / "hub.toml", environ={})
    assert settings.web.trusted_proxies == ("127.0.0.1/32",) and settings.web.secure_cookies
    assert str(settings.backup.dir) == "/var/backups/contact-hub"
