"""/admin/backups: when the last good backup was made, the backups kept in ``[backup] dir``, and a warning
when there has been none for ``[backup] warn_after_hours`` (48 h)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from crm_core.models import Role
from ops.status import last_backup
from web.features import NavItem
from web.guard import allow
from web.i18n import add_texts
from web.keys import HUB

NAV = [NavItem("/admin/backups", "ops.nav", roles=frozenset({Role.ADMIN}), order=90, group="settings")]

add_texts({
    "ops.nav": ("Резервные копии", "Backups"),
    "ops.title": ("Резервные копии", "Backups"),
    "ops.last_good": ("Последняя удачная копия", "Last good backup"),
    "ops.none": ("Резервных копий ещё не было. Данные агентства не защищены от потери диска.",
                 "No backup has been made yet. The agency's data is not protected against losing the disk."),
    "ops.stale": ("Последней удачной копии больше {hours} ч. Проверьте таймер резервного копирования "
                  "(systemctl status contact-hub-backup.timer).",
                  "The last good backup is over {hours} h old. Check the backup timer "
                  "(systemctl status contact-hub-backup.timer)."),
    "ops.folder": ("Папка копий", "Backup folder"),
    "ops.folder_unset": ("не задана (папка копий в настройках, раздел резервного копирования)",
                         "not set ([backup] dir)"),
    "ops.kept": ("Хранится копий", "Backups kept"),
    "ops.name": ("Копия", "Backup"),
    "ops.when": ("Когда", "When"),
    "ops.size": ("Размер, МБ", "Size, MB"),
    "ops.how": ("Копия делается на сервере командой резервного копирования (каждую ночь — по таймеру), "
                "восстановление — в пустую базу. Команды:",
                "A backup is made by `hub backup` on the server (nightly by the timer); restore with "
                "`hub restore` into an empty database. The commands:"),
})


def _kept(folder: Path | None) -> list[dict[str, Any]]:
    from ops.backup import backups_in

    rows = []
    for path in reversed(backups_in(folder) if folder else []):
        try:
            when = datetime.strptime(path.name.removeprefix("hub-backup-"), "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
        except ValueError:
            continue
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        rows.append({"name": path.name, "when": when, "mb": f"{size / (1 << 20):.1f}"})
    return rows


@allow(Role.ADMIN)
async def backups_page(request: web.Request) -> web.StreamResponse:
    from web.render import render

    hub = request.app[HUB]
    b = hub.settings.backup
    state = await asyncio.to_thread(last_backup, hub.var_dir, b.dir, b.warn_after_hours)
    kept = await asyncio.to_thread(_kept, b.dir)
    when = datetime.fromisoformat(str(state["last_good"])) if state["last_good"] else None
    return render(request, "ops_backups.html", {"state": state, "when": when, "kept": kept, "folder": b.dir,
                                                "hours": int(b.warn_after_hours)})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/admin/backups", backups_page)
