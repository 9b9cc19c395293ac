"""The project stands alone: a copy of this repository, with nothing beside it, runs the demo with calls popping up.

Everything the hub, its demo, its tests and its benchmarks read lives in the repository (the demo's AMI traces
as package data in connectors/asterisk/ami_traces, the production calendar in routing/production_calendar,
the test material under tests/fixtures with its MANIFEST.tsv). These tests keep it so.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import venv
from pathlib import Path

import aiohttp
import pytest

ROOT = Path(__file__).resolve().parents[2]
SIBLING = "../" + "shared"  # spelled in two parts so that this file does not name it


def tracked_files() -> list[str]:
    """The files a clone would have: tracked ones plus new ones not ignored (the working tree's versions)."""
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                         check=True).stdout
    return [name for name in out.decode().split("\0") if name and (ROOT / name).is_file()]


def readme_first_line() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Quick start", 1)[1].split("```", 2)[1]
    return [line for line in block.splitlines() if line.strip()][0]


def test_no_tracked_file_names_the_sibling_material_folder():
    offenders = []
    for name in tracked_files():
        try:
            text = (ROOT / name).read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if SIBLING in text:
            offenders.append(name)
    assert offenders == []


def test_every_fixture_folder_says_where_its_files_come_from_and_under_what_licence():
    for folder in sorted(p for p in (ROOT / "tests" / "fixtures").iterdir() if p.is_dir()):
        manifest = folder / "MANIFEST.tsv"
        assert manifest.is_file(), f"{folder.name} has no MANIFEST.tsv"
        rows = [line.split("\t") for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]
        header, body = rows[0], rows[1:]
        assert header[:2] == ["file", "source_repo"] and "licence" in header, header
        listed = {row[0] for row in body}
        present = {p.name for p in folder.iterdir() if p.name not in ("MANIFEST.tsv", "README.md")}
        assert present <= listed, f"{folder.name}: not in the manifest: {sorted(present - listed)}"
        licence = header.index("licence")
        assert all(len(row) > licence and row[licence].strip() for row in body), folder.name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lone_clone(tmp_path_factory) -> Path:
    """The repository's files alone in an empty folder, with a virtual environment that sees the installed
    libraries (the registries are the only outside network here; the project itself installs into it)."""
    base = tmp_path_factory.mktemp("alone")
    clone = base / "contact-hub"
    for name in tracked_files():
        target = clone / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(base / "venv")
    return clone


async def test_the_readmes_first_line_runs_the_demo_from_a_lone_clone_and_a_call_pops_up(lone_clone):
    line = readme_first_line()
    assert line == "python3 -m pip install -q -e . && python3 main.py run --demo"
    bin_dir = lone_clone.parent / "venv" / "bin"  # its python3 installs into the venv, never into this one
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "PYTHON"))}
    port = free_port()
    env.update({"PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", "HUB_WEB__PORT": str(port),
                "HUB_ASTERISK__DEMO_PAUSE_S": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    log_file = lone_clone.parent / "hub.log"
    with log_file.open("wb") as log_out:  # the hub's log: read for its progress, never a full pipe
        proc = await asyncio.create_subprocess_exec("bash", "-c", line, cwd=lone_clone, env=env,
                                                    stdout=subprocess.PIPE, stderr=log_out, start_new_session=True)
    try:
        async with asyncio.timeout(240):
            first = (await proc.stdout.readline()).decode()
            assert first.startswith("Hub running at"), first + log_file.read_text(errors="replace")[-4000:]
            base = f"http://127.0.0.1:{port}"
            while "demo data ready" not in log_file.read_text(errors="replace"):  # noqa: ASYNC110 - another process
                await asyncio.sleep(0.2)
            login_file = lone_clone / "var" / "first-login.txt"
            password = re.search(r"demo users [^:]*: (\S+)", login_file.read_text(encoding="utf-8")).group(1)
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                page = await (await http.get(base + "/login")).text()
                csrf = re.search(r'name="_csrf" value="([^"]+)"', page).group(1)
                resp = await http.post(base + "/login", allow_redirects=False,
                                       data={"login": "anna", "password": password, "_csrf": csrf})
                assert resp.status == 303
                ws = await http.ws_connect(base.replace("http", "ws") + "/ws", headers={"Origin": base})
                kinds = set()
                while "popup" not in kinds:  # anna is extension 101: the replayed real calls ring her phone
                    frame = await ws.receive_json()
                    kinds.add(frame["type"])
                await ws.close()
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, 15)
        try:
            async with asyncio.timeout(15):
                await proc.wait()
        except TimeoutError:
            os.killpg(proc.pid, 9)
            await proc.wait()
    assert not (lone_clone.parent / "shared").exists()  # nothing beside the copy was needed
