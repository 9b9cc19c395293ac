"""A real Dovecot IMAP server on a loopback port, with its own config and a test mailbox."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.conftest import missing_part

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "hub@test", "imap-secret-pw"

CONFIG = """
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Dovecot:
    root: Path
    port: int
    proc: subprocess.Popen | None = None

    def start(self) -> None:
        run = self.root / "run"
        shutil.rmtree(run, ignore_errors=True)  # sockets left by a killed server would stop a new one
        run.mkdir()
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"dovecot exited: {self.proc.stderr.read().decode()[-500:]}") from None
                time.sleep(0.05)
        raise RuntimeError("dovecot did not listen within 10 s")

    def stop(self) -> None:
        """Stop the server and every session it runs (a restart drops the clients' connections)."""
        if self.proc and self.proc.poll() is None:
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                with contextlib.suppress(psutil.NoSuchProcess):
                    child.kill()
            self.proc.kill()  # its sessions are gone already; a graceful stop only waits for them
            self.proc.wait(5)

    def restart(self) -> None:
        self.stop()
        self.start()

    def deliver(self, raw: bytes) -> None:
        """Put a message into the mailbox the way a delivery agent does (Maildir new/)."""
        new = self.root / "mail" / USER / "new"
        new.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns()}.test.{os.getpid()}"
        tmp = self.root / "mail" / USER / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_bytes(raw)
        (tmp / name).rename(new / name)
        for path in (self.root / "mail").rglob("*"):
            shutil.chown(path, "dovecot", "dovecot")

    def renumber(self) -> None:
        """Make the server change UIDVALIDITY (as after a mailbox restore)."""
        self.stop()
        for f in (self.root / "mail" / USER).glob("dovecot-uidlist"):
            f.unlink()
        for f in (self.root / "mail" / USER).glob("dovecot.index*"):
            f.unlink()
        time.sleep(1.1)  # UIDVALIDITY is a timestamp in seconds
        self.start()


@pytest.fixture
def dovecot():
    if not os.path.exists(DOVECOT):
        missing_part("Dovecot is not installed (scripts/install-test-parts.sh installs dovecot-imapd)")
    root = Path(tempfile.mkdtemp(prefix="hub-dovecot-"))
    root.chmod(0o755)
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir()
    shutil.chown(root / "mail", "dovecot", "dovecot")
    port = free_port()
    (root / "dovecot.conf").write_text(CONFIG.format(root=root, port=port), encoding="utf-8")
    (root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n", encoding="utf-8")
    server = Dovecot(root, port)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


TELEGRAM_TOKEN = "123456:TEST-token"


@pytest.fixture
async def botapi():
    from tests.connectors.fake_botapi import FakeBotApi

    api = FakeBotApi(TELEGRAM_TOKEN)
    await api.start()
    yield api
    await api.close()


from tests.web.conftest import hub_sections, running  # noqa: E402, F401 - the running hub for end-to-end tests
