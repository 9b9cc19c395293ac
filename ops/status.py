"""The last good backup, as /healthz and the admin's page show it (a warning after ``warn_after_hours``).

``hub backup`` writes ``<var_dir>/backup-state.json`` when a backup is complete; the newest complete backup
in ``[backup] dir`` counts too (a backup made on another machine into a shared folder).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

STATE_FILE = "backup-state.json"


def record_backup(var_dir: Path, folder: Path, size: int, seconds: float) -> None:
    var_dir.mkdir(parents=True, exist_ok=True)
    state = {"last_good": datetime.now(UTC).isoformat(timespec="seconds"), "path": str(folder), "bytes": size,
             "seconds": round(seconds, 1)}
    partial = var_dir / (STATE_FILE + ".partial")
    partial.write_text(json.dumps(state), encoding="utf-8")
    os.replace(partial, var_dir / STATE_FILE)


def _from_state(var_dir: Path) -> tuple[datetime, str] | None:
    try:
        state = json.loads((var_dir / STATE_FILE).read_text(encoding="utf-8"))
        return datetime.fromisoformat(state["last_good"]), str(state.get("path", ""))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _from_folder(folder: Path | None) -> tuple[datetime, str] | None:
    if folder is None or not folder.is_dir():
        return None
    names = sorted(p.name for p in folder.glob("hub-backup-*") if (p / "manifest.json").is_file())
    if not names:
        return None
    try:
        when = datetime.strptime(names[-1].removeprefix("hub-backup-"), "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    return when, str(folder / names[-1])


def last_backup(var_dir: Path, backup_dir: Path | None, warn_after_hours: float,
                now: datetime | None = None) -> dict[str, Any]:
    """``{"last_good": ISO time or None, "age_hours", "warning": bool, "path"}``."""
    now = now or datetime.now(UTC)
    found = [f for f in (_from_state(var_dir), _from_folder(backup_dir)) if f is not None]
    if not found:
        return {"last_good": None, "age_hours": None, "warning": True, "path": None}
    when, path = max(found)
    age = (now - when).total_seconds() / 3600
    return {"last_good": when.isoformat(timespec="seconds"), "age_hours": round(age, 1),
            "warning": age > warn_after_hours, "path": path}
