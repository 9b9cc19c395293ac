"""Debian's nginx with the shipped site file (ports and paths templated) on loopback, TLS with a self-signed
certificate, in front of a running hub: login, Secure cookies, a pop-up through the WebSocket on /ws, and the
client address the hub sees (X-Forwarded-For believed from the trusted proxy only, never the client's own)."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import ipaddress
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from connectors.asterisk.fake_pbx import FakePbx
from tests.conftest import missing_part

ROOT = Path(__file__).parents[2]
SITE = ROOT / "deploy" / "nginx-contact-hub.conf"
PASSWORD = "anna-password-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    crt, pem = folder / "hub.crt", folder / "hub.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    return crt, pem


def _site(tmp: Path, hub_port: int, https_port: int, http_port: int, crt: Path, key: Path) -> Path:
    """The shipped file with this machine's ports and paths; each replaced line must be there (once)."""
    text = SITE.read_text(encoding="utf-8")
    for old, new in [
        ("server 127.0.0.1:8080;", f"server 127.0.0.1:{hub_port};"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"), ("listen [::]:80;", ""),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"), ("listen [::]:443 ssl http2;", ""),
        ("/etc/letsencrypt/live/hub.example.ru/fullchain.pem", str(crt)),
        ("/etc/letsencrypt/live/hub.example.ru/privkey.pem", str(key)),
        ("/var/log/nginx/contact-hub.access.log", str(tmp / "access.log")),
        ("/var/log/nginx/contact-hub.error.log", str(tmp / "site-error.log")),
        ("root /var/www/html;", f"root {tmp};"),
    ]:
        assert old in text, f"the shipped nginx file lost {old!r}"
        text = text.replace(old, new)
    site = tmp / "site.conf"
    site.write_text(text, encoding="utf-8")
    main = tmp / "nginx.conf"
    temps = "\n".join(f"  {kind}_temp_path {tmp / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                                        "scgi"))
    user = "user root;\n" if os.geteuid() == 0 else ""
    main.write_text(f"{user}worker_processes 1;\npid {tmp / 'nginx.pid'};\nerror_log {tmp / 'error.log'} warn;\n"
                    f"daemon off;\nevents {{ worker_connections 128; }}\nhttp {{\n{temps}\n  access_log off;\n"
                    f"  include {site};\n}}\n", encoding="utf-8")
    return main


async def _line(stream, pattern: str, seconds: float) -> str:  # noqa: ANN001
    async with asyncio.timeout(seconds):
        while True:
            line = await asyncio.to_thread(stream.readline)
            if not line:
                raise AssertionError(f"the hub ended before printing {pattern!r}")
            if pattern in line:
                return line


@pytest.fixture
def nginx() -> str:
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if path is None:
        missing_part("Debian's nginx (scripts/install-test-parts.sh installs it)")
    return path


async def test_the_hub_behind_the_shipped_nginx_site(tmp_path, nginx, hub_cli, monkeypatch):
    hub_port, https_port, http_port = _free_port(), _free_port(), _free_port()
    crt, key = _self_signed(tmp_path)
    conf = _site(tmp_path, hub_port, https_port, http_port, crt, key)
    nginx_args = [nginx, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(conf)]
    checked = subprocess.run([*nginx_args, "-t"], capture_output=True, text=True, timeout=30)  # noqa: ASYNC221
    assert checked.returncode == 0, checked.stderr

    pbx = FakePbx("answered.txt", secret="ami-secret", speed=20.0, autoplay=False)
    await pbx.start()
    public = f"https://127.0.0.1:{https_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update({"HUB_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'var' / 'hub.sqlite3'}",
                "HUB_STORAGE__VAR_DIR": str(tmp_path / "var"), "HUB_WEB__PORT": str(hub_port),
                "HUB_WEB__PUBLIC_URL": public, "HUB_WEB__SECURE_COOKIES": "true",
                "HUB_WEB__TRUSTED_PROXIES": '["127.0.0.1"]', "HUB_ASTERISK__ENABLED": "true",
                "HUB_ASTERISK__PORT": str(pbx.port), "HUB_ASTERISK__SECRET": "ami-secret"})
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    from argon2 import PasswordHasher  # a cheap hash (test speed); the hub verifies with the hash's own cost

    monkeypatch.setattr("crm_core.users._hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    hub_env = {k: v for k, v in env.items() if k.startswith("HUB_")}
    status, _, err = await asyncio.to_thread(hub_cli, hub_env, "create-user", "anna", "--extension", "101",
                                             "--password-stdin")
    assert status == 0, err
    log_file = (tmp_path / "hub.log").open("w")
    hub = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "run"], env=env, cwd=tmp_path,  # noqa: ASYNC220
                           stdout=subprocess.PIPE, stderr=log_file, text=True)
    proxy = subprocess.Popen(nginx_args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: ASYNC220
    try:
        await _line(hub.stdout, "Hub running", 60)
        tls = ssl.create_default_context(cafile=str(crt))
        # the browser is at 127.0.0.2: nginx (127.0.0.1, trusted) forwards it; the hub must see 127.0.0.2
        connector = aiohttp.TCPConnector(ssl=tls, local_addr=("127.0.0.2", 0))
        async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            for _ in range(300):  # nginx up, the hub's database ready (503 until then)
                try:
                    page = await http.get(f"{public}/login")
                    if page.status == 200:
                        break
                except aiohttp.ClientConnectorError:
                    pass
                await asyncio.sleep(0.05)
            assert page.status == 200
            csrf = re.search(r'name="_csrf" value="([^"]+)"', await page.text()).group(1)
            wrong = await http.post(f"{public}/login", data={"login": "anna", "password": "wrong-password",
                                                             "_csrf": csrf},
                                    headers={"X-Forwarded-For": "198.51.100.7"}, allow_redirects=False)
            assert wrong.status == 401
            right = await http.post(f"{public}/login", data={"login": "anna", "password": PASSWORD, "_csrf": csrf},
                                    allow_redirects=False)
            assert right.status == 303 and right.headers["Location"] == "/inbox"
            cookies = right.headers.getall("Set-Cookie")
            assert cookies and all("Secure" in c for c in cookies), cookies
            assert "Strict-Transport-Security" in right.headers

            async with http.ws_connect(f"wss://127.0.0.1:{https_port}/ws", origin=public) as ws:
                assert (await ws.receive_json(timeout=10))["type"] == "hello"
                pbx.play()  # answered.txt: a call rings extension 101
                async with asyncio.timeout(20):
                    while (frame := await ws.receive_json())["type"] != "popup":
                        pass
            assert frame["type"] == "popup"
        async with aiohttp.ClientSession() as plain:  # port 80 sends the browser to HTTPS
            redirect = await plain.get(f"http://127.0.0.1:{http_port}/login", allow_redirects=False)
            assert redirect.status == 301 and redirect.headers["Location"].startswith("https://")
    finally:
        proxy.terminate()
        hub.terminate()
        for proc in (proxy, hub):
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        log_file.close()
        await pbx.stop()
    log = (tmp_path / "hub.log").read_text(encoding="utf-8")
    assert "login failed ip=127.0.0.2" in log  # the real client, through the trusted proxy
    assert "198.51.100.7" not in log          # the address the client claimed is not believed
    assert re.search(r"login user=\d+ ip=127\.0\.0\.2", log)
