"""`hub backup` and `hub restore` round-trip a hub in use, on SQLite and PostgreSQL: every table's row count
and every file's checksum come back; a damaged backup or a non-empty target restores nothing."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest

from config.settings import Settings
from ops.backup import make_backup, plan_of, prune
from ops.dbdump import Interrupted
from ops.restore import restore
from tests.conftest import run_sync
from tests.ops.conftest import file_sums, hub_env, populate, table_counts

SKIP_STATE = ("backup-state.json",)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_populated_hub_round_trips(backend, tmp_path, new_database, demo_templates, hub_cli):
    src_url = new_database(backend, "src")
    var, rec = tmp_path / "src" / "var", tmp_path / "src" / "rec"
    var.mkdir(parents=True)
    run_sync(populate(src_url, var, rec, demo_templates))
    cfg = tmp_path / "hub.toml"
    cfg.write_text('[backup]\nkeep = 3\n', encoding="utf-8")
    before = run_sync(table_counts(src_url))
    assert before["clients"] >= 40 and before["inquiries"] >= 20  # the demo agency is in

    status, out, err = hub_cli(hub_env(src_url, var, rec), "--config", str(cfg), "backup", str(tmp_path / "backups"))
    assert status == 0 and "backup complete" in out, err
    (folder,) = (tmp_path / "backups").iterdir()
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["backend"] == ("sqlite" if backend == "sqlite" else "postgresql")
    assert manifest["schema_revision"] and manifest["settings"]["file"] == "settings.toml"
    assert manifest["database"]["tables"]["clients"] == before["clients"]
    assert {f["area"] for f in manifest["files"]} == {"var", "speech"}

    dst_url = new_database(backend, "dst")
    var2, rec2 = tmp_path / "dst" / "var", tmp_path / "dst" / "rec"
    status, out, err = hub_cli(hub_env(dst_url, var2, rec2), "restore", str(folder))
    assert status == 0 and "every checksum verified" in out, err

    assert run_sync(table_counts(dst_url)) == before  # every table, row for row
    assert file_sums(var2, SKIP_STATE) == file_sums(var, SKIP_STATE + ("hub.sqlite3",))
    assert file_sums(rec2) == file_sums(rec)
    assert (var / "backup-state.json").is_file()  # the source hub now knows its last good backup

    status, _, err = hub_cli(hub_env(dst_url, var2, rec2), "restore", str(folder))
    assert status == 1 and "not empty" in err  # never over a hub in use


async def test_a_backup_while_the_hub_runs_and_writes(tmp_path, new_database, demo_templates):
    """SQLite, the hub running (it holds the single-instance lock) and a writer adding clients meanwhile."""
    import asyncio
    import subprocess
    import sys

    from sqlalchemy import text

    from config.settings import DatabaseSettings
    from crm_core.db import create_engine

    url = new_database("sqlite", "live")
    var, rec = tmp_path / "live" / "var", tmp_path / "live" / "rec"
    var.mkdir(parents=True)
    await populate(url, var, rec, demo_templates)
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("HUB_")}
    env.update(hub_env(url, var, rec, HUB_WEB__PORT="0"))
    args = [sys.executable, str(Path(__file__).parents[2] / "main.py"), "run"]
    hub = subprocess.Popen(args, env=env, cwd=tmp_path, stdout=subprocess.PIPE,  # noqa: ASYNC220 - beside the test
                           stderr=subprocess.PIPE, text=True)
    try:
        assert "Hub running" in hub.stdout.readline()
        engine = create_engine(DatabaseSettings(url=url))
        stop = asyncio.Event()

        async def writer() -> int:
            n = 0
            while not stop.is_set():
                async with engine.begin() as conn:
                    await conn.execute(text("INSERT INTO clients (kind, name, created_at) "
                                            "VALUES ('person', :n, CURRENT_TIMESTAMP)"), {"n": f"live {n}"})
                n += 1
                await asyncio.sleep(0.002)
            return n

        writing = asyncio.create_task(writer())
        settings = Settings.model_validate({"database": {"url": url}, "storage": {"var_dir": str(var)},
                                            "speech": {"recordings_dir": str(rec)}})
        folder = await make_backup(plan_of(settings, None, tmp_path / "b"), tmp_path / "b")
        stop.set()
        written = await writing
        await engine.dispose()
    finally:
        hub.terminate()
        hub.wait(10)
    assert written > 0
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    url2 = new_database("sqlite", "restored")
    settings2 = Settings.model_validate({"database": {"url": url2}, "storage": {"var_dir": str(tmp_path / "v2")},
                                         "speech": {"recordings_dir": str(tmp_path / "r2")}})
    await restore(plan_of(settings2, None), folder)
    counts = await table_counts(url2)
    assert counts == manifest["database"]["tables"]  # one consistent moment of the live database
    assert counts["clients"] >= 48


async def test_an_interrupted_backup_leaves_nothing(tmp_path, new_database, demo_templates, monkeypatch):
    url = new_database("sqlite", "src")
    var, rec = tmp_path / "var", tmp_path / "rec"
    var.mkdir()
    await populate(url, var, rec, demo_templates)
    settings = Settings.model_validate({"database": {"url": url}, "storage": {"var_dir": str(var)},
                                        "speech": {"recordings_dir": str(rec)}})
    stop = threading.Event()
    import ops.backup

    real = ops.backup.copy_with_sum

    def copy_then_stop(*args, **kwargs):  # Ctrl+C arrives while the files are copied
        stop.set()
        return real(*args, **kwargs)

    monkeypatch.setattr(ops.backup, "copy_with_sum", copy_then_stop)
    with pytest.raises(Interrupted):
        await make_backup(plan_of(settings, None, tmp_path / "b"), tmp_path / "b", stop=stop)
    assert list((tmp_path / "b").iterdir()) == []  # no backup, no .partial
    assert not (var / "backup-state.json").exists()  # and no "last good backup" claimed


async def test_a_damaged_backup_restores_nothing_and_old_ones_are_pruned(tmp_path, new_database, demo_templates,
                                                                                hub_cli):
    url = new_database("sqlite", "src")
    var, rec = tmp_path / "var", tmp_path / "rec"
    var.mkdir()
    await populate(url, var, rec, demo_templates)
    settings = Settings.model_validate({"database": {"url": url}, "storage": {"var_dir": str(var)},
                                        "speech": {"recordings_dir": str(rec)}})
    folders = [await make_backup(plan_of(settings, None, tmp_path / "b"), tmp_path / "b", keep=2) for _ in range(3)]
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == [folders[1].name, folders[2].name]
    assert prune(tmp_path / "b", 1) == [folders[1]]

    damaged = next((folders[2] / "files" / "speech").rglob("*.wav"))
    damaged.write_bytes(damaged.read_bytes()[:-1] + b"X")
    url2 = new_database("sqlite", "dst")
    status, _, err = await asyncio.to_thread(hub_cli, hub_env(url2, tmp_path / "v2", tmp_path / "r2"), "restore",
                                             str(folders[2]))
    assert status == 1 and "checksum differs" in err and damaged.name in err
    db_file = Path(url2.removeprefix("sqlite+aiosqlite:///"))
    assert not db_file.exists() and not (tmp_path / "r2").exists()  # noqa: ASYNC240 - nothing was restored
