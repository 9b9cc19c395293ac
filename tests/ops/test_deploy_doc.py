"""docs/deploy.md: every command in it is one the suite checks. The hub's commands parse; every shipped file it
installs exists; the folders, user, settings and secrets paths agree with the unit and the wrapper; the
Debian packages it installs exist; a command of an unchecked kind fails this test until it gets a check."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from main import parse_args
from tests.conftest import missing_part

ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs" / "deploy.md"
SRC = "/opt/contact-hub/src/"
CHECKED_BY_PATHS = {"useradd", "usermod", "install", "ln", "rm", "cat", "sed", "ufw", "certbot", "nginx", "python3",
                    "echo", "sudo", "/opt/contact-hub/venv/bin/pip"}


def commands() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def test_the_doc_has_the_whole_walk():
    text = DOC.read_text(encoding="utf-8")
    for heading in ("Packages", "system user", "The service", "HTTPS with nginx", "Firewall", "First login",
                    "Backups", "Upgrades", "Settings and secrets"):
        assert heading in text
    assert len(commands()) > 40


def test_every_hub_command_in_the_doc_parses():
    hub_lines = [c for c in commands() if c.startswith("contact-hub ") or " exec hub hub " in c]
    used = set()
    for line in hub_lines:
        words = shlex.split(line)
        args = words[1:] if words[0] == "contact-hub" else shlex.split(line.split(" exec hub hub ", 1)[1])
        used.add(args[0])
        parse_args(args)  # raises SystemExit on a command or option the hub does not have
    assert used >= {"doctor", "backup", "restore", "upgrade", "create-user"}


def test_every_command_is_of_a_checked_kind_and_its_shipped_files_exist():
    for line in commands():
        first = shlex.split(line)[0]
        assert first in CHECKED_BY_PATHS | {"contact-hub", "apt-get", "systemctl", "journalctl", "docker"}, line
        for shipped in re.findall(re.escape(SRC) + r"(\S+)", line):
            assert (ROOT / shipped).exists(), f"{line}: {shipped} is not shipped"
        if first in ("systemctl", "journalctl"):
            units = [w for w in shlex.split(line) if w.startswith("contact-hub")]
            assert all((ROOT / "deploy" / unit).is_file() for unit in units), line
        if first == "docker":
            assert "-f deploy/compose.yaml" in line and (ROOT / "deploy" / "compose.yaml").is_file()


def test_the_doc_the_unit_and_the_wrapper_agree():
    text = "\n".join(commands())
    unit = (ROOT / "deploy" / "contact-hub.service").read_text(encoding="utf-8")
    wrapper = (ROOT / "deploy" / "contact-hub-cli").read_text(encoding="utf-8")
    made = next(c for c in commands() if c.startswith("install -d -o contact-hub")).split()[-3:]
    writable = next(x for x in unit.splitlines() if x.startswith("ReadWritePaths=")).split("=", 1)[1].split()
    assert sorted(made) == sorted(writable)  # the folders the doc makes are the ones the unit may write
    assert "useradd --system" in text and "User=contact-hub" in unit and "runuser -u contact-hub" in wrapper
    for path in ("/etc/contact-hub/hub.toml", "/etc/contact-hub/secrets.env", "/opt/contact-hub/venv/bin/hub"):
        assert path in unit and path in wrapper
    assert "/etc/contact-hub/hub.toml" in text and "/etc/contact-hub/secrets.env" in text
    assert subprocess.run(["sh", "-n", str(ROOT / "deploy" / "contact-hub-cli")]).returncode == 0


def test_the_debian_packages_the_doc_installs_exist():
    apt_cache = shutil.which("apt-cache")
    if apt_cache is None:
        missing_part("apt-cache (Debian)")
    line = next(c for c in commands() if c.startswith("apt-get install"))
    packages = [w for w in shlex.split(line)[2:] if not w.startswith("-")]
    shown = subprocess.run([apt_cache, "show", "--no-all-versions", "bash", *packages], capture_output=True,
                           text=True, timeout=120)
    found = set(re.findall(r"^Package: (\S+)$", shown.stdout, flags=re.M))
    if "bash" not in found:
        missing_part("Debian's package lists (run apt-get update)")
    assert set(packages) <= found, sorted(set(packages) - found)


@pytest.mark.parametrize("name", ["contact-hub.service", "nginx-contact-hub.conf", "hub.toml", "Dockerfile",
                                  "compose.yaml", "secrets.env.example", "contact-hub-cli"])
def test_the_doc_names_each_shipped_file(name):
    assert f"deploy/{name}" in DOC.read_text(encoding="utf-8")
